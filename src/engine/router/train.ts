/**
 * Training the task router (types.ts: the paper's architecture or the small one): softmax
 * cross-entropy against the true task, Adam, minibatches, and — given held-out samples — a
 * validation curve, early stopping and the best epoch's weights kept. The backward pass is written
 * out because tfjs-core alone registers no gradients (as in scripts/demo-train.ts); for a stack of
 * Linear → BatchNorm → activation → dropout layers the chain rule is a few lines per step. Initial
 * weights, batch order and dropout masks come from seeded generators (../random.ts), so one seed
 * gives bit-identical weights and curve on a given backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { createRandom, shuffleInPlace } from '../random.js';
import { routerLogitsTensor } from './route.js';
import {
  BATCH_NORM_EPS,
  LEAKY_SLOPE,
  ROUTER_ARCHITECTURES,
  ROUTER_DEFAULTS,
  type EpochStats,
  type ResolvedRouterOptions,
  type RouterLayer,
  type RouterOptions,
  type RouterWeights,
  type TrainedRouter,
} from './types.js';

/** Labelled features: `count` rows of `featureSize` values, one task index per row. */
export interface RouterTrainingSet {
  readonly features: Float32Array;
  readonly featureSize: number;
  /** Task index of each row, 0 ≤ label < tasks. */
  readonly labels: ArrayLike<number>;
  readonly tasks: number;
  /** Samples kept out of the gradient steps: the validation curve, early stopping and the epoch kept. */
  readonly heldOut?: { readonly features: Float32Array; readonly labels: ArrayLike<number> };
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;
/** torch's BatchNorm1d momentum for the running statistics. */
const NORM_MOMENTUM = 0.1;
/** How much lower (nats) a held-out loss must be to count as better: below it the router is already sure. */
export const MIN_DELTA = 1e-3;

/** Fills the architecture's defaults and rejects settings training cannot use, naming the setting. */
export function resolveRouterOptions(o: RouterOptions = {}): ResolvedRouterOptions {
  const architecture = o.architecture ?? 'paper';
  if (!ROUTER_ARCHITECTURES.includes(architecture)) {
    throw new MergeLabError('PARAMETER_INVALID', `Router setting "architecture" must be ${ROUTER_ARCHITECTURES.join(' or ')}, got "${String(architecture)}".`);
  }
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const r = { ...ROUTER_DEFAULTS[architecture], ...given } as ResolvedRouterOptions;
  const int = (name: 'epochs' | 'batchSize' | 'seed' | 'patience', min: number) => {
    const v = r[name];
    if (!Number.isInteger(v) || v < min) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Router setting "${name}" must be an integer ≥ ${min}, got ${v}.`);
  };
  if (r.hidden !== 'twice the features' && (!Number.isInteger(r.hidden) || r.hidden < 1)) {
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Router setting "hidden" must be an integer ≥ 1, got ${r.hidden}.`);
  }
  int('epochs', 1);
  int('batchSize', 1);
  int('seed', 0);
  int('patience', 1);
  if (!(r.learningRate > 0) || !Number.isFinite(r.learningRate)) {
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Router setting "learningRate" must be a positive number, got ${r.learningRate}.`);
  }
  if (!(r.dropout >= 0 && r.dropout < 1)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Router setting "dropout" must be in [0, 1), got ${r.dropout}.`);
  return r;
}

/** The options with `hidden` worked out for `featureSize` input features. */
export function routerOptionsFor(o: ResolvedRouterOptions, featureSize: number): Required<RouterOptions> {
  return { ...o, hidden: o.hidden === 'twice the features' ? 2 * featureSize : o.hidden };
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

function checkRows(features: Float32Array, featureSize: number, labels: ArrayLike<number>, tasks: number, what: string): number {
  if (!Number.isInteger(featureSize) || featureSize < 1 || features.length % featureSize !== 0) {
    throw new MergeLabError('SHAPE_MISMATCH', `Router ${what} features hold ${features.length} values, not a whole number of rows of ${featureSize}.`);
  }
  const count = features.length / featureSize;
  if (labels.length !== count) throw new MergeLabError('SHAPE_MISMATCH', `The router got ${count} ${what} feature rows but ${labels.length} task labels.`);
  for (let i = 0; i < count; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= tasks) throw new MergeLabError('PARAMETER_INVALID', `Router ${what} label ${i} is ${l}; task labels must be integers 0..${tasks - 1}.`);
  }
  return count;
}

