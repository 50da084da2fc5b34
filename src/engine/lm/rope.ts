/**
 * Rotary position embeddings as transformers applies them to Llama-family queries and keys: the
 * "rotate_half" convention (the head's first half pairs with its second half, not interleaved
 * pairs) and frequencies θ^(−2i/d).
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * cos and sin tables [length, headDim] for positions 0 … length − 1. The angles are rounded as
 * transformers rounds them (inverse frequencies and position × frequency in float32), so long
 * positions get the same angles as the reference, not more exact ones.
 */
export function ropeTables(length: number, headDim: number, theta: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  const cos = new Float32Array(length * headDim);
  const sin = new Float32Array(length * headDim);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]!);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + i] = c;
      cos[p * headDim + half + i] = c;
      sin[p * headDim + i] = s;
      sin[p * headDim + half + i] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [length, headDim]), sin: tf.tensor2d(sin, [length, headDim]) };
}

/** x · cos + rotate_half(x) · sin for x [batch, heads, length, headDim]; rotate_half(x) = [−x₂, x₁]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const half = x.shape[3] / 2;
    const [x1, x2] = tf.split(x, [half, half], 3);
    const rotated = tf.concat([tf.neg(x2!), x1!], 3);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}
