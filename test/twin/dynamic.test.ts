/**
 * The dynamic merge equals the materialised one: for every sample, dynamicLogits with that
 * sample's routing weights gives the logits of the ordinary forward pass through
 * θ* + Σt wt·UtΣtVtᵀ, to 1e-5 · max(1, |logit|) — on a toy MLP (soft, top-k, one-hot and dense
 * 2-D parts) and on the shipped demo at rank 4. And no tensor is left behind.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readDemoWeights } from '../../src/engine/demo/load.js';
import { architectureTensors, parseManifest, type Architecture } from '../../src/engine/demo/manifest.js';
import { forward } from '../../src/engine/eval/forward.js';
import { memorySource, openSafetensors, type Checkpoint } from '../../src/engine/io/index.js';
import {
  buildSharedExpert,
  compressExclusive,
  dynamicLogits,
  featureWidth,
  materializeMerge,
  sharedFeatures,
  taskArithmeticRecipe,
  type ExclusiveKnowledge,
  type TensorValues,
} from '../../src/engine/methods/twin/index.js';
import { createRandom } from '../../src/engine/random.js';
import { oneHotWeights, routingWeights } from '../../src/engine/router/route.js';
import { expectCode } from '../io/helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Worst |a − b| / max(1, |b|). */
function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return w;
}

/** Per sample: the forward pass through the materialised θ* + Σ w Δ. */
async function materialisedLogits(arch: Architecture, shared: TensorValues, ex: ExclusiveKnowledge, inputs: Float32Array, count: number, weights: Float32Array): Promise<Float32Array> {
  const T = ex.tasks.length;
  const features = arch.input.height * arch.input.width;
  const out = new Float32Array(count * arch.classes);
  for (let s = 0; s < count; s++) {
    const merged = materializeMerge(shared, ex, weights.subarray(s * T, (s + 1) * T));
    out.set(await forward(arch, merged, inputs.subarray(s * features, (s + 1) * features), 1), s * arch.classes);
  }
  return out;
}

const toy: Architecture = {
  input: { height: 3, width: 4, scale: 0.5 },
  classes: 5,
  layers: [
    { type: 'dense', weight: 'h.weight', bias: 'h.bias', inputs: 12, outputs: 16, activation: 'relu' },
    { type: 'dense', weight: 'o.weight', bias: 'o.bias', inputs: 16, outputs: 5, activation: 'none' },
  ],
};

