/**
 * Parity with mergekit on per-tensor merges: every deterministic method against outputs produced by
 * mergekit's own code (see test/fixtures/README.md). Tolerance: the spec's 1e-5 · max(1, |value|).
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { getMethod } from '../../src/engine/methods/registry.js';
import type { ModelTensor } from '../../src/engine/methods/types.js';
import { FIXTURE_CASES, decodeFloat32, type FixtureCase } from './fixtures.js';

function describeCase(c: FixtureCase, i: number): string {
  const params = c.models.map((m) => `${m.model}${JSON.stringify(m.params)}`).join(' ');
  return `#${i} ${c.method} [${c.shape.join('x')}] ${JSON.stringify(c.global)} ${params}`;
}

describe('per-tensor parity with mergekit', () => {
  FIXTURE_CASES.forEach((c, i) => {
    it(describeCase(c, i), () => {
      const method = getMethod(c.method);
      const global = { ...Object.fromEntries(method.params.filter((p) => p.scope === 'global' && p.default !== undefined).map((p) => [p.name, p.default])), ...c.global };
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => {
        const models: ModelTensor[] = c.models.map((m) => ({
          model: m.model,
          isBase: m.model === c.base,
          tensor: tf.tensor(decodeFloat32(m.values), c.shape, 'float32'),
          params: {
            ...Object.fromEntries(method.params.filter((p) => p.scope === 'model' && p.default !== undefined).map((p) => [p.name, p.default])),
            ...m.params,
          },
        }));
        return method.mergeTensor({ tensorName: c.tensor, models, global, seed: 1, warn: () => {} }).dataSync() as Float32Array;
      });
      expect(tf.memory().numTensors).toBe(before);
      const want = decodeFloat32(c.expected);
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got[k]! - want[k]!) / Math.max(1, Math.abs(want[k]!)));
      expect(worst).toBeLessThanOrEqual(1e-5);
    });
  });
});
