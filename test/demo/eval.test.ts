/**
 * Evaluation: the forward pass against logits worked by hand, accuracy, normalized score, the
 * cross-task matrix and sweeps; every call leaves no tensor behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { LabeledSet } from '../../src/engine/demo/dataset.js';
import { readDemoWeights } from '../../src/engine/demo/load.js';
import type { Architecture } from '../../src/engine/demo/manifest.js';
import {
  accuracy,
  createDemoScorer,
  crossTaskMatrix,
  forward,
  normalizedScore,
  ownTaskAccuracies,
  predict,
  sweep,
  sweepValues,
  taskAccuracies,
  type Weights,
} from '../../src/engine/eval/index.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { expectCode } from '../io/helpers.js';

// 2 raw pixels (scaled by 0.5) -> 3 ReLU units -> 2 classes.
const arch: Architecture = {
  input: { height: 1, width: 2, scale: 0.5 },
  classes: 2,
  layers: [
    { type: 'dense', weight: 'h.w', bias: 'h.b', inputs: 2, outputs: 3, activation: 'relu' },
    { type: 'dense', weight: 'o.w', bias: 'o.b', inputs: 3, outputs: 2, activation: 'none' },
  ],
};
const weights: Weights = {
  'h.w': Float32Array.from([1, -1, 0.5, 2, -1, -1]), // [3, 2], rows are units
  'h.b': Float32Array.from([0, -1, 0.5]),
  'o.w': Float32Array.from([1, 0, 2, -1, 1, 0]), // [2, 3]
  'o.b': Float32Array.from([0.25, 0]),
};
const set = (inputs: number[], labels: number[]): LabeledSet => ({ count: labels.length, features: 2, inputs: Float32Array.from(inputs), labels: Uint8Array.from(labels) });

/** Runs `f` and checks it leaves tf.memory().numTensors as it found it. */
async function noLeak<T>(f: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await f();
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

describe('forward pass', () => {
  it('matches a hand computation', async () => {
    // x=[2,4] -> scaled [1,2]; z1 = [1-2, 0.5+4-1, -1-2+0.5] = [-1, 3.5, -2.5] -> relu [0, 3.5, 0]
    //   z2 = [0.25 + 0, 3.5] ; x=[4,0] -> [2,0]; z1 = [2, 0, -1.5] -> [2, 0, 0]; z2 = [2.25, -2]
    // x=[0,0]; z1 = [0, -1, 0.5] -> [0, 0, 0.5]; z2 = [0.25 + 1, 0]
    const logits = await noLeak(() => forward(arch, weights, Float32Array.from([2, 4, 4, 0, 0, 0]), 3));
    expect(Array.from(logits)).toEqual([0.25, 3.5, 2.25, -2, 1.25, 0]);
  });

  it('predicts the first index of the largest logit and measures accuracy', async () => {
    const s = set([2, 4, 4, 0, 0, 0], [1, 1, 0]);
    expect(Array.from(await noLeak(() => predict(arch, weights, s)))).toEqual([1, 0, 0]);
    expect(await accuracy(arch, weights, s)).toBeCloseTo(2 / 3, 12);
    // Equal logits: the first class wins, as with numpy's argmax.
    const flat = { ...weights, 'o.w': new Float32Array(6), 'o.b': Float32Array.from([1, 1]) };
    expect(Array.from(await predict(arch, flat, s))).toEqual([0, 0, 0]);
    expect(await accuracy(arch, weights, set([], []))).toBe(0);
  });

  it('rejects weights that do not fit the architecture', async () => {
    const { ['o.b']: _, ...missing } = weights;
    await noLeak(() => expectCode(() => forward(arch, missing, new Float32Array(2), 1), 'TENSOR_MISSING', '"o.b"'));
    await noLeak(() => expectCode(() => forward(arch, { ...weights, 'h.w': new Float32Array(5) }, new Float32Array(2), 1), 'SHAPE_MISMATCH', '"h.w"', '[3, 2]'));
  });

  it('reads float16 checkpoints and checks their shapes', async () => {
    const tensors = [
      { name: 'h.w', dtype: 'F16' as const, shape: [3, 2], data: weights['h.w']! },
      { name: 'h.b', dtype: 'F16' as const, shape: [3], data: weights['h.b']! },
      { name: 'o.w', dtype: 'F16' as const, shape: [2, 3], data: weights['o.w']! },
      { name: 'o.b', dtype: 'F16' as const, shape: [2], data: weights['o.b']! },
    ];
    const read = await readDemoWeights(arch, await writeSafetensorsToMemory(tensors), 'tiny.safetensors');
    expect(Array.from(read['h.w']!)).toEqual(Array.from(weights['h.w']!)); // all exact in float16
    const wrong = await writeSafetensorsToMemory([{ ...tensors[0]!, shape: [2, 3] }, ...tensors.slice(1)]);
    await expectCode(readDemoWeights(arch, wrong, 'wrong.safetensors'), 'SHAPE_MISMATCH', 'wrong.safetensors', '"h.w" is [2, 3]');
    await expectCode(readDemoWeights(arch, await writeSafetensorsToMemory(tensors.slice(0, 3)), 'short.safetensors'), 'TENSOR_MISSING', '"o.b"');
  });
});

describe('scores', () => {
  const sets = { a: set([2, 4, 4, 0], [1, 0]), b: set([0, 0, 2, 4], [1, 1]) };

  it('per-task accuracy in one pass, and the cross-task matrix', async () => {
    expect(await noLeak(() => taskAccuracies(arch, weights, sets))).toEqual({ a: 1, b: 0.5 });
    const flipped = { ...weights, 'o.b': Float32Array.from([0, 10]) }; // always class 1
    const m = await crossTaskMatrix(arch, { a: weights, b: flipped }, sets);
    expect(m).toEqual({ a: { a: 1, b: 0.5 }, b: { a: 0.5, b: 1 } });
    expect(ownTaskAccuracies(m)).toEqual({ a: 1, b: 1 });
  });

  it('normalized score is the mean of merged / expert, in percent', async () => {
    expect(normalizedScore({ a: 0.5, b: 0.9 }, { a: 1, b: 0.9 })).toBeCloseTo(75, 12);
    expect(normalizedScore({ a: 0.5, b: 0.9, c: 0 }, { a: 1, b: 0.9, c: 1 }, ['a'])).toBeCloseTo(50, 12);
    await expectCode(() => normalizedScore({ a: 0.5 }, { a: 0 }), 'PARAMETER_INVALID', '"a"');
    await expectCode(() => normalizedScore({}, { a: 1 }), 'PARAMETER_INVALID', 'No accuracy for task "a"');
  });

  it('a demo scorer normalizes by each expert on its own task, per split', async () => {
    const flipped = { ...weights, 'o.b': Float32Array.from([0, 10]) };
    const scorer = await createDemoScorer(arch, { validation: sets, test: sets }, { a: weights, b: flipped });
    expect(scorer.expertAccuracies.test).toEqual({ a: 1, b: 1 });
    const s = await noLeak(() => scorer.score(weights, 'validation'));
    expect(s.accuracies).toEqual({ a: 1, b: 0.5 });
    expect(s.normalized).toBeCloseTo(75, 12);
  });
});

describe('sweep', () => {
  // Fake merges: the "weights" carry the swept value; validation peaks at 0.3, test at 0.5.
  const scorer = {
    score: async (w: Weights, split: 'validation' | 'test') => {
      const v = w['v']![0]!;
      const peak = split === 'validation' ? 0.3 : 0.5;
      return { accuracies: {}, normalized: 100 - 100 * (v - peak) ** 2 };
    },
  };
  const mergeAt = (v: number): Weights => ({ v: Float32Array.of(v) });

  it('chooses on validation and reports test at that value', async () => {
    const seen: number[] = [];
    const r = await sweep(sweepValues(0.1, 0.6, 0.1), mergeAt, scorer, { onPoint: (p) => seen.push(p.value) });
    expect(seen).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
    expect(r.best.value).toBe(0.3);
    expect(r.best.test.normalized).toBeCloseTo(100 - 100 * Math.fround(0.2) ** 2, 4);
  });

  it('breaks ties toward the earliest value, and can be cancelled', async () => {
    const flat = { score: async () => ({ accuracies: {}, normalized: 50 }) };
    expect((await sweep([0.7, 0.2, 0.9], mergeAt, flat)).best.value).toBe(0.7);
    const c = new AbortController();
    await expectCode(sweep([1, 2, 3], mergeAt, scorer, { signal: c.signal, onPoint: () => c.abort() }), 'CANCELLED', 'after 1 of 3');
    await expectCode(sweep([], mergeAt, scorer), 'PARAMETER_INVALID');
  });

  it('sweepValues gives clean decimals', () => {
    expect(sweepValues(0.1, 1.5, 0.1)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5]);
    expect(sweepValues(0, 0, 0.5)).toEqual([0]);
    expect(() => sweepValues(1, 0, 0.1)).toThrow(/Cannot sweep/);
  });
});
