/**
 * Passthrough: one model's tensor as it is, times its `scale` where one is set (mergekit's
 * passthrough, the method of frankenmerges' copied layers). mergekit fails at run time when a
 * tensor comes from more than one model; the planner refuses that recipe up front (modelCount).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { halfMath } from '../half/half-math.js';
import { PASSTHROUGH } from './catalog.js';
import { defineMethod } from './define.js';
import type { ModelValues, PrepareInput } from './types.js';

export const passthrough = defineMethod({
  ...PASSTHROUGH,
  prepare(input) {
    const scale = only(input).params.scale;
    return {
      granularity: 1,
      // x · s in float32, as torch's `tensor * scale`.
      block: (inputs) => (typeof scale === 'number' ? tf.mul(inputs[0]!, tf.scalar(scale)) : tf.clone(inputs[0]!)),
    };
  },
  mergeHalf(input, dtype) {
    const m = only(input);
    const scale = m.params.scale;
    if (typeof scale !== 'number') return m.values.slice();
    const h = halfMath(dtype);
    return h.mulScalar(m.values, h.scalar(scale));
  },
});

function only({ tensorName, models }: PrepareInput): ModelValues {
  if (models.length !== 1) {
    throw new MergeLabError('TOO_MANY_MODELS', `passthrough takes tensor ${tensorName} from exactly one model; it has ${models.length} (${models.map((m) => `"${m.model}"`).join(', ')}).`);
  }
  return models[0]!;
}
