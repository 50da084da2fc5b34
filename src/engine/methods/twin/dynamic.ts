/**
 * Twin-Merging's dynamic merge at inference (spec "Twin-Merging" step 4) for a stack of dense
 * layers, without building a weight matrix per input. For a linear layer with per-sample task
 * weights w(x), θ(x) = θ* + Σt wt(x)·Ut·Σt·Vtᵀ gives
 *
 *   y = x·W*ᵀ + Σt wt(x) · ((x·Vt)·(UtΣt)ᵀ) + b* + Σt wt(x)·Δbt,
 *
 * exactly (it is the same sum, reassociated), at O(r·(m + n)) extra work per task and sample
 * instead of O(m·n). All tasks' factors are concatenated so a layer costs two extra matmuls.
 * An excluded tensor (exclusive.excluded) is not in θ*: each sample uses its routed task's own
 * copy (the largest weight, the first on a tie: one-hot h(x) in place of w(x) for that tensor).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Architecture } from '../../demo/manifest.js';
import { MergeLabError } from '../../errors.js';
import type { ExclusiveKnowledge, TensorValues } from './exclusive.js';

/** One layer's factors of every task, laid out for the two matmuls. */
interface LayerFactors {
  /** Concatenated Vt: n × R (R = Σt rt), row-major. */
  readonly v: Float32Array;
  /** Concatenated (UtΣt)ᵀ: R × m, row-major. */
  readonly usT: Float32Array;
  /** Task of each of the R columns: picks the routing weight that scales it. */
  readonly columnTask: Int32Array;
  readonly totalRank: number;
  /** Tasks whose 2-D delta is kept dense (no factors): one full matmul each. */
  readonly denseWeights: { readonly task: number; readonly delta: Float32Array }[];
  /** Bias deltas, T × m (zero rows for tasks without one), or undefined when there are none. */
  readonly bias?: Float32Array;
  /** The weight is excluded: θ* has none, each task its own (routed hard). */
  readonly ownWeight: boolean;
  /** The bias is excluded: T × m own biases, routed hard (no θ* bias). */
  readonly ownBias: boolean;
}

function tensorIndex(exclusive: ExclusiveKnowledge): Map<string, number> {
  return new Map(exclusive.tensors.map((t, j) => [t.name, j]));
}

function layerFactors(exclusive: ExclusiveKnowledge, index: Map<string, number>, weight: string, bias: string, m: number, n: number): LayerFactors {
  const T = exclusive.tasks.length;
  const wj = index.get(weight);
  const bj = index.get(bias);
  const parts = wj === undefined ? [] : exclusive.parts.map((row) => row[wj]!);
  const ownWeight = parts.length > 0 && parts.every((p) => p.kind === 'own');
  const ranks = parts.map((p) => (p.kind === 'lowrank' ? p.rank : 0));
  const R = ranks.reduce((a, b) => a + b, 0);
  const v = new Float32Array(n * R);
  const usT = new Float32Array(R * m);
  const columnTask = new Int32Array(R);
  const denseWeights: { task: number; delta: Float32Array }[] = [];
  let at = 0;
  parts.forEach((p, t) => {
    if (p.kind === 'dense' || p.kind === 'own') {
      const values = p.kind === 'dense' ? p.delta : p.values;
      if (values.length !== m * n) throw new MergeLabError('SHAPE_MISMATCH', `Task "${exclusive.tasks[t]}": the ${p.kind === 'own' ? 'own copy' : 'dense delta'} of "${weight}" has ${values.length} values, the layer needs ${m} × ${n}.`);
      denseWeights.push({ task: t, delta: values });
      return;
    }
    const r = p.rank;
    if (p.us.length !== m * r || p.v.length !== n * r) {
      throw new MergeLabError('SHAPE_MISMATCH', `Task "${exclusive.tasks[t]}": the factors of "${weight}" are ${p.us.length / r} × ${r} and ${p.v.length / r} × ${r}; the layer needs ${m} × r and ${n} × r.`);
    }
    for (let j = 0; j < n; j++) for (let c = 0; c < r; c++) v[j * R + at + c] = p.v[j * r + c]!;
    for (let c = 0; c < r; c++) for (let i = 0; i < m; i++) usT[(at + c) * m + i] = p.us[i * r + c]!;
    columnTask.fill(t, at, at + r);
    at += r;
  });
  let b: Float32Array | undefined;
  let ownBias = false;
  if (bj !== undefined) {
    b = new Float32Array(T * m);
    ownBias = exclusive.parts.every((row) => row[bj]!.kind === 'own');
    exclusive.parts.forEach((row, t) => {
      const p = row[bj]!;
      const values = p.kind === 'dense' ? p.delta : p.kind === 'own' ? p.values : undefined;
      if (!values || values.length !== m || (p.kind === 'own') !== ownBias) throw new MergeLabError('SHAPE_MISMATCH', `Task "${exclusive.tasks[t]}": the part of bias "${bias}" must be a dense delta or (excluded, for every task) its own copy, with ${m} values.`);
      b!.set(values, t * m);
    });
  }
  if (parts.length > 0 && !ownWeight && parts.some((p) => p.kind === 'own')) {
    throw new MergeLabError('PARAMETER_INVALID', `"${weight}" is excluded for some tasks but not others; an excluded tensor is every task's own.`);
  }
  return { v, usT, columnTask, totalRank: R, denseWeights, bias: b, ownWeight, ownBias };
}

