/**
 * SCE (mergekit's sce; FuseChat, arXiv:2408.07990): Select the task-vector entries whose variance
 * across models is largest (select_topk), Calculate each model's weight from its mean squared
 * task vector, Erase the entries whose sign disagrees with the elected one (TIES's sum rule), and
 * average what is left. Computed op by op as mergekit's torch code does, in float32 or the
 * recipe's 16-bit dtype; the selection takes the entries torch.topk takes, ties included.
 */
import { SCE } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps, float16Unsupported, precomputed, workDType, type DtypeOps, stackSum } from './half/dtype-ops.js';
import { numberParam } from './params.js';
import { torchTopkMask } from './torch-topk.js';
import type { PrepareInput } from './types.js';
import type { HalfDType } from '../half/half-math.js';
import { MergeLabError } from '../errors.js';

export const sce = defineMethod({
  ...SCE,
  prepare: (input) => precomputed(sceValues(input)),
  mergeHalf: (input, dtype) => sceValues(input, dtype),
});

export function sceValues(input: PrepareInput, dtype?: HalfDType): Float32Array {
  const { tensorName, models, global } = input;
  const base = models.find((m) => m.isBase);
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', `sce needs a base_model (tensor ${tensorName}).`);
  const others = models.filter((m) => !m.isBase);
  if (others.length === 0) return base.values.slice();
  // The final clamp(min=1e-6) has no float16 CPU kernel in torch 1.13.
  if (dtype === 'F16') throw float16Unsupported('sce', 'clamp', tensorName);
  const d = dtypeOps(workDType(dtype));
  const n = base.values.length;
  let tvs = others.map((m) => d.zip(m.values, base.values, (a, b) => a - b));
  const topk = numberParam(global.select_topk, 1);
  if (topk < 1) {
    const mask = selectMask(d, tvs, topk);
    if (!mask) {
      // mergekit's empty selection is torch.zeros_like(task_vectors): its leading models dimension
      // broadcasts into the result, which it writes as [models, …shape], each slice the base (every
      // task vector masked to zero). We write that slice, in the tensor's shape.
      input.warn(
        `sce keeps no entry of tensor ${tensorName} (select_topk ${topk}${topk > 0 ? ', and the task vectors do not vary across models there' : ''}): the result is the base's tensor. mergekit writes it with an extra leading dimension of ${others.length} (each slice the base's tensor), which no model loads.`,
      );
      return base.values.slice();
    }
    // τ · mask: a dropped entry becomes ±0 (NaN stays NaN), as the product does.
    tvs = tvs.map((tv) => d.map(tv, (x, i) => x * mask[i]!));
  }
  const count = tvs.length;
  // get_mask(…, "sum"): the sign of Σ τ wins; sign(0) agrees with neither.
  const vote = stackSum(d, tvs);
  // sce_weight: mean(τ²) per model (a 16-bit mean rounds the sum, then the quotient), over their sum.
  const squares = tvs.map((tv) => d.round(d.sum(d.map(tv, (x) => x * x)) / n));
  const weightSum = d.sum(squares);
  const weights = Math.abs(weightSum) < 1e-6 ? squares.map(() => d.round(1 / count)) : squares.map((w) => d.round(w / d.round(weightSum)));
  const floor = d.round(1e-6);
  const merged = new Float32Array(n);
  const products = new Float32Array(count);
  const shares = new Float32Array(count);
  for (let i = 0; i < n; i++) {
    const majority = vote[i]! >= 0 ? 1 : -1;
    for (let k = 0; k < count; k++) {
      const x = tvs[k]![i]!;
      const agree = Math.sign(x) === majority;
      shares[k] = agree ? weights[k]! : 0;
      products[k] = d.round(x * shares[k]!);
    }
    // Σ over the models in float32, rounded once; then clamp and divide, each rounded.
    const top = sumInOrder(d, products);
    const bottom = Math.max(sumInOrder(d, shares), floor);
    merged[i] = d.round(top / bottom);
  }
  return d.zip(base.values, merged, (a, b) => a + b);
}

/**
 * sce_mask: the entries with the largest |Var(τ)| across models (unbiased=False), k of those with
 * nonzero variance; k = int(count_nonzero · select_topk), a float32 product. Undefined where it
 * keeps nothing (select_topk ≤ 0, or k = 0).
 */
function selectMask(d: DtypeOps, tvs: readonly Float32Array[], topk: number): Uint8Array | undefined {
  const n = tvs[0]!.length;
  if (topk <= 0) return undefined;
  const variance = new Float32Array(n);
  let nonzero = 0;
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (const tv of tvs) mean += tv[i]!;
    mean /= tvs.length;
    let v = 0;
    for (const tv of tvs) v += (tv[i]! - mean) ** 2;
    variance[i] = Math.abs(d.round(v / tvs.length));
    if (variance[i] !== 0) nonzero++;
  }
  const k = Math.trunc(Math.fround(Math.fround(nonzero) * Math.fround(topk)));
  return k === 0 ? undefined : torchTopkMask(variance, k);
}


function sumInOrder(d: DtypeOps, values: Float32Array): number {
  let s = values[0]!;
  for (let k = 1; k < values.length; k++) s = Math.fround(s + values[k]!);
  return d.round(s);
}
