/** The two normalisations of the supported language models, as pure tfjs ops over the last axis. */
import * as tf from '@tensorflow/tfjs-core';

/** Llama's RMSNorm: x / √(mean(x²) + ε) · w (transformers' LlamaRMSNorm, in float32). */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}

/** GPT-2's LayerNorm: (x − mean) / √(var + ε) · w + b, with the biased variance torch uses. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
  });
}
