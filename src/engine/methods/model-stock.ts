/**
 * Model Stock: moves from the base towards the average of the fine-tuned models by a factor set
 * by how aligned their offsets from the base are (mergekit's model_stock: mean pairwise cosine).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { MODEL_STOCK } from './catalog.js';
import { defineMethod } from './define.js';
import { modelStockHalf } from './half/model-stock-half.js';

export const modelStock = defineMethod({
  ...MODEL_STOCK,
  mergeHalf: modelStockHalf,
  prepare({ tensorName, shape, models, global }) {
    const baseIndex = models.findIndex((m) => m.isBase);
    const others = models.map((m, i) => ({ m, i })).filter((x) => !x.m.isBase);
    if (baseIndex < 0) throw new MergeLabError('BASE_MODEL_REQUIRED', `model_stock needs a base_model (tensor ${tensorName}).`);
    if (others.length === 0) return { granularity: 1, block: (inputs) => tf.clone(inputs[baseIndex]!) };
    if (others.length < 2) {
      throw new MergeLabError('TOO_FEW_MODELS', `model_stock needs the base and at least two other models; tensor ${tensorName} has ${others.length} besides the base.`);
    }
    const filterWise = Boolean(global.filter_wise ?? false);
    const n = models[baseIndex]!.values.length;
    // Filter-wise: one angle per row over the last axis (a 1-D tensor is one row); else one angle.
    const rowLength = filterWise ? (shape.length === 0 ? 1 : shape[shape.length - 1]!) : n;
    const t = interpolationFactors(models[baseIndex]!.values, others.map((o) => o.m.values), rowLength);
    const count = others.length;
    return {
      granularity: filterWise ? rowLength : 1,
      block(inputs, start, end) {
        return tf.tidy(() => {
          const w0 = inputs[baseIndex]!;
          const avg = tf.div(tf.addN(others.map((o) => inputs[o.i]!)), count);
          // One factor per element: each row's t repeated along the row.
          const rows = (end - start) / rowLength;
          const tRows = filterWise ? tf.tensor2d(t.subarray(start / rowLength, start / rowLength + rows), [rows, 1]) : tf.scalar(t[0]!);
          const tb = filterWise ? tf.reshape(tf.tile(tRows, [1, rowLength]), [-1]) : tRows;
          return tf.add(tf.mul(tb, avg), tf.mul(tf.sub(1, tb), w0));
        });
      },
    };
  },
});

/**
 * mergekit's model_stock factor per row of `rowLength` elements: the mean over model pairs of the
 * cosine between their offsets from the base (denominator clamped at 1e-6, cosine to [−1, 1]),
 * then t = N·cos / (1 + (N−1)·cos).
 */
function interpolationFactors(base: Float32Array, models: readonly Float32Array[], rowLength: number): Float32Array {
  const rows = rowLength === 0 ? 0 : base.length / rowLength;
  const t = new Float32Array(rows);
  const count = models.length;
  const offset = new Float64Array(count * rowLength);
  for (let r = 0; r < rows; r++) {
    const at = r * rowLength;
    for (let k = 0; k < count; k++) for (let j = 0; j < rowLength; j++) offset[k * rowLength + j] = Math.fround(models[k]![at + j]! - base[at + j]!);
    const norms = Array.from({ length: count }, (_, k) => {
      let s = 0;
      for (let j = 0; j < rowLength; j++) s += offset[k * rowLength + j]! ** 2;
      return Math.sqrt(s);
    });
    let sum = 0;
    let pairs = 0;
    for (let i = 0; i < count; i++) {
      for (let k = i + 1; k < count; k++) {
        let dot = 0;
        for (let j = 0; j < rowLength; j++) dot += offset[i * rowLength + j]! * offset[k * rowLength + j]!;
        sum += Math.min(1, Math.max(-1, dot / Math.max(norms[i]! * norms[k]!, 1e-6)));
        pairs++;
      }
    }
    const cos = sum / pairs;
    t[r] = (count * cos) / (1 + (count - 1) * cos);
  }
  return t;
}
