/**
 * Using a trained router: logits for new features, per-sample weights over the tasks (temperature,
 * top-k), the hard "which task" answer, oracle weights from true tasks, and the routing numbers
 * the lab charts (accuracy, mean weight per true task, mean largest weight).
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { LEAKY_SLOPE, type RouterWeights, type RoutingOptions } from './types.js';

/**
 * The router's logits as a tensor, for rows already on the backend: standardised first unless
 * `standardised` says they are. Inference mode: batch norms use their running statistics.
 */
export function routerLogitsTensor(router: RouterWeights, rows: tf.Tensor2D, standardised: boolean): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor2D = standardised ? rows : (tf.div(tf.sub(rows, tf.tensor1d(router.mean)), tf.tensor1d(router.std)) as tf.Tensor2D);
    for (const l of router.layers) {
      // An explicit transpose, then a plain matMul: tfjs-wasm's transposeB path is much slower.
      let z = tf.add(tf.matMul(h, tf.transpose(tf.tensor2d(l.weight, [l.outputs, l.inputs]))), tf.tensor1d(l.bias)) as tf.Tensor2D;
      if (l.norm) {
        const scale = Float32Array.from(l.norm.weight, (g, i) => g / Math.sqrt(l.norm!.runningVar[i]! + l.norm!.eps));
        z = tf.add(tf.mul(tf.sub(z, tf.tensor1d(l.norm.runningMean)), tf.tensor1d(scale)), tf.tensor1d(l.norm.bias)) as tf.Tensor2D;
      }
      h = l.activation === 'relu' ? (tf.relu(z) as tf.Tensor2D) : l.activation === 'leaky_relu' ? (tf.leakyRelu(z, LEAKY_SLOPE) as tf.Tensor2D) : z;
    }
    return h;
  });
}

/** Logits (count × tasks, row-major) of the router for `count` rows of features. Leaves no tensor behind. */
export async function routerLogits(router: RouterWeights, features: Float32Array, count: number): Promise<Float32Array> {
  const F = router.features;
  if (features.length !== count * F) {
    throw new MergeLabError('SHAPE_MISMATCH', `The router reads ${F} features per sample; got ${features.length} values for ${count} samples.`);
  }
  if (count === 0) return new Float32Array(0);
  const logits = tf.tidy(() => routerLogitsTensor(router, tf.tensor2d(features, [count, F]), false));
  try {
    return Float32Array.from((await logits.data()) as Float32Array);
  } finally {
    logits.dispose();
  }
}

