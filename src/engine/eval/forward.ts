/**
 * The forward pass of a manifest's architecture on tfjs, on whatever backend the host started.
 * Plain JS loops were tried first: ~0.4 GMAC/s here made a λ sweep take tens of seconds, against
 * well under a second on wasm. Results can differ between backends in the last bits of a logit,
 * so a prediction can flip on a near-tie; the manifest's accuracies were measured on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LabeledSet } from '../demo/dataset.js';
import { checkWeights, type Weights } from '../demo/load.js';
import type { Architecture } from '../demo/manifest.js';

/** Logits for `count` raw inputs as a tensor the caller must dispose. */
function logitsTensor(arch: Architecture, weights: Weights, inputs: Float32Array, count: number): tf.Tensor2D {
  checkWeights(arch, weights);
  return tf.tidy(() => {
    let h = tf.mul(tf.tensor2d(inputs, [count, arch.input.height * arch.input.width]), arch.input.scale) as tf.Tensor2D;
    for (const l of arch.layers) {
      // An explicit transpose then a plain matMul: tfjs-wasm's transposeB path is ~10× slower.
      const w = tf.transpose(tf.tensor2d(weights[l.weight]!, [l.outputs, l.inputs]));
      const z = tf.add(tf.matMul(h, w), tf.tensor1d(weights[l.bias]!)) as tf.Tensor2D;
      h = l.activation === 'relu' ? tf.relu(z) : z;
    }
    return h;
  });
}

/**
 * Logits for `count` raw inputs (count × height × width values, before the input scale):
 * count × classes values, row-major. Throws TENSOR_MISSING / SHAPE_MISMATCH if `weights` do not fit.
 */
export async function forward(arch: Architecture, weights: Weights, inputs: Float32Array, count: number): Promise<Float32Array> {
  if (count === 0) return new Float32Array(0);
  const t = logitsTensor(arch, weights, inputs, count);
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

/**
 * Predicted classes (first index of the largest logit) for several sets in one pass: the sets are
 * stacked so the weights are uploaded and multiplied once.
 */
export async function predictSets(arch: Architecture, weights: Weights, sets: readonly LabeledSet[]): Promise<Int32Array[]> {
  const total = sets.reduce((n, s) => n + s.count, 0);
  if (total === 0) return sets.map(() => new Int32Array(0));
  const features = arch.input.height * arch.input.width;
  const inputs = stacked(sets, total, features);
  const classes = tf.tidy(() => tf.argMax(logitsTensor(arch, weights, inputs, total), 1));
  try {
    const all = (await classes.data()) as Int32Array;
    let from = 0;
    return sets.map((s) => all.slice(from, (from += s.count)));
  } finally {
    classes.dispose();
  }
}

/**
 * The sets' inputs one after another. A live score stacks the same sets on every slider move, so
 * the last stack is kept per first set (sets are never mutated): 460 kB less to allocate and copy
 * per move on the demo, and fewer garbage collections in the worker.
 */
const stacks = new WeakMap<LabeledSet, { readonly sets: readonly LabeledSet[]; readonly features: number; readonly inputs: Float32Array }>();

function stacked(sets: readonly LabeledSet[], total: number, features: number): Float32Array {
  const kept = stacks.get(sets[0]!);
  if (kept && kept.features === features && kept.sets.length === sets.length && kept.sets.every((s, i) => s === sets[i])) return kept.inputs;
  const inputs = new Float32Array(total * features);
  let at = 0;
  for (const s of sets) {
    inputs.set(s.inputs.subarray(0, s.count * features), at * features);
    at += s.count;
  }
  stacks.set(sets[0]!, { sets: [...sets], features, inputs });
  return inputs;
}

/** Predicted class of each sample in `set`. */
export async function predict(arch: Architecture, weights: Weights, set: LabeledSet): Promise<Int32Array> {
  return (await predictSets(arch, weights, [set]))[0]!;
}

/** Fraction of predictions equal to the labels (0 for an empty set). */
export function fractionCorrect(predictions: Int32Array, labels: Uint8Array): number {
  let right = 0;
  for (let i = 0; i < predictions.length; i++) if (predictions[i] === labels[i]) right++;
  return predictions.length === 0 ? 0 : right / predictions.length;
}

/** Fraction of `set` classified correctly (0..1). */
export async function accuracy(arch: Architecture, weights: Weights, set: LabeledSet): Promise<number> {
  return fractionCorrect(await predict(arch, weights, set), set.labels);
}