function checkSet(set: RouterTrainingSet): { count: number; heldOut: number } {
  const { tasks } = set;
  if (!Number.isInteger(tasks) || tasks < 2) throw new MergeLabError('PARAMETER_INVALID', `A router needs at least 2 tasks to choose between, got ${tasks}.`);
  const count = checkRows(set.features, set.featureSize, set.labels, tasks, 'training');
  if (count === 0) throw new MergeLabError('PARAMETER_INVALID', 'The router has no training samples; give it the validation split of at least one task.');
  const heldOut = set.heldOut ? checkRows(set.heldOut.features, set.featureSize, set.heldOut.labels, tasks, 'held-out') : 0;
  return { count, heldOut };
}

/**
 * Splits a validation split's samples into the router's training part and its held-out part:
 * within each task, every `every`-th sample (the 4th, 8th, … by default) is held out, so both
 * parts hold every task in the same proportion. Returns sample indices.
 */
export function routerSplit(taskOf: ArrayLike<number>, every = 4): { training: number[]; heldOut: number[] } {
  const seen = new Map<number, number>();
  const training: number[] = [];
  const heldOut: number[] = [];
  for (let i = 0; i < taskOf.length; i++) {
    const k = (seen.get(taskOf[i]!) ?? 0) + 1;
    seen.set(taskOf[i]!, k);
    (k % every === 0 ? heldOut : training).push(i);
  }
  return { training, heldOut };
}

