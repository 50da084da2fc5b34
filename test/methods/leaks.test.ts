/** Every registered method frees every tensor it makes, on success and when it throws. */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { METHODS } from '../../src/engine/methods/registry.js';
import { runMethod } from './helpers.js';

const n = 24;
const wave = (k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) + 0.1 * k);

describe('no tensor leaks', () => {
  for (const m of METHODS) {
    it(`${m.id} leaves tf.memory().numTensors unchanged over repeated merges`, () => {
      // As many models as the method takes (passthrough one, slerp two, nuslerp a base and two), else a base and three.
      const others = m.maxModels === undefined ? 3 : m.maxModels - 1;
      const models = [
        { isBase: true, values: wave(0), params: { weight: 1 } },
        ...Array.from({ length: others }, (_, i) => ({ values: wave(i + 1), params: { weight: 0.5 + i, density: 0.5 } })),
      ];
      const before = tf.memory().numTensors;
      for (let r = 0; r < 5; r++) runMethod(m.id, { shape: [4, 6], models, global: Object.fromEntries(m.params.filter((p) => p.scope === 'global' && p.required).map((p) => [p.name, 0.3])) });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
  it('a method that throws mid-way (a trim keeping nothing) frees what it made', () => {
    const before = tf.memory().numTensors;
    expect(() =>
      runMethod('ties', {
        shape: [n],
        models: [
          { isBase: true, values: wave(0) },
          { values: wave(1), params: { weight: 1, density: 0.5 } },
          { values: wave(2), params: { weight: 1, density: 0.01 } },
        ],
      }),
    ).toThrow(/keeps ⌊0.01·24⌋ = 0 entries of tensor/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
