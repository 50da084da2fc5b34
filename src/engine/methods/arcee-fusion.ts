/**
 * Arcee Fusion (mergekit's arcee_fusion): the other model's change is taken only where it matters
 * — importance = |θ1 − θ0| × the row's KL divergence between the two models' softmaxes — at or above
 * median + 1.5·IQR of the importances; elsewhere the base stays. The mask needs the whole tensor
 * (softmaxes, quantiles) and is worked out on the CPU op by op as mergekit's torch code does, in
 * float32 or the recipe's 16-bit dtype; the backend applies it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { createRandom, randomInt } from '../random.js';
import { ARCEE_FUSION } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps, float16Unsupported, workDType, type DtypeOps } from './half/dtype-ops.js';
import { logf, rowSum32, softmax32 } from './half/torch-float32.js';
import type { ModelValues, PrepareInput } from './types.js';
import type { HalfDType } from '../half/half-math.js';

/** mergekit samples the importances of a tensor larger than this (torch.randperm) before taking quantiles. */
const QUANTILE_SAMPLE = 1_000_000;

export const arceeFusion = defineMethod({
  ...ARCEE_FUSION,
  prepare(input) {
    const pair = basePair(input);
    if (!pair) return { granularity: 1, block: (inputs) => tf.clone(inputs[0]!) };
    const mask = fusionMask(input, pair.base, pair.other);
    const [bi, oi] = [input.models.indexOf(pair.base), input.models.indexOf(pair.other)];
    return {
      granularity: 1,
      // θ0 + (θ1 − θ0)·mask: a masked-out entry adds ±0.
      block: (inputs, start, end) => tf.tidy(() => tf.add(inputs[bi]!, tf.mul(tf.sub(inputs[oi]!, inputs[bi]!), tf.tensor1d(mask.subarray(start, end))))),
    };
  },
  mergeHalf(input, dtype) {
    const pair = basePair(input);
    if (!pair) return input.models[0]!.values.slice();
    if (dtype === 'F16') throw float16Unsupported('arcee_fusion', 'softmax', input.tensorName);
    const d = dtypeOps(dtype);
    const mask = fusionMask(input, pair.base, pair.other, dtype);
    const a = pair.base.values;
    // (θ1 − θ0) in the dtype, times the float32 mask and added to θ0 in float32: the mask promotes
    // them, and the result is float32 (ARCEE_FUSION.float32Result).
    const delta = d.zip(pair.other.values, a, (x, y) => x - y);
    return Float32Array.from(a, (x, i) => x + delta[i]! * mask[i]!);
  },
});

function basePair({ tensorName, models }: PrepareInput): { base: ModelValues; other: ModelValues } | undefined {
  if (models.length === 1) return undefined;
  if (models.length !== 2) throw new MergeLabError('TOO_MANY_MODELS', `arcee_fusion merges exactly two models, the base_model and one other; tensor ${tensorName} has ${models.length}.`);
  const base = models.find((m) => m.isBase);
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', `arcee_fusion needs the base_model among the two models of tensor ${tensorName}.`);
  return { base, other: models.find((m) => m !== base)! };
}

/** 1 where the importance is at or above median + 1.5·IQR, else 0 (mergekit's DynamicThresholdFusion). */
function fusionMask(input: PrepareInput, base: ModelValues, other: ModelValues, dtype?: HalfDType): Float32Array {
  const d = dtypeOps(workDType(dtype));
  const { shape } = input;
  const n = base.values.length;
  const row = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const importance = importanceOf(d, other.values, base.values, row);
  const sorted = quantileSample(importance, input.seed).sort();
  const at = (q: number) => sorted[Math.trunc(Math.fround(q * (sorted.length - 1)))]!;
  const median = at(0.5);
  const iqr = d.round(at(0.75) - at(0.25));
  const threshold = d.round(median + d.round(1.5 * iqr));
  const mask = new Float32Array(n);
  for (let i = 0; i < n; i++) mask[i] = importance[i]! >= threshold ? 1 : 0;
  return mask;
}

/**
 * |θ1 − θ0| · Σ_row p·log(p/q), p = softmax(θ1) + 1e-8 and q = softmax(θ0) + 1e-8 per row, each op
 * rounded; softmax and log as torch's float32 kernels compute them (half/torch-float32.ts), also
 * under a 16-bit tensor, whose kernels widen to float32 and round.
 */
function importanceOf(d: DtypeOps, params: Float32Array, baseParams: Float32Array, row: number): Float32Array {
  const n = params.length;
  const eps = d.round(1e-8);
  const out = new Float32Array(n);
  for (let start = 0; start < n; start += row) {
    const x = params.subarray(start, start + row);
    const y = baseParams.subarray(start, start + row);
    const p = d.map(d.roundAll(softmax32(x)), (v) => v + eps);
    const q = d.map(d.roundAll(softmax32(y)), (v) => v + eps);
    const terms = d.map(p, (v, j) => v * d.round(logf(d.round(v / q[j]!))));
    // The KL of two nearly equal rows is rounding: float32 sums in torch's order (16-bit ones round once).
    const kl = d.dtype === 'F32' ? rowSum32(terms) : d.sum(terms);
    for (let j = 0; j < x.length; j++) out[start + j] = d.round(d.round(Math.abs(d.round(x[j]! - y[j]!))) * kl);
  }
  return out;
}


/**
 * The values quantiles are taken over: all, or for a large tensor a random million of them without
 * repeats, as mergekit samples (torch.randperm); ours from a seeded generator (a partial
 * Fisher–Yates over the indices), so the same seed takes the same million.
 */
export function quantileSample(values: Float32Array, seed: number): Float32Array {
  const n = values.length;
  if (n <= QUANTILE_SAMPLE) return Float32Array.from(values);
  const random = createRandom(seed);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const out = new Float32Array(QUANTILE_SAMPLE);
  for (let i = 0; i < QUANTILE_SAMPLE; i++) {
    const j = i + randomInt(random, n - i);
    const pick = order[j]!;
    order[j] = order[i]!;
    out[i] = values[pick]!;
  }
  return out;
}
