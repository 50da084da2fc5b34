/**
 * Twin-Merging on a language model (src/engine/routed/lm-twin.ts, lm-twin-demo.ts) on the tiny
 * byte-level Llama of test/fixtures/lm/llama-bytes with three experts made from it by seeded noise:
 * the merge a window is scored with is θ* + Σt wt·Δt (the digits twin's materializeMerge, value for
 * value); at full rank an expert's one-hot weights give back that expert's scores; windows routed
 * alike are batched without changing a score; the router's features are the mean final hidden state
 * over the tokens a window reads; a text cut by contextWindows scores as scoreTokens scores it; and
 * the demo runner's numbers hold their relations. No tensor is left.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LmDemo } from '../../src/engine/demo/lm-load.js';
import type { LmDemoManifest } from '../../src/engine/demo/lm-manifest.js';
import { memorySource, openSafetensors } from '../../src/engine/io/index.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { readLmConfig, type LmConfig } from '../../src/engine/lm/config.js';
import { lmHidden } from '../../src/engine/lm/forward.js';
import { disposeLmWeights, loadLmWeights } from '../../src/engine/lm/load.js';
import { scoreSequences, scoreTokens } from '../../src/engine/lm/score.js';
import { byteTokenizer } from '../../src/engine/lm/tokenizer.js';
import { prepareLmWeights } from '../../src/engine/lm/weights.js';
import { materializeMerge } from '../../src/engine/methods/twin/exclusive.js';
import { buildSharedExpert, taskArithmeticRecipe } from '../../src/engine/methods/twin/shared.js';
import { lmTwinDemo } from '../../src/engine/routed/lm-twin-demo.js';
import { LmTwinModel, contextWindows, decomposeLmTwin, lmExclusive, scoreRoutedWindows, windowFeatures } from '../../src/engine/routed/lm-twin.js';
import { LM_FIXTURES, SAMPLE_TEXT } from '../lm/fixtures.js';
import { noisyExpert } from '../lm/noisy-experts.js';

const DIR = path.join(LM_FIXTURES, 'llama-bytes');
const TASKS = ['a', 'b', 'c'];
let config: LmConfig;
let checkpoints: Map<string, Checkpoint>;
let text: string;

beforeAll(async () => {
  config = readLmConfig(JSON.parse(await readFile(path.join(DIR, 'config.json'), 'utf8')), 'llama-bytes/config.json');
  const base = await openSafetensors(memorySource('base', new Uint8Array(await readFile(path.join(DIR, 'model.safetensors')))));
  checkpoints = new Map([['base', base]]);
  for (const [i, t] of TASKS.entries()) checkpoints.set(t, await noisyExpert(base, i + 1, 0.05));
  text = (await readFile(SAMPLE_TEXT, 'utf8')).slice(0, 400);
});

async function twinAt(lambda: number) {
  const shared = await buildSharedExpert({ recipe: taskArithmeticRecipe('base', TASKS, lambda), checkpoints });
  const experts = new Map(TASKS.map((t) => [t, checkpoints.get(t)!]));
  return { shared, decomposition: await decomposeLmTwin(config, shared, experts, TASKS, 32) };
}

const ids = (s: string) => byteTokenizer().encode(s);

describe('LmTwinModel', () => {
  it('forms θ* + Σ wt·Δt exactly as the digits twin materialises it', async () => {
    const before = tf.memory().numTensors;
    const { shared, decomposition } = await twinAt(0.3);
    const knowledge = lmExclusive(decomposition, { rank: 4 });
    const model = new LmTwinModel(config, shared, knowledge);
    const w = [0.2, 0.5, 0.3];
    const expected = materializeMerge(shared, knowledge, w);
    const merged = model.weightsFor(w);
    try {
      // Prepared weights store projections [in, out]: compare a norm (as stored) and the embedding.
      for (const name of ['model.layers.0.input_layernorm.weight', 'model.embed_tokens.weight']) {
        const got = merged.tensors.get(name)!.dataSync();
        const want = expected[name]!;
        let err = 0;
        for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
        expect(err, name).toBeLessThan(1e-6);
      }
      const q = tf.tidy(() => tf.transpose(merged.tensors.get('model.layers.1.self_attn.q_proj.weight')!).dataSync());
      const want = expected['model.layers.1.self_attn.q_proj.weight']!;
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(q[i]! - want[i]!));
      expect(err).toBeLessThan(1e-6);
    } finally {
      disposeLmWeights(merged.tensors);
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('at full rank, one-hot weights score a window as that expert does; windows routed alike batch without changing a score', async () => {
    const before = tf.memory().numTensors;
    const { shared, decomposition } = await twinAt(0.5);
    const model = new LmTwinModel(config, shared, lmExclusive(decomposition, { rank: 32 }));
    const windows = contextWindows(ids(text), 40).slice(0, 5);
    try {
      const oneHot = new Float32Array(windows.length * 3);
      windows.forEach((_, i) => (oneHot[i * 3 + (i % 3)] = 1));
      const routed = await scoreRoutedWindows(model, windows, oneHot, { context: 40 });
      for (const [t, task] of TASKS.entries()) {
        const stored = await loadLmWeights(config, checkpoints.get(task)!);
        const w = prepareLmWeights(config, stored, task);
        disposeLmWeights(stored);
        try {
          const own = await scoreSequences(config, w, windows, { context: 40 });
          windows.forEach((_, i) => {
            if (i % 3 === t) expect(routed[i]!.nll).toBeCloseTo(own[i]!.nll, 3);
          });
        } finally {
          disposeLmWeights(w.tensors);
        }
      }
      // Soft weights, each window on its own (no two alike), against the same windows batched by equal weights.
      const soft = Float32Array.from({ length: windows.length * 3 }, (_, k) => [0.6, 0.3, 0.1][k % 3]!);
      const batched = await scoreRoutedWindows(model, windows, soft, { context: 40 });
      for (const [i, win] of windows.entries()) {
        const [alone] = await scoreRoutedWindows(model, [win], soft.subarray(i * 3, i * 3 + 3), { context: 40 });
        expect(batched[i]!.nll).toBeCloseTo(alone!.nll, 4);
      }
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("the router's features are the mean final hidden state over the tokens a window reads", async () => {
    const before = tf.memory().numTensors;
    const { shared, decomposition } = await twinAt(0.3);
    const model = new LmTwinModel(config, shared, lmExclusive(decomposition, { rank: 2 }));
    const w = model.sharedWeights();
    try {
      const windows = [ids('Hello, world. Merging!'), ids('abc'), ids('Hello, again. Twins.!!')];
      const features = await windowFeatures(config, w, windows);
      const d = config.hiddenSize;
      for (const [i, win] of windows.entries()) {
        const n = win.length - 1;
        const want = tf.tidy(() => tf.mean(lmHidden(config, w, tf.tensor2d(win.slice(0, n), [1, n], 'int32')), 0).dataSync());
        for (let j = 0; j < d; j++) expect(features[i * d + j]).toBeCloseTo(want[j]!, 5);
      }
    } finally {
      disposeLmWeights(w.tensors);
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('contextWindows', () => {
  it('cuts a text into windows that score as scoreTokens scores the whole text', async () => {
    const stored = await loadLmWeights(config, checkpoints.get('base')!);
    try {
      const all = ids(text);
      const windows = contextWindows(all, 32);
      expect(windows.length).toBe(Math.ceil((all.length - 1) / 32));
      const pieces = await scoreSequences(config, stored, windows, { context: 32 });
      const whole = await scoreTokens(config, stored, all, { context: 32 });
      expect(pieces.reduce((n, s) => n + s.tokens, 0)).toBe(whole.tokens);
      expect(pieces.reduce((n, s) => n + s.nll, 0)).toBeCloseTo(whole.nll, 3);
      expect(contextWindows(all, 32, 3)).toEqual([windows[0], windows[Math.round((windows.length - 1) / 2)], windows.at(-1)]);
    } finally {
      disposeLmWeights(stored);
    }
  });
});

describe('lmTwinDemo', () => {
  it("reports gains, routing and mixed windows whose numbers hold together", async () => {
    const before = tf.memory().numTensors;
    const phrases = ['the quick brown fox jumps over the lazy dog; ', '0123 4567 89, 1011 1213 1415. ', 'function f(x) { return x + 1; } '];
    const domain = (k: number, bytes: number, from: number) => phrases[k]!.repeat(40).slice(from, from + bytes);
    const texts = TASKS.map((_, k) => ({ validation: domain(k, 320, 0), test: domain(k, 160, 7) }));
    const manifest = {
      context: 32,
      domains: TASKS.map((id, k) => ({ id, label: id, description: id, expert: `${id}.safetensors`, texts: texts[k] })),
      mixed: [0, 1].map((k) => ({ id: `m${k}`, text: domain(k, 16, 3) + domain(k + 1, 16, 5), parts: [] })),
    } as unknown as LmDemoManifest;
    const demo: LmDemo = { manifest, config, checkpoints };
    const full = { rank: 32 };
    const r = await lmTwinDemo(demo, { lambdas: [0.3, 0.6], choices: [full, { rankRatio: 0.1 }], router: { architecture: 'small', epochs: 5 } });
    expect(r.lambdaSweep.map((p) => p.lambda)).toEqual([0.3, 0.6]);
    expect(r.lambda).toBe(r.lambdaSweep.reduce((a, b) => (b.validation > a.validation ? b : a)).lambda);
    const [whole, ratio] = r.rows;
    expect(whole!.setting).toEqual({ rank: 32 });
    expect(ratio!.setting).toEqual({ rank_ratio: 0.1 });
    // Full rank with oracle routing is each expert itself: gain 1 on every domain.
    for (const d of whole!.perDomain) {
      expect(d.gainOracle).toBeCloseTo(1, 3);
      expect(d.oracle.loss).toBeCloseTo(r.references[d.domain]!.expert.loss, 4);
    }
    for (const row of r.rows) {
      expect(row.normalized.oracle).toBeCloseTo((100 * row.perDomain.reduce((n, d) => n + d.gainOracle, 0)) / 3, 9);
      expect(row.mixed.weights).toHaveLength(2);
      for (const w of row.mixed.weights) expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(row.mixed.meanLargestWeight).toBeCloseTo(row.mixed.weights.reduce((n, w) => n + Math.max(...w), 0) / 2, 6);
      expect(row.mixed.soft.tokens).toBe(row.mixed.hard.tokens);
    }
    expect(r.windows.test).toEqual(Object.fromEntries(TASKS.map((t, k) => [t, contextWindows(ids(texts[k]!.test), 32).length])));
    expect(r.router.samples.training + r.router.samples.heldOut).toBe(TASKS.reduce((n, _, k) => n + contextWindows(ids(texts[k]!.validation), 32).length, 0));
    expect(r.router.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
