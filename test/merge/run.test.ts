/** The streaming runner: plan → tensors written in order, equal to the method applied directly, no leaks. */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { runMerge } from '../../src/engine/merge/run-merge.js';
import { getMethod, METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { LAYOUT, toyCheckpoint } from './helpers.js';

async function setup(yaml: string) {
  const checkpoints = new Map([
    ['base', await toyCheckpoint('base', LAYOUT, 0)],
    ['a', await toyCheckpoint('a', LAYOUT, 1)],
    ['b', await toyCheckpoint('b', LAYOUT, 2)],
  ]);
  const { plan, problems } = planMerge({ recipe: parseRecipe(yaml), methods: METHODS, checkpoints });
  expect(problems).toEqual([]);
  return { plan: plan!, checkpoints };
}

const TIES = `models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 0.5, density: 0.7}\nmerge_method: ties\nbase_model: base\n`;

describe('runMerge', () => {
  it('writes every planned tensor in order, equal to the method applied directly, leaking nothing', async () => {
    const { plan, checkpoints } = await setup(TIES);
    const written: [string, Float32Array][] = [];
    const progress: number[] = [];
    const before = tf.memory().numTensors;
    await runMerge({ plan, checkpoints, output: { writeTensor: async (n, d) => void written.push([n, d]) }, onProgress: (p) => progress.push(p.tensorIndex) });
    expect(tf.memory().numTensors).toBe(before);
    expect(written.map(([n]) => n)).toEqual(LAYOUT.map((t) => t.name));
    expect(progress).toEqual(LAYOUT.map((_, i) => i + 1));
    const spec = plan.tensors[1]!;
    const method = getMethod('ties');
    const inputs = await Promise.all(spec.models.map(async (m) => checkpoints.get(m.model)!.readFloat32(spec.name)));
    const want = tf.tidy(() =>
      method
        .mergeTensor({
          tensorName: spec.name,
          models: spec.models.map((m, i) => ({ ...m, tensor: tf.tensor(inputs[i]!, [...spec.shape]) })),
          global: spec.global,
          seed: 0,
          warn: () => {},
        })
        .dataSync(),
    );
    expect(Array.from(written[1]![1])).toEqual(Array.from(want));
  });
  it('stops with CANCELLED when the token is set, having written nothing further', async () => {
    const { plan, checkpoints } = await setup(TIES);
    const token = { cancelled: false };
    const written: string[] = [];
    const run = runMerge({
      plan,
      checkpoints,
      cancel: token,
      output: {
        writeTensor: async (n) => {
          written.push(n);
          if (written.length === 2) token.cancelled = true;
        },
      },
    });
    await expect(run).rejects.toSatisfy((e: unknown) => isMergeLabError(e) && e.code === 'CANCELLED');
    expect(written).toHaveLength(2);
  });
});

describe('blocks under a backend buffer limit', () => {
  const recipes: Record<string, string> = {
    ties: TIES,
    dare_ties: TIES.replace('merge_method: ties', 'merge_method: dare_ties'),
    breadcrumbs_ties: TIES.replace('merge_method: ties', 'merge_method: breadcrumbs_ties'),
    della: TIES.replace('merge_method: ties', 'merge_method: della').replace('density: 0.7', 'density: 0.6'),
    linear: `models:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 3}\nmerge_method: linear\n`,
    slerp: `models:\n  - model: a\nmerge_method: slerp\nbase_model: base\nparameters: {t: 0.3}\n`,
    model_stock: `models:\n  - model: a\n  - model: b\nmerge_method: model_stock\nbase_model: base\n`,
    model_stock_filter_wise: `models:\n  - model: a\n  - model: b\nmerge_method: model_stock\nbase_model: base\nparameters: {filter_wise: true}\n`,
  };
  for (const [label, yaml] of Object.entries(recipes)) {
    it(`${label}: blocks of a few values give exactly the one-block result`, async () => {
      const { plan, checkpoints } = await setup(yaml);
      const collect = async (maxBlockBytes?: number) => {
        const out: Float32Array[] = [];
        await runMerge({ plan, checkpoints, maxBlockBytes, output: { writeTensor: async (_n, d) => void out.push(d) } });
        return out;
      };
      const before = tf.memory().numTensors;
      const whole = await collect();
      // 20 bytes: 5 values per block, or one row of 4 for the per-row method.
      const blocked = await collect(20);
      expect(tf.memory().numTensors).toBe(before);
      expect(blocked.map((d) => Array.from(d))).toEqual(whole.map((d) => Array.from(d)));
    });
  }
  it('refuses a per-row method whose row alone is over the limit, naming the tensor', async () => {
    const { plan, checkpoints } = await setup(recipes.model_stock_filter_wise!);
    const run = runMerge({ plan, checkpoints, maxBlockBytes: 8, output: { writeTensor: async () => {} } });
    await expect(run).rejects.toThrow(/Tensor model\.embed_tokens\.weight needs blocks of 4 values/);
  });
});

describe('non-finite values', () => {
  it('a NaN or infinity in an input, and in the merged tensor, is a warning naming the model and tensor', async () => {
    const norm = LAYOUT.find((t) => t.name === 'model.norm.weight')!;
    const n = norm.shape.reduce((x, y) => x * y, 1);
    const data = Float32Array.from({ length: n }, (_, i) => (i === 1 ? Number.NaN : i === 2 ? Number.POSITIVE_INFINITY : 0.5));
    const checkpoints = new Map([
      ['base', await toyCheckpoint('base', LAYOUT, 0)],
      ['a', await toyCheckpoint('a', LAYOUT.map((t) => (t === norm ? { ...t, data } : t)), 1)],
    ]);
    const { plan } = planMerge({ recipe: parseRecipe(`models:\n  - model: a\n    parameters: {weight: 1}\nmerge_method: task_arithmetic\nbase_model: base\n`), methods: METHODS, checkpoints });
    const warnings: string[] = [];
    await runMerge({ plan: plan!, checkpoints, output: { writeTensor: async () => undefined }, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([
      'Model "a" holds 2 NaN or infinite value(s) in model.norm.weight; they reach the merge as they are.',
      `The merged model.norm.weight holds 2 NaN or infinite value(s) (of ${n}); a model that loads it will compute NaNs.`,
    ]);
  });
});
