/**
 * NearSwap (mergekit's nearswap): each entry moves from the base towards the other model by
 * t / |difference|, at most all the way — entries that barely differ are swapped outright, entries
 * far apart keep the base. Elementwise: on the backend in float32; in a 16-bit dtype each step is
 * rounded as torch rounds it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { NEARSWAP } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps, float16Unsupported } from './half/dtype-ops.js';
import type { ModelValues, PrepareInput } from './types.js';

/** mergekit's floor on |θ0 − θ1| before dividing. */
const FLOOR = 1e-6;

export const nearswap = defineMethod({
  ...NEARSWAP,
  prepare(input) {
    const pair = basePair(input);
    if (!pair) return { granularity: 1, block: (inputs) => tf.clone(inputs[input.models.findIndex((m) => m.isBase)]!) };
    const { baseIndex, otherIndex, t } = pair;
    return {
      granularity: 1,
      block: (inputs) =>
        tf.tidy(() => {
          const a = inputs[baseIndex]!;
          const b = inputs[otherIndex]!;
          // t / x is torch's x.reciprocal() * t (Tensor.__rtruediv__).
          const weight = tf.clipByValue(tf.mul(tf.reciprocal(tf.maximum(tf.abs(tf.sub(a, b)), tf.scalar(FLOOR))), tf.scalar(t)), 0, 1);
          return tf.add(tf.mul(weight, b), tf.mul(tf.sub(tf.scalar(1), weight), a));
        }),
    };
  },
  mergeHalf(input, dtype) {
    const pair = basePair(input);
    if (!pair) return input.models.find((m) => m.isBase)!.values.slice();
    // clamp(min=1e-6) has no float16 CPU kernel in torch 1.13.
    if (dtype === 'F16') throw float16Unsupported('nearswap', 'clamp', input.tensorName);
    const d = dtypeOps(dtype);
    const a = input.models[pair.baseIndex]!.values;
    const b = input.models[pair.otherIndex]!.values;
    const t = d.round(pair.t);
    const floor = d.round(FLOOR);
    const one = d.round(1);
    const reciprocal = d.map(d.zip(a, b, (x, y) => x - y), (x) => 1 / Math.max(Math.abs(x), floor));
    const weight = d.map(reciprocal, (r) => r * t).map((w) => Math.min(1, Math.max(0, w)));
    return d.zip(
      d.zip(weight, b, (w, y) => w * y),
      d.zip(d.map(weight, (w) => one - w), a, (w, x) => w * x),
      (x, y) => x + y,
    );
  },
});

/** The base and the other model, and t; undefined when only the base has this tensor. */
function basePair({ tensorName, models, global }: PrepareInput): { baseIndex: number; otherIndex: number; t: number } | undefined {
  const baseIndex = models.findIndex((m) => m.isBase);
  if (baseIndex < 0) throw new MergeLabError('BASE_MODEL_REQUIRED', `nearswap needs a base_model (tensor ${tensorName}).`);
  const others = models.map((m, i): [ModelValues, number] => [m, i]).filter(([m]) => !m.isBase);
  if (others.length === 0) return undefined;
  if (others.length !== 1) throw new MergeLabError('TOO_MANY_MODELS', `nearswap merges exactly two models, the base_model and one other; tensor ${tensorName} has ${others.length} besides the base.`);
  const t = global.t;
  if (typeof t !== 'number') throw new MergeLabError('MISSING_PARAMETER', `nearswap needs the parameter t (tensor ${tensorName}).`);
  return { baseIndex, otherIndex: others[0]![1], t };
}
