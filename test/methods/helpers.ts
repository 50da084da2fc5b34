/** Running one method on hand-made tensors, with the schema's defaults filled in as the planner does. */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { getMethod } from '../../src/engine/methods/registry.js';
import type { ModelTensor, ParamValue } from '../../src/engine/methods/types.js';

export interface ToyModel {
  name?: string;
  values: ArrayLike<number>;
  params?: Record<string, ParamValue>;
  isBase?: boolean;
}

export interface RunArgs {
  shape: number[];
  models: ToyModel[];
  global?: Record<string, ParamValue>;
  seed?: number;
  tensorName?: string;
}

/** Merges with method `id`; asserts no tensor leaks; returns the values and any warnings. */
export function runMethod(id: string, a: RunArgs): { values: Float32Array; warnings: string[] } {
  const method = getMethod(id);
  const defaults = (scope: 'model' | 'global') =>
    Object.fromEntries(method.params.filter((p) => p.scope === scope && p.default !== undefined).map((p) => [p.name, p.default]));
  const warnings: string[] = [];
  const before = tf.memory().numTensors;
  const inputs: ModelTensor[] = a.models.map((m, i) => ({
    model: m.name ?? (m.isBase ? 'base' : `m${i}`),
    isBase: Boolean(m.isBase),
    tensor: tf.tensor(Float32Array.from(m.values), a.shape, 'float32'),
    params: { ...defaults('model'), ...m.params },
  }));
  try {
    const out = method.mergeTensor({
      tensorName: a.tensorName ?? 'model.layers.0.mlp.weight',
      models: inputs,
      global: { ...defaults('global'), ...a.global },
      seed: a.seed ?? 7,
      warn: (w) => warnings.push(w),
    });
    const values = out.dataSync() as Float32Array;
    expect(out.shape).toEqual(a.shape);
    out.dispose();
    return { values: Float32Array.from(values), warnings };
  } finally {
    tf.dispose(inputs.map((m) => m.tensor));
    expect(tf.memory().numTensors).toBe(before);
  }
}

/** |a − b| ≤ tol · max(1, |b|) element-wise: the spec's parity criterion. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const d = Math.abs(actual[i]! - e);
    if (!(d <= tol * Math.max(1, Math.abs(e)))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${e} (|diff| ${d} > ${tol}·max(1,|e|))`);
    }
  }
}
