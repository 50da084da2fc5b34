/**
 * The task-arithmetic family in a 16-bit dtype, op by op as mergekit's GTATask runs it under torch
 * on the CPU (merge_methods/generalized_task_arithmetic.py, sparsify.py): every intermediate is a
 * tensor of the recipe's dtype, so each step rounds, and the trims rank the rounded task vectors.
 */
import { halfMath, wideAbsSum, type HalfDType, type HalfMath } from '../../half/half-math.js';
import { MergeLabError } from '../../errors.js';
import { bitAt, keptMask, packMask, sparsifyKept, type SparsificationKind, type SparsifyArgs } from '../sparsify.js';
import type { ModelValues, PrepareInput } from '../types.js';
import { numberParam } from '../params.js';

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
    density: numberParam(m.params.density, 1),
    gamma: numberParam(m.params.gamma, 0.01),
    epsilon: numberParam(m.params.epsilon, 0.15),
    shape: input.shape,
    seed: input.seed,
    stream,
    tensorName: input.tensorName,
    model: m.model,
    warn: input.warn,
  };
}

export function gtaHalf(c: GtaHalfConfig, input: PrepareInput, dtype: HalfDType, block = HALF_BLOCK): Float32Array {
  const { n, parts } = gtaHalfParts(c, input, dtype, block);
  const out = new Float32Array(n);
  let at = 0;
  for (const part of parts()) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * gtaHalf as its blocks, in order, each worked out when asked for: a streaming merge writes them
 * as they come and never holds the result whole. The whole-tensor step (the trims) runs first.
 */
export function gtaHalfParts(c: GtaHalfConfig, input: PrepareInput, dtype: HalfDType, block = HALF_BLOCK): { readonly n: number; parts(): Generator<Float32Array> } {
  const h = halfMath(dtype);
  const base = input.models.find((m) => m.isBase);
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', `${c.id} needs a base_model (tensor ${input.tensorName}).`);
  const others = input.models.filter((m) => !m.isBase);
  if (others.length === 0) return { n: base.values.length, *parts() { yield base.values.slice(); } };
  const normalize = Boolean(input.global.normalize ?? c.normalizeDefault);
  const rescale = Boolean(input.global.rescale ?? c.rescaleDefault);
  const lambda = numberParam(input.global.lambda, 1);
  // torch.tensor(weights, dtype=…): each weight rounded to the dtype.
  const weights = others.map((m) => {
    const w = m.params.weight;
    if (typeof w !== 'number') throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${input.tensorName}; ${c.id} needs one per model.`);
    return h.scalar(w);
  });

  // The trims need whole task vectors (a sort, L1 norms); everything after them is elementwise, so
  // it runs in blocks, keeping the temporaries to a block each rather than a tensor each.
  // A model's own array (owned: a streaming merge's fresh read) becomes its τ in place, one
  // collection between models: the (models + 2) × largest-tensor bound (see run-merge.ts).
  const trims = others.map((m, k) => {
    if (!c.sparsification) return undefined;
    const delta = m.owned ? h.subInPlace(m.values as Float32Array, base.values) : h.sub(m.values, base.values);
    const trim = trimHalf(h, delta, trimArgs(c.sparsification, input, m, k), rescale);
    input.collectGarbage?.();
    return trim;
  });
  // Without consensus the divisor is one number: Σ weights (rounded), 1 when |Σ| < 1e-8 as a 16-bit value (0 in float16).
  const sum = h.sumScalars(weights);
  const divisor = Math.abs(sum) < h.scalar(1e-8) ? 1 : sum;
  const n = base.values.length;
  const parts = function* (): Generator<Float32Array> {
    for (let start = 0; start < n; start += block) {
      const end = Math.min(n, start + block);
      // A block's temporaries are a dozen arrays of its size: collected every few blocks, not whenever v8 gets to them.
      if (start > 0 && (start / block) % HALF_COLLECT_EVERY === 0) input.collectGarbage?.();
      const baseBlock = base.values.subarray(start, end);
      const weighted = others.map((m, k) => {
        const trim = trims[k];
        const delta = trim ? trim.kept(start, end) : h.sub(m.values.subarray(start, end), baseBlock);
        return h.mulScalar(delta, weights[k]!);
      });
      let mixed: Float32Array;
      if (c.consensus) {
        const majority = majoritySign(h, weighted, c.consensus);
        const len = majority.length;
        // mask = sign == majority; (weighted * mask) and (weights * mask), each summed over the models.
        const kept = weighted.map(() => new Float32Array(len));
        const shares = weighted.map(() => new Float32Array(len));
        weighted.forEach((u, k) => {
          const w = weights[k]!;
          const into = kept[k]!;
          const share = shares[k]!;
          for (let i = 0; i < len; i++) {
            const agree = sign(u[i]!) === majority[i] ? 1 : 0;
            into[i] = u[i]! * agree;
            share[i] = w * agree;
          }
        });
        mixed = h.sumOf(kept);
        if (normalize) {
          const share = h.sumOf(shares);
          for (let i = 0; i < len; i++) if (share[i] === 0) share[i] = 1;
          mixed = h.div(mixed, share);
        }
      } else {
        mixed = h.sumOf(weighted);
        if (normalize) mixed = h.divScalar(mixed, divisor);
      }
      if (lambda !== 1) mixed = h.mulScalar(mixed, h.scalar(lambda));
      yield h.add(baseBlock, mixed);
    }
  };
  return { n, parts };
}

/** Elements per block of the elementwise part (a few MB of temporaries per model). */
export const HALF_BLOCK = 1 << 18;
const HALF_COLLECT_EVERY = 4;

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

/**
 * sparsify() on the rounded τ: which entries survive (the mask) and, with rescale, the L1 factor,
 * computed in the dtype as rescaled_masked_tensor does. `kept` gives any block of the result.
 */
function trimHalf(h: HalfMath, delta: Float32Array, args: SparsifyArgs, rescale: boolean): { kept(start: number, end: number): Float32Array } {
  const found = sparsifyKept(delta, args);
  if (!found) return { kept: (start, end) => delta.slice(start, end) };
  const mask = keptMask(found);
  let factor: number | undefined;
  // DARE and DELLA on a float16 tensor: torch has no float16 bernoulli on the CPU, so mergekit masks
  // and rescales in float32 and converts the result once.
  const in32 = h.dtype === 'F16' && (args.kind === 'random' || args.kind === 'della_magprune');
  if (rescale) {
    // Both L1 norms are scalars of the working dtype, and so is 1e-7 beside them. ‖τ·mask‖₁ adds
    // the same terms in the same order as a sum over τ·mask would (dropped entries add 0).
    const wideBefore = wideAbsSum(delta);
    const wideAfter = wideAbsSum(delta, mask);
    const before = in32 ? Math.fround(wideBefore) : h.roundScalarSum(wideBefore);
    const after = in32 ? Math.fround(wideAfter) : h.roundScalarSum(wideAfter);
    const eps = in32 ? Math.fround(1e-7) : h.scalar(1e-7);
    if (!(before < eps || after < eps)) factor = in32 ? Math.fround(before / after) : h.scalar(before / after);
  }
  // The mask as bits: n/8 bytes kept per model instead of n.
  const bits = packMask(mask);
  return {
    kept(start, end) {
      // tensor * mask: a dropped entry becomes ±0, keeping τ's sign, as torch's product does.
      const out = new Float32Array(end - start);
      for (let i = 0; i < out.length; i++) out[i] = delta[start + i]! * bitAt(bits, start + i);
      if (factor === undefined) return out;
      if (!in32) return h.mulScalar(out, factor);
      for (let i = 0; i < out.length; i++) out[i] = out[i]! * factor;
      return h.roundInPlace(out);
    },
  };
}
