/**
 * The task router: weights from logits (temperature, top-k) against hand-worked numbers, the
 * routing numbers, training on separable synthetic features (learns, bit-identical under one seed,
 * no tensors left behind), inference against a float64 forward, and its tensors round trip.
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

  it('learns separable tasks, reports one curve entry per epoch, leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const { router, curve, options } = await trainRouter(set, { epochs: 8, hidden: 16, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(options).toMatchObject({ epochs: 8, hidden: 16, seed: 3 });
    expect(curve.map((c) => c.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(curve.at(-1)!.loss).toBeLessThan(curve[0]!.loss);
    expect(curve.at(-1)!.accuracy).toBeGreaterThan(0.95);
    const logits = await routerLogits(router, held.features, held.count);
    expect(tf.memory().numTensors).toBe(before);
    expect(routingAccuracy(routingWeights(logits, T), held.labels, T)).toBeGreaterThan(0.95);
    expect(routerParameterCount(router)).toBe(2 * dim + 16 * dim + 16 + T * 16 + T);
  });

  it('is bit-identical under one seed (weights and curve), and differs under another', async () => {
    const a = await trainRouter(set, { epochs: 3, hidden: 8, seed: 11 });
    const b = await trainRouter(set, { epochs: 3, hidden: 8, seed: 11 });
    const c = await trainRouter(set, { epochs: 3, hidden: 8, seed: 12 });
    for (const k of ['mean', 'std', 'fc1Weight', 'fc1Bias', 'fc2Weight', 'fc2Bias'] as const) {
      expect(Buffer.from(b.router[k].buffer).equals(Buffer.from(a.router[k].buffer))).toBe(true);
    }
    expect(b.curve).toEqual(a.curve);
    expect(Array.from(c.router.fc1Weight)).not.toEqual(Array.from(a.router.fc1Weight));
  });

  it('rejects bad options and unusable data, naming what is wrong', async () => {
    await expectCode(trainRouter(set, { hidden: 0 }), 'PARAMETER_OUT_OF_RANGE', 'hidden');
    await expectCode(trainRouter(set, { learningRate: -1 }), 'PARAMETER_OUT_OF_RANGE', 'learningRate');
    await expectCode(trainRouter(set, { epochs: 1.5 }), 'PARAMETER_OUT_OF_RANGE', 'epochs');
    await expectCode(trainRouter({ ...set, tasks: 1 }), 'PARAMETER_INVALID', 'at least 2 tasks');
    await expectCode(trainRouter({ ...set, labels: Int32Array.from(train.labels, (l) => l + 1) }), 'PARAMETER_INVALID', 'labels must be integers 0..3');
    await expectCode(trainRouter({ ...set, featureSize: 7 }), 'SHAPE_MISMATCH');
    await expectCode(trainRouter({ ...set, features: new Float32Array(0), labels: [] }), 'PARAMETER_INVALID', 'no training samples');
  });
});

/** A float64 forward of the router, written from its documented formula. */
function referenceLogits(r: RouterWeights, x: Float32Array, count: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < count; s++) {
    const h = Array.from({ length: r.hidden }, (_, u) => {
      let z = r.fc1Bias[u]!;
      for (let j = 0; j < r.features; j++) z += r.fc1Weight[u * r.features + j]! * ((x[s * r.features + j]! - r.mean[j]!) / r.std[j]!);
      return Math.max(0, z);
    });
    for (let t = 0; t < r.tasks; t++) {
      let z = r.fc2Bias[t]!;
      for (let u = 0; u < r.hidden; u++) z += r.fc2Weight[t * r.hidden + u]! * h[u]!;
      out.push(z);
    }
  }
  return out;
}

describe('router inference and tensors', () => {
  it('logits equal the documented formula (nn.Linear layout) to 1e-5, and its tensors round trip', async () => {
    const data = clusters(3, 10, 12, 5);
    const { router } = await trainRouter({ features: data.features, featureSize: 12, labels: data.labels, tasks: 3 }, { epochs: 2, hidden: 6 });
    const got = await routerLogits(router, data.features, data.count);
    const want = referenceLogits(router, data.features, data.count);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]!)));

    const tensors = routerTensors(router);
    expect(tensors.map((t) => [t.name, t.shape])).toEqual([
      ['input.mean', [12]],
      ['input.std', [12]],
      ['fc1.weight', [6, 12]],
      ['fc1.bias', [6]],
      ['fc2.weight', [3, 6]],
      ['fc2.bias', [3]],
    ]);
    const file = await openSafetensors(memorySource('router.safetensors', serializeSafetensors(tensors)));
    const read = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const t of file.tensors) read.set(t.name, { shape: t.shape, data: await file.readFloat32(t.name) });
    expect(routerFromTensors((n) => read.get(n))).toEqual(router);
    read.delete('fc2.bias');
    await expectCode(() => routerFromTensors((n) => read.get(n), 'router.safetensors'), 'TENSOR_MISSING', 'router.safetensors', 'fc2.bias');
    await expectCode(routerLogits(router, new Float32Array(5), 1), 'SHAPE_MISMATCH', '12 features');
  });
});
