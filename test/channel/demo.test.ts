/**
 * Channel Merging on the shipped demo (public/demo), on wasm like the method table: the sanity
 * checks (K = T gives the experts back exactly; K = 1 is the within-group method on all experts,
 * bit for bit with the engine's own merge), the table rows and K sweep on the quick grid, the
 * issue's acceptance (K = 2 ≥ TIES + 8 normalized points, TIES measured here on the same grid),
 * sign conflicts lower within groups than across, and no tensor left behind.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { architectureTensors } from '../../src/engine/demo/manifest.js';
import { QUICK_GRID, type DemoSession } from '../../src/engine/demo/method-table.js';
import { openDemoSession } from '../../src/engine/demo/session.js';
import { sweep } from '../../src/engine/eval/sweep.js';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { channelMerge } from '../../src/engine/methods/channel/channel-merge.js';
import { channelDemo, channelDemoPackage, type ChannelDemo } from '../../src/engine/methods/channel/demo.js';
import { readChannelPackage } from '../../src/engine/methods/channel/package.js';
import { memorySource, openSafetensors } from '../../src/engine/io/index.js';
import { routerFromTensors } from '../../src/engine/router/index.js';
import { argmaxRoutes, oracleRoutes, routedAccuracies, routedAccuracy, taskWeights } from '../../src/engine/methods/channel/lookup.js';
import { predict } from '../../src/engine/eval/forward.js';
import { taskAccuracies } from '../../src/engine/eval/score.js';
import { weightsSource } from '../../src/engine/methods/channel/source.js';
import { METHODS } from '../../src/engine/methods/registry.js';

/** Same tensor names and the same float32 bits (a byte compare: toEqual on 65 536-value arrays is slow). */
function expectSameBits(actual: Readonly<Record<string, Float32Array>>, expected: Readonly<Record<string, Float32Array>>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  for (const [name, v] of Object.entries(expected)) expect(bytes(actual[name]!).equals(bytes(v)), name).toBe(true);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let session: DemoSession;
let demo: ChannelDemo;
let ties: number;

const source = () =>
  weightsSource({
    base: session.weights.base!,
    experts: session.tasks.map((t) => session.weights[t]!),
    tasks: session.tasks,
    shapes: architectureTensors(session.manifest.architecture),
  });
const tiesRecipe = (lambda: number, density: number) => ({
  mergeMethod: 'ties',
  baseModel: 'base',
  models: session.tasks.map((t) => ({ model: t, parameters: { weight: 1, density } })),
  parameters: { lambda },
  // The demo's recipes compute in float32 (its files store float16), as Channel Merging's groups do.
  dtype: 'float32' as const,
});

beforeAll(async () => {
  await initNodeBackend('wasm');
  const manifest = await readFile(path.join(ROOT, 'public/demo/manifest.json'), 'utf8');
  session = await openDemoSession({
    manifest,
    read: async (f) => new Uint8Array(await readFile(path.join(ROOT, 'public/demo', f))),
    digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
  });
  const before = tf.memory().numTensors;
  demo = await channelDemo(session, { grid: QUICK_GRID, K: 2, router: { architecture: 'small' } });
  // The TIES row of the method table on the same grid, chosen on validation, scored on test.
  const points = QUICK_GRID.density.flatMap((density) => QUICK_GRID.lambda.map((lambda) => ({ lambda, density })));
  const result = await sweep(points.map((_, i) => i), (i) => mergeToMemory({ recipe: tiesRecipe(points[i]!.lambda, points[i]!.density), methods: METHODS, checkpoints: session.checkpoints }), session.scorer);
  ties = result.best.test.normalized;
  expect(tf.memory().numTensors).toBe(before);
  const f = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(2));
  console.log(`TIES (quick grid): ${ties.toFixed(2)}`);
  for (const r of demo.rows) console.log(`${r.method} ${JSON.stringify(r.params)} ${r.groupMethod}/${r.similarity}: ${r.perTask.map((x) => x.toFixed(1)).join(' ')} → ${r.normalized.toFixed(2)} (storage ${(100 * r.storage.ratio).toFixed(1)} %)`);
  for (const s of demo.sweep) {
    console.log(
      `K=${s.K} ${s.groupMethod}/${s.similarity} ${JSON.stringify(s.params)} val ${s.validation.toFixed(2)} test ${s.normalized.toFixed(2)} routed ${f(s.routed)} storage ${(100 * s.storage.ratio).toFixed(2)} % conflicts within ${f(s.conflicts.within)} across ${f(s.conflicts.across)}`,
    );
  }
}, 180_000);

