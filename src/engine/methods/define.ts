/**
 * Completing a method from its `prepare`: `mergeTensor` (the whole tensor in one block) is the
 * same for every method, so it is written once here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MergeMethod, TensorMergeInput } from './types.js';

export function defineMethod(m: Omit<MergeMethod, 'mergeTensor'>): MergeMethod {
  return { ...m, mergeTensor: (input) => mergeWholeTensor(m, input) };
}

function mergeWholeTensor(m: Pick<MergeMethod, 'prepare'>, input: TensorMergeInput): tf.Tensor {
  const shape = input.models[0]!.tensor.shape;
  const n = shape.reduce((a, b) => a * b, 1);
  const prepared = m.prepare({
    ...input,
    shape,
    models: input.models.map((x) => ({ model: x.model, isBase: x.isBase, params: x.params, values: x.tensor.dataSync() as Float32Array })),
  });
  return tf.tidy(() => tf.reshape(prepared.block(input.models.map((x) => tf.reshape(x.tensor, [-1])), 0, n), shape));
}