/** Rows `picks` of a row-major matrix of `width` columns. */
export function pickRows(values: Float32Array, width: number, picks: readonly number[]): Float32Array {
  const out = new Float32Array(picks.length * width);
  picks.forEach((i, k) => out.set(values.subarray(i * width, (i + 1) * width), k * width));
  return out;
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

/** The trainable and running state of one layer while training ([inputs, outputs] weights: a plain x·W). */
interface LayerState {
  readonly inputs: number;
  readonly outputs: number;
  readonly w: tf.Variable;
  readonly b: tf.Variable;
  readonly gamma?: tf.Variable;
  readonly beta?: tf.Variable;
  readonly runningMean?: tf.Variable;
  readonly runningVar?: tf.Variable;
  readonly activation: RouterLayer['activation'];
}

/**
 * Trains a router on `set` (features of the validation split, never the test split). Leaves no
 * tensor behind. Throws PARAMETER_OUT_OF_RANGE for a bad option and PARAMETER_INVALID /
 * SHAPE_MISMATCH for unusable data.
 */
export async function trainRouter(set: RouterTrainingSet, options: RouterOptions = {}): Promise<TrainedRouter> {
  const resolved = resolveRouterOptions(options);
  const { count, heldOut } = checkSet(set);
  const { featureSize: F, tasks: T } = set;
  const o = routerOptionsFor(resolved, F);
  const H = o.hidden;
  const paper = o.architecture === 'paper';
  const { mean, std } = featureStandardisation(set.features, count, F);
  const standardise = (values: Float32Array) => {
    const out = new Float32Array(values.length);
    for (let i = 0; i < out.length; i++) out[i] = (values[i]! - mean[i % F]!) / std[i % F]!;
    return out;
  };

  // torch nn.Linear's default initialisation, drawn in nn.Linear's [outputs, inputs] order.
  const random = createRandom(o.seed);
  const uniform = (n: number, fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    return Float32Array.from({ length: n }, () => (2 * random() - 1) * bound);
  };
  const shapes: { inputs: number; outputs: number; hidden: boolean }[] = paper
    ? [
        { inputs: F, outputs: H, hidden: true },
        { inputs: H, outputs: H, hidden: true },
        { inputs: H, outputs: T, hidden: false },
      ]
    : [
        { inputs: F, outputs: H, hidden: true },
        { inputs: H, outputs: T, hidden: false },
      ];
  const initial = shapes.map((s) => ({ w: uniform(s.outputs * s.inputs, s.inputs), b: uniform(s.outputs, s.inputs) }));
  // Separate streams for the batch order and the dropout masks, so changing one leaves the others.
  const shuffle = createRandom((o.seed ^ 0x2545f491) >>> 0);
  const drop = createRandom((o.seed ^ 0x6a09e667) >>> 0);

  const x = tf.tensor2d(standardise(set.features), [count, F]);
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(set.labels), 'int32'), T), 'float32'));
  const held = set.heldOut && heldOut > 0 ? { x: tf.tensor2d(standardise(set.heldOut.features), [heldOut, F]), labels: Int32Array.from(set.heldOut.labels) } : undefined;
  const layers: LayerState[] = shapes.map((s, i) => ({
    inputs: s.inputs,
    outputs: s.outputs,
    w: variableOf(() => tf.tensor2d(transposeMatrix(initial[i]!.w, s.outputs, s.inputs), [s.inputs, s.outputs])),
    b: variableOf(() => tf.tensor1d(initial[i]!.b)),
    ...(paper && s.hidden
      ? {
          gamma: variableOf(() => tf.ones([s.outputs])),
          beta: variableOf(() => tf.zeros([s.outputs])),
          runningMean: variableOf(() => tf.zeros([s.outputs])),
          runningVar: variableOf(() => tf.ones([s.outputs])),
        }
      : {}),
    activation: !s.hidden ? 'none' : paper ? 'leaky_relu' : 'relu',
  }));
  const trainable = layers.flatMap((l) => [l.w, l.b, ...(l.gamma ? [l.gamma, l.beta!] : [])]);
  const m = trainable.map((p) => variableOf(() => tf.zerosLike(p)));
  const v = trainable.map((p) => variableOf(() => tf.zerosLike(p)));
  let step = 0;
  const adam = (grads: readonly tf.Tensor[]) => {
    step++;
    const c1 = 1 - BETA1 ** step;
    const c2 = 1 - BETA2 ** step;
    trainable.forEach((p, k) => {
      const g = grads[k]!;
      m[k]!.assign(tf.add(tf.mul(m[k]!, BETA1), tf.mul(g, 1 - BETA1)));
      v[k]!.assign(tf.add(tf.mul(v[k]!, BETA2), tf.mul(tf.square(g), 1 - BETA2)));
      p.assign(tf.sub(p, tf.div(tf.mul(m[k]!, o.learningRate / c1), tf.add(tf.sqrt(tf.div(v[k]!, c2)), EPSILON))));
    });
  };

  /** One minibatch: forward in training mode, the chain rule back, an Adam step; returns [loss sum, correct]. */
  const trainBatch = (rows: readonly number[]): tf.Tensor => {
    const n = rows.length;
    const masks = o.dropout > 0 ? layers.filter((l) => l.activation !== 'none').map((l) => dropoutMask(n * l.outputs, o.dropout, drop)) : [];
    return tf.tidy(() => {
      const idx = tf.tensor1d(Int32Array.from(rows), 'int32');
      let a = tf.gather(x, idx) as tf.Tensor2D;
      const yb = tf.gather(y, idx) as tf.Tensor2D;
      const saved: { input: tf.Tensor2D; z: tf.Tensor2D; xhat?: tf.Tensor2D; invStd?: tf.Tensor1D; pre?: tf.Tensor2D; mask?: tf.Tensor2D }[] = [];
      layers.forEach((l, i) => {
        const z = tf.add(tf.matMul(a, l.w), l.b) as tf.Tensor2D;
        const s: (typeof saved)[number] = { input: a, z };
        saved.push(s);
        if (l.activation === 'none') {
          a = z;
          return;
        }
        let pre = z;
        if (l.gamma) {
          const { mean: mu, variance } = tf.moments(z, 0);
          const invStd = tf.rsqrt(tf.add(variance, BATCH_NORM_EPS)) as tf.Tensor1D;
          const xhat = tf.mul(tf.sub(z, mu), invStd) as tf.Tensor2D;
          s.xhat = xhat;
          s.invStd = invStd;
          pre = tf.add(tf.mul(xhat, l.gamma), l.beta!) as tf.Tensor2D;
          // torch keeps the unbiased batch variance in the running statistics.
          const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
          l.runningMean!.assign(tf.add(tf.mul(l.runningMean!, 1 - NORM_MOMENTUM), tf.mul(mu, NORM_MOMENTUM)));
          l.runningVar!.assign(tf.add(tf.mul(l.runningVar!, 1 - NORM_MOMENTUM), tf.mul(unbiased, NORM_MOMENTUM)));
        }
        s.pre = pre;
        a = (l.activation === 'relu' ? tf.relu(pre) : tf.leakyRelu(pre, LEAKY_SLOPE)) as tf.Tensor2D;
        const mask = masks[i];
        if (mask) {
          s.mask = tf.tensor2d(mask, [n, l.outputs]);
          a = tf.mul(a, s.mask) as tf.Tensor2D;
        }
      });
      const logits = a;
      const logProb = tf.sub(logits, tf.logSumExp(logits, 1, true));
      const lossSum = tf.neg(tf.sum(tf.mul(yb, logProb)));
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(yb, 1)), 'float32'));
      // d(mean cross-entropy)/d(logits) = (softmax − one-hot) / batch size.
      let d = tf.div(tf.sub(tf.exp(logProb), yb), n) as tf.Tensor2D;
      const grads = new Map<tf.Variable, tf.Tensor>();
      for (let i = layers.length - 1; i >= 0; i--) {
        const l = layers[i]!;
        const s = saved[i]!;
        if (l.activation !== 'none') {
          if (s.mask) d = tf.mul(d, s.mask) as tf.Tensor2D;
          const slope = l.activation === 'relu' ? tf.step(s.pre!) : tf.where(tf.greater(s.pre!, 0), tf.onesLike(s.pre!), tf.fill(s.pre!.shape, LEAKY_SLOPE));
          d = tf.mul(d, slope) as tf.Tensor2D;
          if (l.gamma) {
            // Batch norm's backward: dz = γ·invStd/n · (n·dy − Σdy − x̂·Σ(dy·x̂)).
            const dyXhat = tf.sum(tf.mul(d, s.xhat!), 0);
            const dySum = tf.sum(d, 0);
            grads.set(l.gamma, dyXhat);
            grads.set(l.beta!, dySum);
            d = tf.mul(tf.div(tf.mul(l.gamma, s.invStd!), n), tf.sub(tf.sub(tf.mul(d, n), dySum), tf.mul(s.xhat!, dyXhat))) as tf.Tensor2D;
          }
        }
        grads.set(l.w, tf.matMul(tf.transpose(s.input), d));
        grads.set(l.b, tf.sum(d, 0));
        if (i > 0) d = tf.matMul(d, tf.transpose(l.w)) as tf.Tensor2D;
      }
      adam(trainable.map((p) => grads.get(p)!));
      return tf.stack([lossSum, correct]);
    });
  };

  const snapshot = async (): Promise<RouterWeights> => {
    const read = async (t: tf.Tensor) => Float32Array.from((await t.data()) as Float32Array);
    const out: RouterLayer[] = [];
    for (const l of layers) {
      out.push({
        inputs: l.inputs,
        outputs: l.outputs,
        weight: transposeMatrix(await read(l.w), l.inputs, l.outputs),
        bias: await read(l.b),
        ...(l.gamma
          ? { norm: { weight: await read(l.gamma), bias: await read(l.beta!), runningMean: await read(l.runningMean!), runningVar: await read(l.runningVar!), eps: BATCH_NORM_EPS } }
          : {}),
        activation: l.activation,
      });
    }
    return { architecture: o.architecture, features: F, hidden: H, tasks: T, mean, std, layers: out };
  };

  const order = Array.from({ length: count }, (_, i) => i);
  const curve: EpochStats[] = [];
  let best: { epoch: number; accuracy: number; loss: number; router: RouterWeights } | undefined;
  let router: RouterWeights | undefined;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      shuffleInPlace(order, shuffle);
      const stats: tf.Tensor[] = [];
      let loss = 0;
      let correct = 0;
      try {
        for (let at = 0; at < count; at += o.batchSize) stats.push(trainBatch(order.slice(at, at + o.batchSize)));
        const sums = tf.tidy(() => tf.sum(tf.stack(stats), 0));
        [loss, correct] = Array.from(await sums.data()) as [number, number];
        sums.dispose();
      } finally {
        for (const s of stats) s.dispose();
      }
      const entry: EpochStats = { epoch, loss: loss / count, accuracy: correct / count };
      if (!held) {
        curve.push(entry);
        continue;
      }
      const weights = await snapshot();
      const h = await heldOutStats(weights, held.x, held.labels);
      curve.push({ ...entry, validationLoss: h.loss, validationAccuracy: h.accuracy });
      // Ours: the epoch with the lowest held-out loss is kept (the paper's code keeps the best
      // held-out accuracy). Soft routing uses the router's probabilities, not only its argmax, and
      // on the demo accuracy is perfect after an epoch whose softmax is still nearly uniform.
      // An epoch counts as better when it lowers the loss by more than MIN_DELTA.
      if (!best || h.loss < best.loss - MIN_DELTA) best = { epoch, accuracy: h.accuracy, loss: h.loss, router: weights };
      else if (epoch - best.epoch >= o.patience) break;
    }
    router = best?.router ?? (await snapshot());
  } finally {
    x.dispose();
    y.dispose();
    held?.x.dispose();
    for (const l of layers) for (const t of [l.w, l.b, l.gamma, l.beta, l.runningMean, l.runningVar]) t?.dispose();
    for (const t of [...m, ...v]) t.dispose();
  }
  return { router, curve, options: o, bestEpoch: best?.epoch ?? curve.length, samples: { training: count, heldOut } };
}

