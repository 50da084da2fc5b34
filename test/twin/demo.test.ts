/**
 * Twin-Merging on the shipped demo (wasm, as the method table's test: cpu takes ~40 s here): the
 * issue's acceptance (rank 4 ≥ 90 normalized and ≥ TIES + 15), the rows at rank 4 and at
 * rank_ratio 0.1 and the rank sweep with storage, routing diagnostics and the router's held-out
 * curve, routing on mixed inputs, no tensor left behind, and hard tasks — a task whose inputs are
 * another task's cannot be routed, and is reported apart from the score. The router is the paper's
 * architecture at a narrower width (128 instead of 2 × 1024) to keep the test quick.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { openDemoSession } from '../../src/engine/demo/session.js';
import type { DemoSession } from '../../src/engine/demo/method-table.js';
import { buildTwinPackage, loadHardTasks, readTwinPackage, twinDemo, type HardTasks, type TwinDemoResult } from '../../src/engine/methods/twin/index.js';
import type { RouterOptions } from '../../src/engine/router/types.js';
import { MIN_DELTA } from '../../src/engine/router/train.js';

const ROUTER: RouterOptions = { architecture: 'paper', hidden: 128, epochs: 12 };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let session: DemoSession;
let result: TwinDemoResult;
let ties: number;
let leaked: number;
let seconds: number;

beforeAll(async () => {
  await initNodeBackend('wasm');
  const manifest = await readFile(path.join(ROOT, 'public/demo/manifest.json'), 'utf8');
  ties = (JSON.parse(manifest) as { accuracy: { normalized: { ties: { score: number } } } }).accuracy.normalized.ties.score;
  const files = {
    manifest,
    read: async (f: string) => new Uint8Array(await readFile(path.join(ROOT, 'public/demo', f))),
    digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
  };
  session = await openDemoSession(files);
  expect(await loadHardTasks(files, session.manifest)).toBeUndefined();
  const before = tf.memory().numTensors;
  const started = performance.now();
  result = await twinDemo(session, { router: ROUTER });
  seconds = (performance.now() - started) / 1000;
  leaked = tf.memory().numTensors - before;
}, 120_000);

describe('Twin-Merging on the demo', () => {
  it('meets the acceptance: rank 4 ≥ 90 normalized and ≥ the TIES row + 15', () => {
    expect(result.rows.map((r) => [r.method, r.params])).toEqual([
      ['twin_merging', { lambda: result.lambda, rank: 4 }],
      ['twin_merging_oracle', { lambda: result.lambda, rank: 4 }],
      ['twin_merging', { lambda: result.lambda, rank_ratio: 0.1 }],
      ['twin_merging_oracle', { lambda: result.lambda, rank_ratio: 0.1 }],
    ]);
    const row = result.rows[0]!;
    expect(row.normalized).toBeGreaterThanOrEqual(90);
    expect(row.normalized).toBeGreaterThanOrEqual(ties + 15);
    const oracle = result.rows.find((r) => r.method === 'twin_merging_oracle')!;
    // The router can only lose against the true task, and here it barely does.
    expect(oracle.normalized).toBeGreaterThanOrEqual(row.normalized - 0.5);
    expect(row.normalized).toBeGreaterThanOrEqual(oracle.normalized - 1);
    for (const r of result.rows) expect(r.perTask).toHaveLength(5);
    console.log(`twin_merging ${row.normalized.toFixed(2)}, oracle ${oracle.normalized.toFixed(2)}, TIES ${ties}, λ ${result.lambda}, ${seconds.toFixed(1)} s, router training ${result.routerTrainingMs.toFixed(0)} ms`);
  });

  it('chooses λ on validation among the grid and sweeps ranks 1..16 with storage', () => {
    const best = Math.max(...result.lambdaSweep.map((p) => p.validation));
    expect(result.lambdaSweep.find((p) => p.lambda === result.lambda)!.validation).toBe(best);
    expect(result.sweep.map((p) => p.rank)).toEqual([1, 2, 4, 8, 16]);
    const byRank = Object.fromEntries(result.sweep.map((p) => [p.rank, p]));
    expect(byRank[1]!.oracle).toBeLessThan(byRank[4]!.oracle);
    expect(byRank[4]!.oracle).toBeLessThan(byRank[16]!.oracle);
    expect(byRank[8]!.oracle).toBeGreaterThanOrEqual(97);
    // Storage grows with rank by 5 tasks × r × (1024 + 64) for hidden.weight and r × (10 + 1024) for
    // head.weight until rank 10, where the whole 10 × 1024 matrix is no larger and is kept instead.
    for (const p of result.sweep) {
      const head = p.rank * (10 + 1024) < 10 * 1024;
      const factors = 5 * (p.rank * (1024 + 64) + (head ? p.rank * (10 + 1024) : 0));
      const dense = 5 * (1024 + 10 + (head ? 0 : 10 * 1024));
      expect(p.storage.factors).toBe(factors);
      expect(p.storage.dense).toBe(dense);
      expect(p.storage.total).toBe(76_810 + factors + dense);
      expect(p.storage.experts).toBe(5 * 76_810);
      expect(p.storage.ratio).toBeLessThan(0.7);
    }
    expect(result.storage).toEqual(byRank[4]!.storage);
    // The paper's router at width 128: standardisation, two Linear + BatchNorm layers, the logits.
    expect(result.storage.router).toBe(2 * 1024 + (128 * 1024 + 128 + 4 * 128) + (128 * 128 + 128 + 4 * 128) + (5 * 128 + 5));
    // rank_ratio 0.1: ⌊0.1 · 64⌋ = 6 for hidden.weight, ⌊0.1 · 10⌋ = 1 for head.weight.
    const ratio = result.storageByChoice[1]!;
    expect(ratio.factors).toBe(5 * (6 * (1024 + 64) + 1 * (10 + 1024)));
  });

  it('reports routing: accuracy, the mean weight per true task, samples, and the training curve', () => {
    const r = result.routing;
    expect(r.tasks).toEqual(result.tasks);
    expect(r.accuracy).toBeGreaterThanOrEqual(0.98);
    expect(r.meanWeights).toHaveLength(5);
    r.meanWeights.forEach((row, t) => {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(row[t]!).toBeGreaterThan(0.9);
    });
    expect(r.samples).toHaveLength(10);
    expect(r.samples[0]).toMatchObject({ task: 'invert', index: 0 });
    // The curve: training and held-out numbers per epoch; the epoch kept is the one whose held-out
    // loss nothing after it beat by more than MIN_DELTA, and training stopped `patience` epochs later.
    expect(result.routerOptions).toMatchObject({ architecture: 'paper', hidden: 128 });
    expect(result.routerSamples).toEqual({ training: 5 * 270, heldOut: 5 * 90 });
    let kept = result.curve[0]!;
    for (const e of result.curve) if (e.validationLoss! < kept.validationLoss! - MIN_DELTA) kept = e;
    expect(result.routerBestEpoch).toBe(kept.epoch);
    expect(result.curve.length === 12 || result.curve.length === kept.epoch + result.routerOptions.patience).toBe(true);
    expect(kept.validationAccuracy).toBeGreaterThanOrEqual(0.98);
  });

  it('routes mixed inputs: blends of every pair of tasks, soft against hard routing', () => {
    const m = result.mixed!;
    expect(m.pairs.map((p) => `${p.a}+${p.b}`)).toHaveLength(10);
    for (const p of m.pairs) {
      expect(p.samples).toBe(360);
      expect(p.meanLargestWeight).toBeGreaterThanOrEqual(1 / 5);
      expect(p.meanLargestWeight).toBeLessThanOrEqual(1);
      for (const a of [p.soft, p.hard, p.even, p.expertA, p.expertB]) expect(a >= 0 && a <= 1).toBe(true);
    }
    expect(m.meanLargestWeight).toBeCloseTo(m.pairs.reduce((a, p) => a + p.meanLargestWeight, 0) / 10, 12);
    console.log(`mixed: largest weight ${m.meanLargestWeight.toFixed(3)}, on the pair ${m.weightOnPair.toFixed(3)}; soft ${(100 * m.soft).toFixed(1)}, hard ${(100 * m.hard).toFixed(1)}, even ${(100 * m.even).toFixed(1)}, best expert ${(100 * m.bestExpert).toFixed(1)}`);
  });

  it('leaves no tensor behind, and its model packages and reads back', async () => {
    expect(leaked).toBe(0);
    const { files, manifest } = buildTwinPackage(result.model);
    expect(manifest.storage).toEqual(result.storage);
    const read = await readTwinPackage(files);
    expect(read.exclusive.parts).toEqual(result.model.exclusive.parts);
    expect(read.sharedRecipe).toMatchObject({ mergeMethod: 'task_arithmetic', parameters: { lambda: result.lambda } });
  });
});

describe('options', () => {
  it('any shared recipe (TIES here) and ranks by energy share', async () => {
    const r = await twinDemo(session, {
      lambdas: [1],
      ranks: [2],
      energy: 0.5,
      router: { architecture: 'small' },
      mixed: false,
      sharedRecipe: (lambda, experts) => ({ mergeMethod: 'ties', baseModel: 'base', models: experts.map((model) => ({ model, parameters: { weight: 1, density: 0.3 } })), parameters: { lambda } }),
    });
    expect(r.rows[0]!.params).toEqual({ lambda: 1, energy: 0.5 });
    expect(r.choices).toEqual([{ energy: 0.5 }]);
    expect(r.mixed).toBeUndefined();
    expect(r.model.sharedRecipe).toMatchObject({ mergeMethod: 'ties' });
    expect(r.sweep.map((p) => p.rank)).toEqual([2]);
    for (const row of r.model.exclusive.parts) {
      for (const p of row) if (p.kind === 'lowrank') expect(p.energy).toBeGreaterThanOrEqual(0.5 - 1e-9);
    }
    expect(r.rows[1]!.normalized).toBeGreaterThan(ties);
  }, 60_000);
});

describe('hard tasks', () => {
  it('a task with another task’s inputs is routed by chance between the two, and kept out of the score', async () => {
    // "invert-again": the invert task's inputs and expert under another name, the worst case for
    // a router that sees only inputs (the shipped hard task, invert-relabel, is the same case with
    // its own expert; test/demo/hard.test.ts measures it).
    const hard: HardTasks = {
      tasks: ['invert-again'],
      weights: { 'invert-again': session.weights.invert! },
      checkpoints: new Map([['invert-again', session.checkpoints.get('invert')!]]),
      sets: { validation: { 'invert-again': session.sets.validation.invert! }, test: { 'invert-again': session.sets.test.invert! } },
    };
    const before = tf.memory().numTensors;
    const r = await twinDemo(session, { hard, lambdas: [result.lambda], ranks: [4], router: { architecture: 'small' }, mixed: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.routing.tasks).toEqual([...result.tasks, 'invert-again']);
    expect(r.rows[0]!.perTask).toHaveLength(5);
    const [invert, again] = [r.routing.perTask[0]!, r.routing.perTask[5]!];
    // Each sample goes to one of the twins: together they hold ~all, neither gets them reliably.
    expect(invert + again).toBeGreaterThan(0.9);
    expect(Math.min(invert, again)).toBeLessThan(0.8);
    expect(r.routing.meanWeights[0]![5]! + r.routing.meanWeights[0]![0]!).toBeGreaterThan(0.9);
    expect(r.hard).toHaveLength(1);
    expect(r.hard[0]).toMatchObject({ task: 'invert-again' });
    expect(r.hard[0]!.routing).toBe(again);
  }, 60_000);
});
