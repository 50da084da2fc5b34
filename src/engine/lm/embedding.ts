/** Token embedding lookup whose gradient works on every backend. */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Rows `ids` of `table`. tf.gather's gradient needs the UnsortedSegmentSum kernel, which the wasm
 * backend lacks; there the gradient is onehot(ids)ᵀ · dy instead (a [tokens, vocab] matrix, fine
 * for the byte-level vocabularies models are trained with here).
 */
export function embed(table: tf.Tensor, ids: tf.Tensor1D): tf.Tensor2D {
  if (tf.getKernel('UnsortedSegmentSum', tf.getBackend())) return tf.gather(table as tf.Tensor2D, ids);
  const vocab = table.shape[0]!;
  const lookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [t, i, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([i]);
    return {
      value: tf.gather(t, i as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const ids = saved[0] as tf.Tensor1D;
        return [tf.matMul(tf.cast(tf.oneHot(ids, vocab), 'float32'), dy as tf.Tensor2D, true, false), tf.zerosLike(ids)];
      },
    };
  });
  return lookup(table, ids) as tf.Tensor2D;
}
