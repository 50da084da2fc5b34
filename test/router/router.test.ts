/**
 * The task router: weights from logits (temperature, top-k) against hand-worked numbers, the
 * routing numbers, training on separable synthetic features for both architectures (the paper's
 * d → 2d → 2d → T with batch norm and dropout by default, the small one as an option: learns,
 * bit-identical under one seed, no tensors left behind), the held-out curve with early stopping and
 * the best epoch kept, inference against a float64 forward, and its tensors round trip.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { memorySource, openSafetensors, serializeSafetensors } from '../../src/engine/io/index.js';
import { createRandom } from '../../src/engine/random.js';
import {
  argmaxTasks,
  meanWeightsByTask,
  oneHotWeights,
  routerFromTensors,
  routerLogits,
  routerParameterCount,
  routerTensors,
  routingAccuracy,
  routingAccuracyByTask,
  routingWeights,
  MIN_DELTA,
  resolveRouterOptions,
  routerSplit,
  trainRouter,
  type RouterWeights,
} from '../../src/engine/router/index.js';
import { expectCode } from '../io/helpers.js';

/** `perTask` samples of each of `tasks` Gaussian clusters in `dim` dimensions, well apart; centres from `seed`, noise from `noiseSeed`. */
function clusters(tasks: number, perTask: number, dim: number, seed: number, noiseSeed = seed, spread = 0.3) {
  const gaussFrom = (random: () => number) => () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centreDraw = gaussFrom(createRandom(seed));
  const gauss = gaussFrom(createRandom(noiseSeed + 1000));
  const centres = Array.from({ length: tasks }, () => Array.from({ length: dim }, () => 2 * centreDraw()));
  const count = tasks * perTask;
  const features = new Float32Array(count * dim);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const t = i % tasks;
    labels[i] = t;
    // ReLU-like features: non-negative, as the shared model's hidden activations are.
    for (let j = 0; j < dim; j++) features[i * dim + j] = Math.max(0, centres[t]![j]! + spread * gauss());
  }
  return { features, labels, count };
}

describe('routing weights', () => {
  const logits = Float32Array.from([2, 1, 0, /**/ 0, 0, 0]);
  it('softmax with temperature 1 and a sharper one at temperature 0.5', () => {
    const z = Math.exp(2) + Math.exp(1) + 1;
    const w = routingWeights(logits, 3);
    expect(Array.from(w.subarray(0, 3))).toEqual([Math.exp(2) / z, Math.exp(1) / z, 1 / z].map(Math.fround));
    expect(Array.from(w.subarray(3))).toEqual([1 / 3, 1 / 3, 1 / 3].map(Math.fround));
    const z2 = Math.exp(4) + Math.exp(2) + 1;
    expect(routingWeights(logits, 3, { temperature: 0.5 })[0]).toBeCloseTo(Math.exp(4) / z2, 6);
  });
  it('top-k keeps the k largest, renormalised; an equal weight goes to the earlier task', () => {
    const w = routingWeights(logits, 3, { topK: 2 });
    const z = Math.exp(2) + Math.exp(1);
    expect(Array.from(w.subarray(0, 3))).toEqual([Math.exp(2) / z, Math.exp(1) / z, 0].map(Math.fround));
    expect(Array.from(w.subarray(3))).toEqual([0.5, 0.5, 0]);
    expect(Array.from(routingWeights(logits, 3, { topK: 1 }))).toEqual([1, 0, 0, 1, 0, 0]);
  });
  it('rejects a temperature ≤ 0 and a top-k outside 1..T, naming the setting', async () => {
    await expectCode(() => routingWeights(logits, 3, { temperature: 0 }), 'PARAMETER_OUT_OF_RANGE', 'temperature');
    await expectCode(() => routingWeights(logits, 3, { topK: 4 }), 'PARAMETER_OUT_OF_RANGE', 'topK', '1..3');
    await expectCode(() => routingWeights(logits, 3, { topK: 1.5 }), 'PARAMETER_OUT_OF_RANGE', 'topK');
    await expectCode(() => routingWeights(Float32Array.from([1, 2]), 3), 'SHAPE_MISMATCH');
  });
  it('argmax, oracle one-hot, accuracy and the mean weight per true task', () => {
    const w = Float32Array.from([0.7, 0.3, /**/ 0.4, 0.6, /**/ 0.2, 0.8]);
    const truth = [0, 0, 1];
    expect(Array.from(argmaxTasks(w, 2))).toEqual([0, 1, 1]);
    expect(Array.from(oneHotWeights(truth, 2))).toEqual([1, 0, 1, 0, 0, 1]);
    expect(routingAccuracy(w, truth, 2)).toBeCloseTo(2 / 3, 12);
    expect(routingAccuracyByTask(w, truth, 2)).toEqual([0.5, 1]);
    const mean = meanWeightsByTask(w, truth, 2);
    expect(mean[0]![0]).toBeCloseTo(0.55, 6);
    expect(mean[0]![1]).toBeCloseTo(0.45, 6);
    expect(mean[1]![1]).toBeCloseTo(0.8, 6);
    expect(() => oneHotWeights([2], 2)).toThrow(/tasks are 0..1/);
  });
});

