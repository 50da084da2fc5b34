/**
 * The task-arithmetic family in a 16-bit dtype, op by op as mergekit's GTATask runs it under torch
 * on the CPU (merge_methods/generalized_task_arithmetic.py, sparsify.py): every intermediate is a
 * tensor of the recipe's dtype, so each step rounds, and the trims rank the rounded task vectors.
 */
import { halfMath, type HalfDType, type HalfMath } from '../../half/half-math.js';
import { MergeLabError } from '../../errors.js';
import { keptMask, sparsifyKept, type SparsificationKind, type SparsifyArgs } from '../sparsify.js';
import type { ModelValues, PrepareInput } from '../types.js';

export interface GtaHalfConfig {
  readonly id: string;
  readonly sparsification?: SparsificationKind;
  readonly consensus?: 'sum' | 'count';
  readonly normalizeDefault: boolean;
  readonly rescaleDefault: boolean;
}

/** How model `m`'s task vector is trimmed for this tensor (shared with the float32 path). */
export function trimArgs(kind: SparsificationKind, input: PrepareInput, m: ModelValues, stream: number): SparsifyArgs {
  return {
    kind,
    density: num(m.params.density, 1),
    gamma: num(m.params.gamma, 0.01),
    epsilon: num(m.params.epsilon, 0.15),
    shape: input.shape,
    seed: input.seed,
    stream,
    tensorName: input.tensorName,
    model: m.model,
    warn: input.warn,
  };
}

export function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : fallback;
}

export function gtaHalf(c: GtaHalfConfig, input: PrepareInput, dtype: HalfDType): Float32Array {
  const h = halfMath(dtype);
  const base = input.models.find((m) => m.isBase);
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', `${c.id} needs a base_model (tensor ${input.tensorName}).`);
  const others = input.models.filter((m) => !m.isBase);
  if (others.length === 0) return base.values.slice();
  const normalize = Boolean(input.global.normalize ?? c.normalizeDefault);
  const rescale = Boolean(input.global.rescale ?? c.rescaleDefault);
  const lambda = num(input.global.lambda, 1);
  // torch.tensor(weights, dtype=…): each weight rounded to the dtype.
  const weights = others.map((m) => {
    const w = m.params.weight;
    if (typeof w !== 'number') throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${input.tensorName}; ${c.id} needs one per model.`);
    return h.scalar(w);
  });

  const weighted = others.map((m, k) => {
    let delta = h.sub(m.values, base.values);
    if (c.sparsification) delta = sparsifyHalf(h, delta, trimArgs(c.sparsification, input, m, k), rescale);
    return h.mulScalar(delta, weights[k]!);
  });

  let mixed: Float32Array;
  if (c.consensus) {
    const majority = majoritySign(h, weighted, c.consensus);
    const n = majority.length;
    const agreeing = weighted.map((u) => {
      const kept = new Float32Array(n);
      for (let i = 0; i < n; i++) kept[i] = u[i]! * (sign(u[i]!) === majority[i] ? 1 : 0);
      return kept;
    });
    mixed = h.sumOf(agreeing);
    if (normalize) {
      const shares = weights.map((w, k) => {
        const share = new Float32Array(n);
        for (let i = 0; i < n; i++) share[i] = w * (sign(weighted[k]![i]!) === majority[i] ? 1 : 0);
        return share;
      });
      const divisor = h.sumOf(shares);
      for (let i = 0; i < n; i++) if (divisor[i] === 0) divisor[i] = 1;
      mixed = h.div(mixed, divisor);
    }
  } else {
    mixed = h.sumOf(weighted);
    if (normalize) {
      let divisor = h.sumOf(weights.map((w) => Float32Array.of(w)))[0]!;
      // `divisor.abs() < 1e-8` compares against 1e-8 rounded to the dtype (0 in float16).
      if (Math.abs(divisor) < h.scalar(1e-8)) divisor = 1;
      mixed = h.divScalar(mixed, divisor);
    }
  }
  if (lambda !== 1) mixed = h.mulScalar(mixed, h.scalar(lambda));
  return h.add(base.values, mixed);
}

/** torch.sign on a 16-bit tensor: NaN gives 0 there, as do both zeros. */
function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/** get_mask's majority: +1 where the summed mass (or the summed signs) is ≥ 0, else −1. */
function majoritySign(h: HalfMath, weighted: readonly Float32Array[], consensus: 'sum' | 'count'): Int8Array {
  const votes = consensus === 'sum' ? weighted : weighted.map((u) => u.map(sign));
  const total = h.sumOf(votes);
  const out = new Int8Array(total.length);
  for (let i = 0; i < out.length; i++) out[i] = total[i]! >= 0 ? 1 : -1;
  return out;
}

/** sparsify(): the mask from the rounded τ, then rescaled_masked_tensor in the dtype. */
function sparsifyHalf(h: HalfMath, delta: Float32Array, args: SparsifyArgs, rescale: boolean): Float32Array {
  const kept = sparsifyKept(delta, args);
  if (!kept) return delta;
  const mask = keptMask(kept);
  const masked = new Float32Array(delta.length);
  for (let i = 0; i < masked.length; i++) masked[i] = delta[i]! * mask[i]!;
  if (!rescale) return masked;
  // rescaled_masked_tensor: both L1 norms are 16-bit scalars, and so is 1e-7 beside them.
  const before = h.absSum(delta);
  const after = h.absSum(masked);
  const eps = h.scalar(1e-7);
  return before < eps || after < eps ? masked : h.mulScalar(masked, h.scalar(before / after));
}
