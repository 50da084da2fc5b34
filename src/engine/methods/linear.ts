/** Linear: a weighted average of the models themselves (not of task vectors), as mergekit's linear. */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { LINEAR } from './catalog.js';
import { defineMethod } from './define.js';
import { linearHalf } from './half/linear-half.js';

export const linear = defineMethod({
  ...LINEAR,
  prepare({ tensorName, models, global }) {
    const weights = models.map((m) => {
      const w = m.params.weight;
      if (typeof w !== 'number') {
        throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${tensorName}; linear needs a weight for every model it merges, the base_model included.`);
      }
      return Math.fround(w);
    });
    const normalize = Boolean(global.normalize ?? true);
    const total = Math.fround(weights.reduce((s, w) => Math.fround(s + w), 0));
    return {
      granularity: 1,
      block: (inputs) =>
        tf.tidy(() => {
          const sum = tf.addN(inputs.map((x, i) => tf.mul(x, tf.scalar(weights[i]!))));
          return normalize ? tf.div(sum, tf.scalar(total)) : sum;
        }),
    };
  },
  mergeHalf: linearHalf,
  validateTensor({ tensorName, models, global }) {
    // mergekit appends base_model to the models it averages even when it is not listed.
    const unweighted = models.filter((m) => typeof m.params.weight !== 'number' && m.isBase);
    if (unweighted.length > 0) {
      return [
        new MergeLabError(
          'MISSING_PARAMETER',
          `linear averages base_model "${unweighted[0]!.model}" too (as mergekit does), but it has no weight for tensor ${tensorName}; list it under models with a weight, or remove base_model.`,
        ),
      ];
    }
    if (!(global.normalize ?? true)) return [];
    const total = models.reduce((s, m) => s + (typeof m.params.weight === 'number' ? m.params.weight : 0), 0);
    return total === 0
      ? [new MergeLabError('PARAMETER_OUT_OF_RANGE', `linear with normalize divides by the sum of the weights, which is 0 for tensor ${tensorName}; change a weight or set normalize: false.`)]
      : [];
  },
});
