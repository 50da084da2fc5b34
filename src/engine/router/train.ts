/**
 * Training the task router: a one-hidden-layer ReLU MLP on standardised features, softmax
 * cross-entropy against the true task, Adam, minibatches. The backward pass is written out because
 * tfjs-core alone registers no gradients (as in scripts/demo-train.ts), and for two dense layers
 * the chain rule is a few lines. Initial weights and batch order come from the seeded generator in
 * ../random.ts, so one seed gives bit-identical weights and curve on a given backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { createRandom, shuffleInPlace } from '../random.js';
import { DEFAULT_ROUTER_OPTIONS, type EpochStats, type RouterOptions, type RouterWeights, type TrainedRouter } from './types.js';

/** Labelled features to train on: `count` rows of `featureSize` values, one task index per row. */
export interface RouterTrainingSet {
  readonly features: Float32Array;
  readonly featureSize: number;
  /** Task index of each row, 0 ≤ label < tasks. */
  readonly labels: ArrayLike<number>;
  readonly tasks: number;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/** Fills defaults and rejects settings training cannot use, naming the setting. */
export function resolveRouterOptions(o: RouterOptions = {}): Required<RouterOptions> {
  const r = { ...DEFAULT_ROUTER_OPTIONS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<RouterOptions>;
  const int = (name: keyof RouterOptions, min: number) => {
    const v = r[name];
    if (!Number.isInteger(v) || v < min) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Router setting "${name}" must be an integer ≥ ${min}, got ${v}.`);
  };
  int('hidden', 1);
  int('epochs', 1);
  int('batchSize', 1);
  int('seed', 0);
  if (!(r.learningRate > 0) || !Number.isFinite(r.learningRate)) {
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Router setting "learningRate" must be a positive number, got ${r.learningRate}.`);
  }
  return r;
}

/**
 * Per-feature mean and spread of the training rows. A feature that barely varies in training (a
 * ReLU unit that never fired on this split) gets a floor on its spread, tied to the typical
 * feature's, so that it cannot blow up when it does fire on new inputs.
 */
export function featureStandardisation(features: Float32Array, count: number, size: number): { mean: Float32Array; std: Float32Array } {
  const mean = new Float64Array(size);
  const sq = new Float64Array(size);
  for (let i = 0; i < count; i++) {
    const row = i * size;
    for (let j = 0; j < size; j++) mean[j]! += features[row + j]!;
  }
  for (let j = 0; j < size; j++) mean[j]! /= count;
  for (let i = 0; i < count; i++) {
    const row = i * size;
    for (let j = 0; j < size; j++) {
      const d = features[row + j]! - mean[j]!;
      sq[j]! += d * d;
    }
  }
  let meanVar = 0;
  for (let j = 0; j < size; j++) meanVar += sq[j]! / count;
  meanVar /= size;
  const floor = 0.01 * meanVar + 1e-12;
  const std = new Float32Array(size);
  for (let j = 0; j < size; j++) std[j] = Math.sqrt(sq[j]! / count + floor);
  return { mean: Float32Array.from(mean), std };
}

function checkSet(set: RouterTrainingSet): number {
  const { features, featureSize, labels, tasks } = set;
  if (!Number.isInteger(tasks) || tasks < 2) throw new MergeLabError('PARAMETER_INVALID', `A router needs at least 2 tasks to choose between, got ${tasks}.`);
  if (!Number.isInteger(featureSize) || featureSize < 1 || features.length % featureSize !== 0) {
    throw new MergeLabError('SHAPE_MISMATCH', `Router features hold ${features.length} values, not a whole number of rows of ${featureSize}.`);
  }
  const count = features.length / featureSize;
  if (count === 0) throw new MergeLabError('PARAMETER_INVALID', 'The router has no training samples; give it the validation split of at least one task.');
  if (labels.length !== count) throw new MergeLabError('SHAPE_MISMATCH', `The router got ${count} feature rows but ${labels.length} task labels.`);
  for (let i = 0; i < count; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= tasks) throw new MergeLabError('PARAMETER_INVALID', `Router label ${i} is ${l}; task labels must be integers 0..${tasks - 1}.`);
  }
  return count;
}

/** A variable holding `init()`; the initial tensor itself is freed (tf.variable keeps its own reference). */
function variableOf(init: () => tf.Tensor): tf.Variable {
  const t = init();
  try {
    return tf.variable(t);
  } finally {
    t.dispose();
  }
}

