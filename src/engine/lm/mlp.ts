/** Feed-forward blocks and projections: Llama's SwiGLU and GPT-2's GELU MLP, over rows [tokens, hidden]. */
import * as tf from '@tensorflow/tfjs-core';
import type { Projection } from './weights.js';

/** Whether x·Wᵀ is better written x·transpose(W): on wasm, where only x·W takes XNNPACK's fast path (weights.ts). */
export function transposeFirst(): boolean {
  return tf.getBackend() === 'wasm';
}

/** x·W for W [in, out], or x·Wᵀ for W [out, in] (nn.Linear as stored). */
export function project(x: tf.Tensor2D, p: Projection): tf.Tensor2D {
  return tf.tidy(() => {
    const w = p.weight as tf.Tensor2D;
    if (p.inOut) return tf.matMul(x, w);
    return transposeFirst() ? tf.matMul(x, tf.transpose(w)) : tf.matMul(x, w, false, true);
  });
}

/** nn.Linear: x Wᵀ + b. */
export function linear(x: tf.Tensor2D, p: Projection, bias?: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const y = project(x, p);
    return (bias ? tf.add(y, bias) : y) as tf.Tensor2D;
  });
}

/** GPT-2's Conv1D: x W + b with W stored [in, out]. */
export function conv1d(x: tf.Tensor2D, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.matMul(x, weight as tf.Tensor2D), bias));
}

/** SiLU, x · σ(x) (torch's F.silu). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** transformers' gelu_new (also gelu_pytorch_tanh): the tanh approximation. */
export function geluNew(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** The exact GELU, x · Φ(x) = x/2 · (1 + erf(x/√2)). */
export function geluExact(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

export interface SwiGluWeights {
  readonly gate: Projection;
  readonly up: Projection;
  readonly down: Projection;
  readonly gateBias?: tf.Tensor;
  readonly upBias?: tf.Tensor;
  readonly downBias?: tf.Tensor;
}

/** Llama's MLP: down(silu(gate(x)) · up(x)). */
export function swiGlu(x: tf.Tensor2D, w: SwiGluWeights): tf.Tensor2D {
  return tf.tidy(() => linear(tf.mul(silu(linear(x, w.gate, w.gateBias)), linear(x, w.up, w.upBias)) as tf.Tensor2D, w.down, w.downBias));
}

export interface GeluMlpWeights {
  readonly fc: tf.Tensor;
  readonly fcBias: tf.Tensor;
  readonly proj: tf.Tensor;
  readonly projBias: tf.Tensor;
}

/** GPT-2's MLP: c_proj(act(c_fc(x))), Conv1D weights. */
export function geluMlp(x: tf.Tensor2D, w: GeluMlpWeights, exact: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    const h = conv1d(x, w.fc, w.fcBias);
    return conv1d((exact ? geluExact(h) : geluNew(h)) as tf.Tensor2D, w.proj, w.projBias);
  });
}
