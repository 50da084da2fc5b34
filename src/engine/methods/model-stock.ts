/**
 * Model Stock: moves from the base towards the average of the fine-tuned models by a factor set
 * by how aligned their offsets from the base are (mergekit's model_stock: mean pairwise cosine).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import type { MergeMethod } from './types.js';

export const modelStock: MergeMethod = {
  id: 'model_stock',
  label: 'Model Stock',
  summary: 'Interpolates between the base and the average of the fine-tunes, trusting the average more the more aligned their task vectors are.',
  formula: 'cos = mean_{i<j} cos(θi−θ0, θj−θ0);  t = N·cos / (1 + (N−1)·cos);  θ = t·mean(θi) + (1−t)·θ0',
  reference: 'Jang et al., Model Stock, arXiv:2403.19522',
  params: [
    {
      name: 'filter_wise',
      scope: 'global',
      type: 'boolean',
      default: false,
      help: 'Compute the angle per row (output channel) instead of over the whole tensor.',
    },
  ],
  base: 'required',
  minModels: 3,
  random: false,
  mergeTensor({ tensorName, models, global }) {
    const base = models.find((m) => m.isBase);
    const others = models.filter((m) => !m.isBase);
    if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', `model_stock needs a base_model (tensor ${tensorName}).`);
    if (others.length === 0) return base.tensor.clone();
    if (others.length < 2) {
      throw new MergeLabError('TOO_FEW_MODELS', `model_stock needs the base and at least two other models; tensor ${tensorName} has ${others.length} besides the base.`);
    }
    const filterWise = Boolean(global.filter_wise ?? false);
    return tf.tidy(() => {
      const shape = base.tensor.shape;
      // Row vectors when filter-wise (a 1-D tensor is one row), else one flat vector.
      const view = (x: tf.Tensor) => (filterWise ? (x.rank === 1 ? tf.expandDims(x, 0) : x) : tf.reshape(x, [-1]));
      const w0 = view(base.tensor);
      const ws = others.map((m) => view(m.tensor));
      const offsets = ws.map((w) => tf.sub(w, w0));
      const norms = offsets.map((o) => tf.norm(o, 'euclidean', -1));
      const cosines: tf.Tensor[] = [];
      for (let i = 0; i < offsets.length; i++) {
        for (let j = i + 1; j < offsets.length; j++) {
          const denom = tf.maximum(tf.mul(norms[i]!, norms[j]!), 1e-6);
          cosines.push(tf.clipByValue(tf.div(tf.sum(tf.mul(offsets[i]!, offsets[j]!), -1), denom), -1, 1));
        }
      }
      const cos = tf.expandDims(tf.mean(tf.stack(cosines), 0), -1);
      const n = ws.length;
      const t = tf.div(tf.mul(cos, n), tf.add(tf.mul(cos, n - 1), 1));
      const avg = tf.div(tf.addN(ws), n);
      const merged = tf.add(tf.mul(t, avg), tf.mul(tf.sub(1, t), w0));
      return tf.reshape(merged, shape);
    });
  },
};