/** Row-major [rows, cols] → [cols, rows]. */
export function transposeMatrix(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/**
 * Trains a router on `set` (the validation split's features of the shared model, never the test
 * split). Leaves no tensor behind. Throws PARAMETER_OUT_OF_RANGE for a bad option and
 * PARAMETER_INVALID / SHAPE_MISMATCH for unusable data.
 */
export async function trainRouter(set: RouterTrainingSet, options: RouterOptions = {}): Promise<TrainedRouter> {
  const o = resolveRouterOptions(options);
  const count = checkSet(set);
  const { featureSize: F, tasks: T } = set;
  const H = o.hidden;
  const { mean, std } = featureStandardisation(set.features, count, F);
  const standardised = new Float32Array(set.features.length);
  for (let i = 0; i < count; i++) for (let j = 0; j < F; j++) standardised[i * F + j] = (set.features[i * F + j]! - mean[j]!) / std[j]!;

  // torch nn.Linear's default initialisation, drawn in nn.Linear's [outputs, inputs] order.
  const random = createRandom(o.seed);
  const uniform = (n: number, fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    return Float32Array.from({ length: n }, () => (2 * random() - 1) * bound);
  };
  const fc1 = uniform(H * F, F);
  const b1 = uniform(H, F);
  const fc2 = uniform(T * H, H);
  const b2 = uniform(T, H);
  // A second stream for the batch order, so changing the architecture does not reshuffle batches.
  const shuffle = createRandom((o.seed ^ 0x2545f491) >>> 0);

  const x = tf.tensor2d(standardised, [count, F]);
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(set.labels), 'int32'), T), 'float32'));
  // Held as [inputs, outputs] while training: tfjs-wasm's matMul with a transposed operand is slow.
  const params = {
    w1: variableOf(() => tf.tensor2d(transposeMatrix(fc1, H, F), [F, H])),
    b1: variableOf(() => tf.tensor1d(b1)),
    w2: variableOf(() => tf.tensor2d(transposeMatrix(fc2, T, H), [H, T])),
    b2: variableOf(() => tf.tensor1d(b2)),
  };
  type Key = keyof typeof params;
  const keys = Object.keys(params) as Key[];
  const m = Object.fromEntries(keys.map((k) => [k, variableOf(() => tf.zerosLike(params[k]))])) as Record<Key, tf.Variable>;
  const v = Object.fromEntries(keys.map((k) => [k, variableOf(() => tf.zerosLike(params[k]))])) as Record<Key, tf.Variable>;
  let step = 0;
  const adam = (grads: Record<Key, tf.Tensor>) => {
    step++;
    const c1 = 1 - BETA1 ** step;
    const c2 = 1 - BETA2 ** step;
    for (const k of keys) {
      const g = grads[k];
      m[k].assign(tf.add(tf.mul(m[k], BETA1), tf.mul(g, 1 - BETA1)));
      v[k].assign(tf.add(tf.mul(v[k], BETA2), tf.mul(tf.square(g), 1 - BETA2)));
      const update = tf.div(tf.mul(m[k], o.learningRate / c1), tf.add(tf.sqrt(tf.div(v[k], c2)), EPSILON));
      params[k].assign(tf.sub(params[k], update));
    }
  };

  const order = Array.from({ length: count }, (_, i) => i);
  const curve: EpochStats[] = [];
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      shuffleInPlace(order, shuffle);
      const stats: tf.Tensor[] = [];
      try {
        for (let at = 0; at < count; at += o.batchSize) {
          const rows = order.slice(at, at + o.batchSize);
          const n = rows.length;
          stats.push(
            tf.tidy(() => {
              const idx = tf.tensor1d(Int32Array.from(rows), 'int32');
              const xb = tf.gather(x, idx) as tf.Tensor2D;
              const yb = tf.gather(y, idx) as tf.Tensor2D;
              const h = tf.relu(tf.add(tf.matMul(xb, params.w1), params.b1)) as tf.Tensor2D;
              const logits = tf.add(tf.matMul(h, params.w2), params.b2) as tf.Tensor2D;
              const logProb = tf.sub(logits, tf.logSumExp(logits, 1, true));
              const lossSum = tf.neg(tf.sum(tf.mul(yb, logProb)));
              const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(yb, 1)), 'float32'));
              // d(mean cross-entropy)/d(logits) = (softmax − one-hot) / batch size.
              const d = tf.div(tf.sub(tf.exp(logProb), yb), n) as tf.Tensor2D;
              const dh = tf.mul(tf.matMul(d, tf.transpose(params.w2)), tf.step(h)) as tf.Tensor2D;
              adam({
                w2: tf.matMul(tf.transpose(h), d),
                b2: tf.sum(d, 0),
                w1: tf.matMul(tf.transpose(xb), dh),
                b1: tf.sum(dh, 0),
              });
              return tf.stack([lossSum, correct]);
            }),
          );
        }
        const sums = tf.tidy(() => tf.sum(tf.stack(stats), 0));
        const [loss, correct] = Array.from(await sums.data());
        sums.dispose();
        curve.push({ epoch, loss: loss! / count, accuracy: correct! / count });
      } finally {
        for (const s of stats) s.dispose();
      }
    }
    const [w1, bb1, w2, bb2] = await Promise.all([params.w1.data(), params.b1.data(), params.w2.data(), params.b2.data()]);
    const router: RouterWeights = {
      features: F,
      hidden: H,
      tasks: T,
      mean,
      std,
      fc1Weight: transposeMatrix(w1 as Float32Array, F, H),
      fc1Bias: Float32Array.from(bb1 as Float32Array),
      fc2Weight: transposeMatrix(w2 as Float32Array, H, T),
      fc2Bias: Float32Array.from(bb2 as Float32Array),
    };
    return { router, curve, options: o };
  } finally {
    x.dispose();
    y.dispose();
    for (const k of keys) {
      params[k].dispose();
      m[k].dispose();
      v[k].dispose();
    }
  }
}