/** Inverted dropout: each unit kept with probability 1 − p and scaled by 1 / (1 − p), from a seeded stream. */
function dropoutMask(n: number, p: number, random: () => number): Float32Array {
  const keep = 1 / (1 - p);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = random() < p ? 0 : keep;
  return out;
}

/** Held-out mean cross-entropy and accuracy of `router` on already standardised rows. */
async function heldOutStats(router: RouterWeights, standardised: tf.Tensor2D, labels: Int32Array): Promise<{ loss: number; accuracy: number }> {
  const n = labels.length;
  const t = tf.tidy(() => {
    const logits = routerLogitsTensor(router, standardised, true);
    const logProb = tf.sub(logits, tf.logSumExp(logits, 1, true));
    const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), router.tasks), 'float32');
    const loss = tf.neg(tf.sum(tf.mul(y, logProb)));
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(labels, 'int32')), 'float32'));
    return tf.stack([loss, correct]);
  });
  try {
    const [loss, correct] = Array.from(await t.data()) as [number, number];
    return { loss: loss / n, accuracy: correct / n };
  } finally {
    t.dispose();
  }
}

/**
 * trainRouter on a validation split's features with its every `every`-th sample per task held out
 * (routerSplit): the gradient steps see the rest, the held-out part draws the validation curve and
 * chooses the epoch kept.
 */
export async function trainRouterOnSplit(set: Omit<RouterTrainingSet, 'heldOut'>, options: RouterOptions = {}, every = 4): Promise<TrainedRouter> {
  const { training, heldOut } = routerSplit(set.labels, every);
  const labelsOf = (picks: readonly number[]) => Int32Array.from(picks, (i) => set.labels[i]!);
  return trainRouter(
    {
      features: pickRows(set.features, set.featureSize, training),
      featureSize: set.featureSize,
      labels: labelsOf(training),
      tasks: set.tasks,
      ...(heldOut.length ? { heldOut: { features: pickRows(set.features, set.featureSize, heldOut), labels: labelsOf(heldOut) } } : {}),
    },
    options,
  );
}

/** Resolved options back as options (a hidden width still to be worked out is left to trainRouter). */
export function routerOptionsOf(r: ResolvedRouterOptions): RouterOptions {
  const { hidden, ...rest } = r;
  return { ...rest, ...(hidden === 'twice the features' ? {} : { hidden }) };
}