describe('router training', () => {
  const T = 4;
  const dim = 24;
  const train = clusters(T, 40, dim, 1);
  const held = clusters(T, 25, dim, 1, 2); // the same tasks, samples never trained on
  const set = { features: train.features, featureSize: dim, labels: train.labels, tasks: T };

  it("the paper's router is the default: d → 2d → 2d → T with batch norm, LeakyReLU and dropout 0.5", async () => {
    const before = tf.memory().numTensors;
    expect(resolveRouterOptions()).toEqual({ architecture: 'paper', hidden: 'twice the features', epochs: 50, learningRate: 0.0005, batchSize: 128, patience: 3, dropout: 0.5, seed: 0 });
    // 160 samples are two batches: a larger step than the paper's so 40 steps learn them.
    const { router, curve, options } = await trainRouter(set, { epochs: 20, learningRate: 0.005, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(options).toMatchObject({ architecture: 'paper', hidden: 2 * dim, epochs: 20, batchSize: 128, dropout: 0.5, seed: 3 });
    expect(router.layers.map((l) => [l.inputs, l.outputs, l.activation, l.norm !== undefined])).toEqual([
      [dim, 2 * dim, 'leaky_relu', true],
      [2 * dim, 2 * dim, 'leaky_relu', true],
      [2 * dim, T, 'none', false],
    ]);
    expect(curve).toHaveLength(20);
    expect(curve.at(-1)!.loss).toBeLessThan(curve[0]!.loss);
    expect(routingAccuracy(routingWeights(await routerLogits(router, held.features, held.count), T), held.labels, T)).toBeGreaterThan(0.95);
    const H = 2 * dim;
    expect(routerParameterCount(router)).toBe(2 * dim + (H * dim + H + 4 * H) + (H * H + H + 4 * H) + (T * H + T));
  });

  it('the small router: one ReLU layer, learns separable tasks, one curve entry per epoch, no tensor left behind', async () => {
    const before = tf.memory().numTensors;
    const { router, curve, options } = await trainRouter(set, { architecture: 'small', epochs: 8, hidden: 16, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(options).toMatchObject({ architecture: 'small', epochs: 8, hidden: 16, seed: 3, dropout: 0 });
    expect(curve.map((c) => c.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(curve.at(-1)!.loss).toBeLessThan(curve[0]!.loss);
    expect(curve.at(-1)!.accuracy).toBeGreaterThan(0.95);
    const logits = await routerLogits(router, held.features, held.count);
    expect(tf.memory().numTensors).toBe(before);
    expect(routingAccuracy(routingWeights(logits, T), held.labels, T)).toBeGreaterThan(0.95);
    expect(routerParameterCount(router)).toBe(2 * dim + 16 * dim + 16 + T * 16 + T);
  });

  it('with held-out samples: a validation curve, the lowest held-out loss kept, and a stop after `patience` epochs without one lower by MIN_DELTA', async () => {
    // Noisy, overlapping tasks, so held-out accuracy stops rising while training goes on.
    const noisy = clusters(T, 30, dim, 4, 4, 2.5);
    const out = clusters(T, 30, dim, 4, 5, 2.5);
    const r = await trainRouter({ ...set, features: noisy.features, labels: noisy.labels, heldOut: { features: out.features, labels: out.labels } }, { architecture: 'small', epochs: 300, hidden: 16, patience: 3, batchSize: 16 });
    for (const e of r.curve) {
      expect(e.validationAccuracy).toBeGreaterThanOrEqual(0);
      expect(e.validationLoss).toBeGreaterThan(0);
    }
    let kept = r.curve[0]!;
    for (const e of r.curve) if (e.validationLoss! < kept.validationLoss! - MIN_DELTA) kept = e;
    expect(r.bestEpoch).toBe(kept.epoch);
    expect(r.curve.length).toBeLessThan(300);
    expect(r.curve.length).toBe(r.bestEpoch + 3);
    expect(r.samples).toEqual({ training: noisy.count, heldOut: out.count });
    // The kept weights are that epoch's: they give its held-out accuracy again.
    const again = routingAccuracy(routingWeights(await routerLogits(r.router, out.features, out.count), T), out.labels, T);
    expect(again).toBeCloseTo(kept.validationAccuracy!, 10);
  });

  it("the paper's backward pass (batch norm, LeakyReLU) is the loss's gradient: one Adam step lowers it by lr · Σ|g|", async () => {
    // Adam's first step moves every weight by lr · g / |g|, so to first order the batch loss falls by
    // lr · Σ|g|: checked against g from finite differences of a float64 forward in training mode.
    const data = clusters(3, 8, 5, 9, 9, 1);
    const small = { features: data.features, featureSize: 5, labels: data.labels, tasks: 3 };
    const lr = 1e-4;
    const opts = { epochs: 1, hidden: 4, dropout: 0, batchSize: 1024, seed: 5 } as const;
    const start = await trainRouter(small, { ...opts, learningRate: 1e-30 });
    const stepped = await trainRouter(small, { ...opts, learningRate: lr });
    const x = data.features;
    const before = trainingLoss(start.router, x, data.labels, data.count);
    expect(before).toBeCloseTo(start.curve[0]!.loss, 4);
    const grad = numericGradient(start.router, x, data.labels, data.count);
    const drop = before - trainingLoss(stepped.router, x, data.labels, data.count);
    expect(drop / (lr * grad)).toBeGreaterThan(0.97);
    expect(drop / (lr * grad)).toBeLessThan(1.03);
  });

  it('is bit-identical under one seed (weights and curve), and differs under another', async () => {
    const a = await trainRouter(set, { epochs: 3, hidden: 8, seed: 11 });
    const b = await trainRouter(set, { epochs: 3, hidden: 8, seed: 11 });
    const c = await trainRouter(set, { epochs: 3, hidden: 8, seed: 12 });
    const bytes = (r: RouterWeights) => Buffer.concat([r.mean, r.std, ...r.layers.flatMap((l) => [l.weight, l.bias, ...(l.norm ? [l.norm.weight, l.norm.bias, l.norm.runningMean, l.norm.runningVar] : [])])].map((x) => Buffer.from(x.buffer)));
    expect(bytes(b.router).equals(bytes(a.router))).toBe(true);
    expect(b.curve).toEqual(a.curve);
    expect(Array.from(c.router.layers[0]!.weight)).not.toEqual(Array.from(a.router.layers[0]!.weight));
  });

  it('splits a validation split into training and held-out parts, every 4th sample per task held out', () => {
    const taskOf = [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0];
    expect(routerSplit(taskOf)).toEqual({ training: [0, 1, 2, 4, 5, 6, 8, 9, 10], heldOut: [3, 7, 11] });
  });

  it('rejects bad options and unusable data, naming what is wrong', async () => {
    await expectCode(trainRouter(set, { hidden: 0 }), 'PARAMETER_OUT_OF_RANGE', 'hidden');
    await expectCode(trainRouter(set, { learningRate: -1 }), 'PARAMETER_OUT_OF_RANGE', 'learningRate');
    await expectCode(trainRouter(set, { epochs: 1.5 }), 'PARAMETER_OUT_OF_RANGE', 'epochs');
    await expectCode(trainRouter(set, { dropout: 1 }), 'PARAMETER_OUT_OF_RANGE', 'dropout');
    await expectCode(trainRouter(set, { architecture: 'huge' as never }), 'PARAMETER_INVALID', 'architecture');
    await expectCode(trainRouter({ ...set, tasks: 1 }), 'PARAMETER_INVALID', 'at least 2 tasks');
    await expectCode(trainRouter({ ...set, labels: Int32Array.from(train.labels, (l) => l + 1) }), 'PARAMETER_INVALID', 'labels must be integers 0..3');
    await expectCode(trainRouter({ ...set, featureSize: 7 }), 'SHAPE_MISMATCH');
    await expectCode(trainRouter({ ...set, features: new Float32Array(0), labels: [] }), 'PARAMETER_INVALID', 'no training samples');
  });
});

/** A float64 forward of the router, written from its documented formula (inference: running statistics). */
function referenceLogits(r: RouterWeights, x: Float32Array, count: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < count; s++) {
    let h = Array.from({ length: r.features }, (_, j) => (x[s * r.features + j]! - r.mean[j]!) / r.std[j]!);
    for (const l of r.layers) {
      h = Array.from({ length: l.outputs }, (_, u) => {
        let z = l.bias[u]!;
        for (let j = 0; j < l.inputs; j++) z += l.weight[u * l.inputs + j]! * h[j]!;
        if (l.norm) z = ((z - l.norm.runningMean[u]!) / Math.sqrt(l.norm.runningVar[u]! + l.norm.eps)) * l.norm.weight[u]! + l.norm.bias[u]!;
        return l.activation === 'relu' ? Math.max(0, z) : l.activation === 'leaky_relu' ? (z > 0 ? z : 0.01 * z) : z;
      });
    }
    out.push(...h);
  }
  return out;
}

/** The paper router's trainable vectors, as float64 copies (weights, biases, norm weights and biases). */
type Params = { w: Float64Array; b: Float64Array; g?: Float64Array; beta?: Float64Array }[];
const paramsOf = (r: RouterWeights): Params =>
  r.layers.map((l) => ({ w: Float64Array.from(l.weight), b: Float64Array.from(l.bias), ...(l.norm ? { g: Float64Array.from(l.norm.weight), beta: Float64Array.from(l.norm.bias) } : {}) }));

/** Mean cross-entropy in training mode (batch statistics, no dropout), in float64. */
function lossOf(r: RouterWeights, p: Params, x: Float32Array, labels: ArrayLike<number>, count: number): number {
  let h: number[][] = Array.from({ length: count }, (_, s) => Array.from({ length: r.features }, (_, j) => (x[s * r.features + j]! - r.mean[j]!) / r.std[j]!));
  r.layers.forEach((l, i) => {
    const q = p[i]!;
    let z = h.map((row) => Array.from({ length: l.outputs }, (_, u) => q.b[u]! + row.reduce((a, v, j) => a + q.w[u * l.inputs + j]! * v, 0)));
    if (q.g) {
      const mean = Array.from({ length: l.outputs }, (_, u) => z.reduce((a, row) => a + row[u]!, 0) / count);
      const vr = Array.from({ length: l.outputs }, (_, u) => z.reduce((a, row) => a + (row[u]! - mean[u]!) ** 2, 0) / count);
      z = z.map((row) => row.map((v, u) => ((v - mean[u]!) / Math.sqrt(vr[u]! + 1e-5)) * q.g![u]! + q.beta![u]!));
    }
    h = l.activation === 'none' ? z : z.map((row) => row.map((v) => (v > 0 ? v : l.activation === 'leaky_relu' ? 0.01 * v : 0)));
  });
  let sum = 0;
  h.forEach((row, s) => {
    const m = Math.max(...row);
    sum += m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[labels[s]!]!;
  });
  return sum / count;
}

function trainingLoss(r: RouterWeights, x: Float32Array, labels: ArrayLike<number>, count: number): number {
  return lossOf(r, paramsOf(r), x, labels, count);
}

/** Σ over every trainable value of |∂loss/∂value|, by central differences. */
function numericGradient(r: RouterWeights, x: Float32Array, labels: ArrayLike<number>, count: number): number {
  const p = paramsOf(r);
  let sum = 0;
  for (const layer of p) {
    for (const v of [layer.w, layer.b, layer.g, layer.beta]) {
      if (!v) continue;
      for (let i = 0; i < v.length; i++) {
        const keep = v[i]!;
        v[i] = keep + 1e-5;
        const up = lossOf(r, p, x, labels, count);
        v[i] = keep - 1e-5;
        const down = lossOf(r, p, x, labels, count);
        v[i] = keep;
        sum += Math.abs((up - down) / 2e-5);
      }
    }
  }
  return sum;
}

describe('router inference and tensors', () => {
  it.each(['paper', 'small'] as const)('%s: logits equal the documented formula (nn.Linear layout) to 1e-5, and its tensors round trip', async (architecture) => {
    const data = clusters(3, 10, 12, 5);
    const { router } = await trainRouter({ features: data.features, featureSize: 12, labels: data.labels, tasks: 3 }, { architecture, epochs: 2, hidden: 6 });
    const got = await routerLogits(router, data.features, data.count);
    const want = referenceLogits(router, data.features, data.count);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]!)));

    const tensors = routerTensors(router);
    const bn = (i: number) => ['weight', 'bias', 'running_mean', 'running_var'].map((k) => [`bn${i}.${k}`, [6]]);
    expect(tensors.map((t) => [t.name, t.shape])).toEqual(
      architecture === 'paper'
        ? [['input.mean', [12]], ['input.std', [12]], ['fc1.weight', [6, 12]], ['fc1.bias', [6]], ...bn(1), ['fc2.weight', [6, 6]], ['fc2.bias', [6]], ...bn(2), ['fc3.weight', [3, 6]], ['fc3.bias', [3]]]
        : [['input.mean', [12]], ['input.std', [12]], ['fc1.weight', [6, 12]], ['fc1.bias', [6]], ['fc2.weight', [3, 6]], ['fc2.bias', [3]]],
    );
    const file = await openSafetensors(memorySource('router.safetensors', serializeSafetensors(tensors)));
    const read = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const t of file.tensors) read.set(t.name, { shape: t.shape, data: await file.readFloat32(t.name) });
    expect(routerFromTensors((n) => read.get(n))).toEqual(router);
    const last = architecture === 'paper' ? 'fc3.bias' : 'fc2.bias';
    read.delete(last);
    await expectCode(() => routerFromTensors((n) => read.get(n), 'router.safetensors'), 'TENSOR_MISSING', 'router.safetensors', last);
    await expectCode(routerLogits(router, new Float32Array(5), 1), 'SHAPE_MISMATCH', '12 features');
  });
});