describe('Channel Merging sanity on the demo', () => {
  it('K = T gives every expert back exactly (average and TIES)', async () => {
    for (const method of [{ id: 'average' }, { id: 'ties', params: { density: 0.3 } }]) {
      const model = await channelMerge(source(), { K: session.tasks.length, method });
      for (const t of session.tasks) expectSameBits(taskWeights(model, t), session.weights[t]!);
    }
  });

  it('K = 1 is the within-group method on all experts, bit for bit (TIES and average)', async () => {
    const model = await channelMerge(source(), { K: 1, method: { id: 'ties', params: { density: 0.3, lambda: 1 } } });
    const merged = await mergeToMemory({ recipe: tiesRecipe(1, 0.3), methods: METHODS, checkpoints: session.checkpoints });
    for (const t of session.tasks) expectSameBits(taskWeights(model, t), merged);
    const avg = await channelMerge(source(), { K: 1 });
    const linear = await mergeToMemory({ recipe: { mergeMethod: 'linear', models: session.tasks.map((t) => ({ model: t, parameters: { weight: 1 } })), dtype: 'float32' }, methods: METHODS, checkpoints: session.checkpoints });
    expectSameBits(taskWeights(avg, 0), linear);
  });
});

describe('Channel Merging rows and K sweep', () => {
  it('has the oracle and routed rows at K = 2, in the method table’s shape', () => {
    expect(demo.rows.map((r) => r.method)).toEqual(['channel_merging_oracle', 'channel_merging']);
    for (const r of demo.rows) {
      expect(r.params.K).toBe(2);
      expect(r.perTask).toHaveLength(5);
      for (const a of r.perTask) expect(a >= 0 && a <= 100, `${a}`).toBe(true);
    }
    // The routed row carries the router in its storage; the demo's transforms are easy to tell apart.
    expect(demo.rows[1]!.storage.routerParams).toBe(demo.router!.params);
    expect(demo.rows.every((r) => r.clustering === 'kmeans')).toBe(true);
    expect(demo.router!.routingAccuracy.test).toBeGreaterThan(0.95);
  });

  it('meets the acceptance: K = 2 ≥ TIES + 8 normalized points', () => {
    const k2 = demo.rows.find((r) => r.method === 'channel_merging_oracle')!;
    expect(k2.normalized).toBeGreaterThanOrEqual(ties + 8);
    expect(demo.rows.find((r) => r.method === 'channel_merging')!.normalized).toBeGreaterThanOrEqual(ties + 8);
  });

  it('sweeps K = 1..5 with storage growing by one copy per K, and reaches the experts at K = 5', () => {
    expect(demo.sweep.map((s) => s.K)).toEqual([1, 2, 3, 4, 5]);
    for (const s of demo.sweep) {
      // K copies of 76 810 weights against 5 experts, plus 5 × (1024 + 1024 + 10 + 10) index bytes
      // (each bias indexed per element, with its weight's rows).
      expect(s.storage.groupParams).toBe(s.K * 76_810);
      expect(s.storage.ratio).toBeCloseTo((s.K * 76_810 * 4 + 5 * 2068) / (5 * 76_810 * 4), 12);
    }
    expect(demo.sweep[4]!.normalized).toBe(100);
    // More groups never hurt on validation here, where the configuration is chosen.
    for (let k = 1; k < 5; k++) expect(demo.sweep[k]!.validation).toBeGreaterThanOrEqual(demo.sweep[k - 1]!.validation);
  });

  it('has fewer sign conflicts within groups than random groupings of the same sizes', () => {
    // Grouping by similarity makes within < across almost by construction; the claim that it
    // lowers conflicts is against random groups of the same sizes, whose within and across rates
    // are both near the all-pairs rate.
    for (const s of demo.sweep.slice(1, 4)) {
      const r = s.conflicts.random;
      expect(s.conflicts.within!).toBeLessThan(r.within! - 0.1);
      expect(Math.abs(r.within! - r.across!)).toBeLessThan(0.03);
      expect(Math.abs(r.within! - s.conflicts.all!)).toBeLessThan(0.03);
    }
  });

  it('maps every channel of hidden.weight to a group per task', () => {
    const a = demo.assignment;
    expect(a).toMatchObject({ tensor: 'hidden.weight', K: 2, channels: 1024, tasks: session.tasks });
    expect(a.groups).toHaveLength(1024);
    for (const g of a.groups) {
      expect(g[0]).toBe(0);
      expect(new Set(g).size).toBe(2);
    }
    expect(a.partitions.reduce((n, p) => n + p.channels, 0)).toBe(1024);
    for (let t = 0; t < 5; t++) expect(a.together[t]![t]).toBeCloseTo(1, 12);
  });

  it('packages the rows’ model with its router, and reads it back', async () => {
    const { files, manifest } = channelDemoPackage(demo);
    expect(Object.keys(files).sort()).toEqual(['channel.json', 'groups.safetensors', 'index.safetensors', 'router.safetensors']);
    expect(manifest).toMatchObject({ K: 2, tasks: session.tasks, groupMethod: { id: demo.rows[0]!.groupMethod } });
    expect(manifest.storage.ratio).toBeCloseTo(demo.rows[1]!.storage.ratio, 12);
    const back = await readChannelPackage(files);
    for (const t of session.tasks) expectSameBits(taskWeights(back.model, t), taskWeights(demo.model, t));
    const router = await openSafetensors(memorySource('router.safetensors', back.router!));
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const name of router.tensorNames) tensors.set(name, { shape: router.info(name)!.shape, data: await router.readFloat32(name) });
    expect(routerFromTensors((n) => tensors.get(n))).toEqual(demo.router!.weights);
  });

  it('routes each sample through the weights its route names', async () => {
    const arch = session.manifest.architecture;
    const T = session.tasks.length;
    // Everything routed to task 2 scores like task 2's looked-up model on every set.
    const to2 = Object.fromEntries(session.tasks.map((t) => [t, new Int32Array(session.sets.test[t]!.count).fill(2)]));
    const routed = await routedAccuracy(arch, demo.model, session.sets.test, to2);
    expect(routed.accuracies).toEqual(await taskAccuracies(arch, taskWeights(demo.model, 2), session.sets.test));
    expect(routed.routingAccuracy).toBeCloseTo(1 / T, 12);
    // Router weights → argmax routes; the oracle's routes are every sample's own task.
    expect(Array.from(argmaxRoutes(Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.5, 0]), 2, 3))).toEqual([1, 0]);
    const oracle = oracleRoutes(session.tasks, session.sets.test);
    expect((await routedAccuracy(arch, demo.model, session.sets.test, oracle)).routingAccuracy).toBe(1);
    await expect(routedAccuracy(arch, demo.model, session.sets.test, { ...oracle, invert: new Int32Array(3) })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', message: expect.stringMatching(/"invert" has 360 samples but 3 routes/) });
    const bad = Int32Array.from(oracle.invert!);
    bad[5] = T;
    await expect(routedAccuracy(arch, demo.model, session.sets.test, { ...oracle, invert: bad })).rejects.toMatchObject({ code: 'PARAMETER_OUT_OF_RANGE' });
  });

  it('scores several routings in one pass with the numbers of each sample run alone through its weights', async () => {
    const arch = session.manifest.architecture;
    const T = session.tasks.length;
    const sets = session.sets.test;
    const oracle = oracleRoutes(session.tasks, sets);
    // A router that is right for most samples and sends every seventh elsewhere.
    const mixed = Object.fromEntries(session.tasks.map((s, si) => [s, Int32Array.from({ length: sets[s]!.count }, (_, i) => (i % 7 === 0 ? (si + 1 + (i % (T - 1))) % T : si))]));
    const [o, m] = await routedAccuracies(arch, demo.model, sets, [oracle, mixed], session.scorer.expertAccuracies.test);
    // The reference: every set run whole through every task's weights, then each sample's route picked.
    const predictions = await Promise.all(session.tasks.map((_, t) => Promise.all(session.tasks.map((s) => predict(arch, taskWeights(demo.model, t), sets[s]!)))));
    const accuracy = (routes: Record<string, Int32Array>, s: string, si: number) => {
      const r = routes[s]!;
      let right = 0;
      for (let i = 0; i < r.length; i++) if (predictions[r[i]!]![si]![i] === sets[s]!.labels[i]) right++;
      return right / r.length;
    };
    expect(o!.accuracies).toEqual(Object.fromEntries(session.tasks.map((s, si) => [s, accuracy(oracle, s, si)])));
    expect(m!.accuracies).toEqual(Object.fromEntries(session.tasks.map((s, si) => [s, accuracy(mixed, s, si)])));
    expect(m!.routingAccuracy).toBeCloseTo(1 - session.tasks.reduce((n, s) => n + Math.ceil(sets[s]!.count / 7), 0) / session.tasks.reduce((n, s) => n + sets[s]!.count, 0), 12);
    expect(o).toEqual(await routedAccuracy(arch, demo.model, sets, oracle, session.scorer.expertAccuracies.test));
  });
});