describe('dynamic merge on a toy MLP', () => {
  const random = createRandom(7);
  const fill = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (2 * random() - 1) * scale);
  const tensors = architectureTensors(toy);
  const shared: Record<string, Float32Array> = Object.fromEntries(tensors.map((t) => [t.name, fill(t.shape.reduce((a, b) => a * b, 1))]));
  const experts = Object.fromEntries(['a', 'b', 'c'].map((task) => [task, Object.fromEntries(Object.entries(shared).map(([n, v]) => [n, v.map((x) => x + (2 * random() - 1) * 0.5)]))]));
  const count = 9;
  const inputs = fill(count * 12, 4);
  const ex = compressExclusive(shared, experts, tensors, { rank: 2 });
  const logits = fill(count * 3, 3);

  for (const [label, weights] of [
    ['soft router weights', routingWeights(logits, 3)],
    ['temperature 0.3', routingWeights(logits, 3, { temperature: 0.3 })],
    ['top-2', routingWeights(logits, 3, { topK: 2 })],
    ['oracle one-hot', oneHotWeights([0, 1, 2, 0, 1, 2, 2, 1, 0], 3)],
  ] as const) {
    it(`equals the materialised merge per sample (${label})`, async () => {
      const before = tf.memory().numTensors;
      const got = await dynamicLogits(toy, shared, ex, inputs, count, weights);
      expect(tf.memory().numTensors).toBe(before);
      expect(worst(got, await materialisedLogits(toy, shared, ex, inputs, count, weights))).toBeLessThanOrEqual(1e-5);
    });
  }

  it('handles a 2-D delta kept dense (one full matmul for that task) and tensors without deltas', async () => {
    const dense: ExclusiveKnowledge = {
      ...ex,
      parts: ex.parts.map((row, t) =>
        t === 1 ? row.map((_, j) => ({ kind: 'dense' as const, delta: Float32Array.from(experts.b![ex.tensors[j]!.name]!, (x, i) => x - shared[ex.tensors[j]!.name]![i]!) })) : row,
      ),
    };
    const weights = routingWeights(logits, 3);
    const got = await dynamicLogits(toy, shared, dense, inputs, count, weights);
    expect(worst(got, await materialisedLogits(toy, shared, dense, inputs, count, weights))).toBeLessThanOrEqual(1e-5);
    // Only the first layer's weight carries exclusive knowledge: the rest is θ*'s alone.
    const partial: ExclusiveKnowledge = { ...ex, tensors: ex.tensors.slice(0, 1), parts: ex.parts.map((row) => row.slice(0, 1)) };
    const got2 = await dynamicLogits(toy, shared, partial, inputs, count, weights);
    expect(worst(got2, await materialisedLogits(toy, shared, partial, inputs, count, weights))).toBeLessThanOrEqual(1e-5);
  });

  it('features are the shared model’s hidden ReLU activations', async () => {
    expect(featureWidth(toy)).toBe(16);
    const f = await sharedFeatures(toy, shared, inputs, count);
    expect(f).toHaveLength(count * 16);
    const x = Array.from(inputs.subarray(0, 12), (v) => v * 0.5);
    for (let u = 0; u < 16; u++) {
      let z = shared['h.bias']![u]!;
      for (let j = 0; j < 12; j++) z += shared['h.weight']![u * 12 + j]! * x[j]!;
      expect(f[u]).toBeCloseTo(Math.max(0, z), 5);
    }
  });

  it('rejects routing weights of the wrong size and factors of the wrong shape, naming them', async () => {
    await expectCode(dynamicLogits(toy, shared, ex, inputs, count, new Float32Array(count * 2)), 'SHAPE_MISMATCH', 'a, b, c');
    const broken: ExclusiveKnowledge = { ...ex, tensors: [{ name: 'h.weight', shape: [16, 12] }], parts: ex.parts.map(() => [{ kind: 'lowrank', rank: 2, us: new Float32Array(6), v: new Float32Array(24), relativeError: 0, energy: 1 }]) };
    await expectCode(dynamicLogits(toy, shared, broken, inputs, count, routingWeights(logits, 3)), 'SHAPE_MISMATCH', 'Task "a"', 'h.weight');
  });
});

describe('dynamic merge on the shipped demo', () => {
  it('equals the materialised merge to 1e-5 at rank 4 for routed samples', async () => {
    const dir = path.join(ROOT, 'public/demo');
    const manifest = parseManifest(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    const arch = manifest.architecture;
    const tasks = manifest.tasks.filter((t) => !t.hard);
    const checkpoints = new Map<string, Checkpoint>();
    const experts: Record<string, TensorValues> = {};
    for (const [key, file] of [['base', manifest.base], ...tasks.map((t) => [t.id, t.expert])] as const) {
      const bytes = new Uint8Array(await readFile(path.join(dir, file)));
      checkpoints.set(key, await openSafetensors(memorySource(file, bytes)));
      if (key !== 'base') experts[key] = await readDemoWeights(arch, bytes, file);
    }
    const shared = await buildSharedExpert({ recipe: taskArithmeticRecipe('base', tasks.map((t) => t.id), 0.3), checkpoints });
    const ex = compressExclusive(shared, experts, architectureTensors(arch), { rank: 4 });
    const random = createRandom(3);
    const count = 6;
    // Digit-like inputs: the demo's pixels run 0..16.
    const inputs = Float32Array.from({ length: count * 64 }, () => Math.floor(17 * random()));
    const weights = routingWeights(Float32Array.from({ length: count * tasks.length }, () => 4 * random()), tasks.length, { topK: 3 });
    const before = tf.memory().numTensors;
    const got = await dynamicLogits(arch, shared, ex, inputs, count, weights);
    expect(tf.memory().numTensors).toBe(before);
    expect(worst(got, await materialisedLogits(arch, shared, ex, inputs, count, weights))).toBeLessThanOrEqual(1e-5);
  });
});