/** Checks routing options against `tasks`; returns them with defaults filled. */
export function resolveRoutingOptions(o: RoutingOptions, tasks: number): { temperature: number; topK: number } {
  const temperature = o.temperature ?? 1;
  const topK = o.topK ?? tasks;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Routing "temperature" must be a positive number, got ${temperature}; use 1 for the router's own softmax.`);
  }
  if (!Number.isInteger(topK) || topK < 1 || topK > tasks) {
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Routing "topK" must be an integer 1..${tasks} (the number of tasks), got ${topK}.`);
  }
  return { temperature, topK };
}

/**
 * Per-sample weights over the tasks from logits: softmax(logits / temperature), then, with top-k,
 * the k largest kept (an equal weight goes to the earlier task) and renormalised to sum 1. Done in
 * float64 on the CPU: T is small, and the result is the same on every backend.
 */
export function routingWeights(logits: Float32Array, tasks: number, options: RoutingOptions = {}): Float32Array {
  const { temperature, topK } = resolveRoutingOptions(options, tasks);
  if (logits.length % tasks !== 0) throw new MergeLabError('SHAPE_MISMATCH', `${logits.length} logits are not a whole number of rows of ${tasks} tasks.`);
  const count = logits.length / tasks;
  const out = new Float32Array(logits.length);
  const e = new Float64Array(tasks);
  const order = Array.from({ length: tasks }, (_, i) => i);
  for (let s = 0; s < count; s++) {
    const row = s * tasks;
    let max = -Infinity;
    for (let t = 0; t < tasks; t++) max = Math.max(max, logits[row + t]! / temperature);
    for (let t = 0; t < tasks; t++) e[t] = Math.exp(logits[row + t]! / temperature - max);
    let keep: readonly number[] = order;
    if (topK < tasks) keep = [...order].sort((a, b) => e[b]! - e[a]! || a - b).slice(0, topK);
    let sum = 0;
    for (const t of keep) sum += e[t]!;
    for (const t of keep) out[row + t] = e[t]! / sum;
  }
  return out;
}

/** The task with the largest value in each row of `scores` (weights or logits); the first on a tie. */
export function argmaxTasks(scores: Float32Array, tasks: number): Int32Array {
  const count = Math.floor(scores.length / tasks);
  const out = new Int32Array(count);
  for (let s = 0; s < count; s++) {
    let best = 0;
    for (let t = 1; t < tasks; t++) if (scores[s * tasks + t]! > scores[s * tasks + best]!) best = t;
    out[s] = best;
  }
  return out;
}

/** Oracle routing: weight 1 on each sample's true task. The upper bound a router can reach. */
export function oneHotWeights(taskOf: ArrayLike<number>, tasks: number): Float32Array {
  const out = new Float32Array(taskOf.length * tasks);
  for (let s = 0; s < taskOf.length; s++) {
    const t = taskOf[s]!;
    if (!Number.isInteger(t) || t < 0 || t >= tasks) throw new MergeLabError('PARAMETER_INVALID', `Sample ${s} has task ${t}; tasks are 0..${tasks - 1}.`);
    out[s * tasks + t] = 1;
  }
  return out;
}

/** Fraction of samples routed to their true task (argmax of the weights); 0 when there are none. */
export function routingAccuracy(weights: Float32Array, taskOf: ArrayLike<number>, tasks: number): number {
  const chosen = argmaxTasks(weights, tasks);
  let right = 0;
  for (let s = 0; s < chosen.length; s++) if (chosen[s] === taskOf[s]) right++;
  return chosen.length === 0 ? 0 : right / chosen.length;
}

/**
 * The routing chart's matrix: row t is the mean weight vector over the samples whose true task is
 * t (rows of a task without samples are zeros). With hard routing it is the confusion matrix.
 */
export function meanWeightsByTask(weights: Float32Array, taskOf: ArrayLike<number>, tasks: number): number[][] {
  const sum = Array.from({ length: tasks }, () => new Array<number>(tasks).fill(0));
  const n = new Array<number>(tasks).fill(0);
  for (let s = 0; s < taskOf.length; s++) {
    const t = taskOf[s]!;
    n[t]!++;
    for (let u = 0; u < tasks; u++) sum[t]![u]! += weights[s * tasks + u]!;
  }
  return sum.map((row, t) => row.map((x) => (n[t]! > 0 ? x / n[t]! : 0)));
}

/** Routing accuracy among the samples of each true task. */
export function routingAccuracyByTask(weights: Float32Array, taskOf: ArrayLike<number>, tasks: number): number[] {
  const chosen = argmaxTasks(weights, tasks);
  const right = new Array<number>(tasks).fill(0);
  const n = new Array<number>(tasks).fill(0);
  for (let s = 0; s < chosen.length; s++) {
    const t = taskOf[s]!;
    n[t]!++;
    if (chosen[s] === t) right[t]!++;
  }
  return right.map((r, t) => (n[t]! > 0 ? r / n[t]! : 0));
}

/** Number of values the router stores: the input standardisation, every layer's weights and biases, and its norm's four vectors. */
export function routerParameterCount(r: RouterWeights): number {
  let n = r.mean.length + r.std.length;
  for (const l of r.layers) n += l.weight.length + l.bias.length + (l.norm ? 4 * l.norm.weight.length : 0);
  return n;
}

/** Mean over samples of the largest routing weight: 1 when the router always picks one task outright. */
export function meanLargestWeight(weights: Float32Array, tasks: number): number {
  const count = Math.floor(weights.length / tasks);
  let sum = 0;
  for (let s = 0; s < count; s++) {
    let m = 0;
    for (let t = 0; t < tasks; t++) m = Math.max(m, weights[s * tasks + t]!);
    sum += m;
  }
  return count ? sum / count : 0;
}