function sharedTensor(shared: TensorValues, name: string, size: number): Float32Array {
  const v = shared[name];
  if (!v) throw new MergeLabError('TENSOR_MISSING', `The shared expert has no tensor "${name}", which the architecture reads.`);
  if (v.length !== size) throw new MergeLabError('SHAPE_MISMATCH', `The shared expert's "${name}" has ${v.length} values; the architecture needs ${size}.`);
  return v;
}

/** One-hot rows of each sample's largest weight (the first on a tie): the routed task, for excluded tensors. */
function oneHotOfLargest(weights: Float32Array, count: number, T: number): Float32Array {
  const out = new Float32Array(count * T);
  for (let s = 0; s < count; s++) {
    let best = 0;
    for (let t = 1; t < T; t++) if (weights[s * T + t]! > weights[s * T + best]!) best = t;
    out[s * T + best] = 1;
  }
  return out;
}

/** x·Wᵀ + b with W given as [outputs, inputs]; an explicit transpose because tfjs-wasm's transposeB is slow. */
function dense(h: tf.Tensor2D, w: Float32Array, b: Float32Array, m: number, n: number): tf.Tensor2D {
  return tf.add(tf.matMul(h, tf.transpose(tf.tensor2d(w, [m, n]))), tf.tensor1d(b)) as tf.Tensor2D;
}

function scaledInputs(arch: Architecture, inputs: Float32Array, count: number): tf.Tensor2D {
  const features = arch.input.height * arch.input.width;
  if (inputs.length !== count * features) {
    throw new MergeLabError('SHAPE_MISMATCH', `${inputs.length} input values are not ${count} samples of ${arch.input.height}×${arch.input.width}.`);
  }
  return tf.mul(tf.tensor2d(inputs, [count, features]), arch.input.scale) as tf.Tensor2D;
}

async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from((await t.data()) as Float32Array);
  } finally {
    t.dispose();
  }
}

/**
 * The features the router reads: the shared model's penultimate activations (the output of the
 * layer before the last; for the demo MLP, its ReLU hidden layer), count × width, row-major. A
 * one-layer model has no hidden layer, so its (scaled) inputs are the features.
 */
export async function sharedFeatures(arch: Architecture, shared: TensorValues, inputs: Float32Array, count: number): Promise<Float32Array> {
  if (count === 0) return new Float32Array(0);
  const t = tf.tidy(() => {
    let h = scaledInputs(arch, inputs, count);
    for (const l of arch.layers.slice(0, -1)) {
      const z = dense(h, sharedTensor(shared, l.weight, l.outputs * l.inputs), sharedTensor(shared, l.bias, l.outputs), l.outputs, l.inputs);
      h = l.activation === 'relu' ? tf.relu(z) : z;
    }
    return h;
  });
  return readAndDispose(t);
}

/** Width of the features sharedFeatures gives for `arch`. */
export function featureWidth(arch: Architecture): number {
  return arch.layers.length > 1 ? arch.layers.at(-2)!.outputs : arch.input.height * arch.input.width;
}

/**
 * Logits (count × classes) of the dynamically merged model: each sample s runs through
 * θ* + Σt weights[s, t]·Δt, computed per layer as in the file header. `weights` is count × T
 * (router weights, top-k or temperature applied; or one-hot for oracle routing). Tensors not in
 * `exclusive` are the shared expert's alone. Leaves no tensor behind.
 */
export async function dynamicLogits(
  arch: Architecture,
  shared: TensorValues,
  exclusive: ExclusiveKnowledge,
  inputs: Float32Array,
  count: number,
  weights: Float32Array,
): Promise<Float32Array> {
  const T = exclusive.tasks.length;
  if (weights.length !== count * T) {
    throw new MergeLabError('SHAPE_MISMATCH', `Routing weights hold ${weights.length} values; ${count} samples × ${T} tasks (${exclusive.tasks.join(', ')}) need ${count * T}.`);
  }
  if (count === 0) return new Float32Array(0);
  const index = tensorIndex(exclusive);
  // Build the concatenated factors before tidy: plain arrays, and errors before any tensor exists.
  const factors = arch.layers.map((l) => layerFactors(exclusive, index, l.weight, l.bias, l.outputs, l.inputs));
  const hard = factors.some((f) => f.ownWeight || f.ownBias) ? oneHotOfLargest(weights, count, T) : undefined;
  const t = tf.tidy(() => {
    const w = tf.tensor2d(weights, [count, T]);
    const hw = hard ? tf.tensor2d(hard, [count, T]) : w;
    let h = scaledInputs(arch, inputs, count);
    arch.layers.forEach((l, i) => {
      const f = factors[i]!;
      const m = l.outputs;
      const n = l.inputs;
      let z = f.ownWeight ? (tf.zeros([count, m]) as tf.Tensor2D) : (tf.matMul(h, tf.transpose(tf.tensor2d(sharedTensor(shared, l.weight, m * n), [m, n]))) as tf.Tensor2D);
      if (!f.ownBias) z = tf.add(z, tf.tensor1d(sharedTensor(shared, l.bias, m))) as tf.Tensor2D;
      if (f.totalRank > 0) {
        const xv = tf.matMul(h, tf.tensor2d(f.v, [n, f.totalRank]));
        const scaled = tf.mul(xv, tf.gather(w, tf.tensor1d(f.columnTask, 'int32'), 1));
        z = tf.add(z, tf.matMul(scaled as tf.Tensor2D, tf.tensor2d(f.usT, [f.totalRank, m]))) as tf.Tensor2D;
      }
      const ww = f.ownWeight ? hw : w;
      for (const d of f.denseWeights) {
        const y = tf.matMul(h, tf.transpose(tf.tensor2d(d.delta, [m, n])));
        z = tf.add(z, tf.mul(y, tf.slice(ww, [0, d.task], [count, 1]))) as tf.Tensor2D;
      }
      if (f.bias) z = tf.add(z, tf.matMul(f.ownBias ? hw : w, tf.tensor2d(f.bias, [T, m]))) as tf.Tensor2D;
      h = l.activation === 'relu' ? tf.relu(z) : z;
    });
    return h;
  });
  return readAndDispose(t);
}
