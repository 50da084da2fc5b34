/**
 * Twin-Merging's lab session (methods/twin/lab.ts) on the shipped demo, on wasm like the demo's
 * own test: its cached stages give twinDemo's numbers at the same settings (rank, energy,
 * temperature and top-k, hard mode); moves that only change the rank are served from the caches;
 * no tensor is left behind; and through the EngineApi it is latest-wins and exports a package that
 * reads back.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { createEngine } from '../../src/engine/api/engine.js';
import type { EngineApi } from '../../src/engine/api/engine-api.js';
import type { DemoSession } from '../../src/engine/demo/method-table.js';
import { openDemoSession } from '../../src/engine/demo/session.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { loadHardTasks, readTwinPackage, twinDemo, type HardTasks, type TwinDemoResult } from '../../src/engine/methods/twin/index.js';
import { createTwinLab, type TwinLab, type TwinView } from '../../src/engine/methods/twin/lab.js';
import { buildSharedExpert, sharedRecipe } from '../../src/engine/methods/twin/shared.js';
import { TWIN_MERGING } from '../../src/engine/routed/twin.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = path.join(ROOT, 'public/demo');
const HARD = 'invert-relabel';
/** The small router keeps this file quick (the paper's trains for about a minute here); test/twin/demo.test.ts and test/router cover the paper's. */
const SMALL = { architecture: 'small' } as const;
let session: DemoSession;
let hard: HardTasks;
let lab: TwinLab;

const files = async (manifest: string) => ({
  manifest: await readFile(path.join(DEMO, manifest), 'utf8'),
  read: async (f: string) => new Uint8Array(await readFile(path.join(DEMO, f))),
  digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
});

beforeAll(async () => {
  await initNodeBackend('wasm');
  // manifest-hard.json opens the same scored demo as manifest.json (test/demo/hard.test.ts), plus the hard task.
  const f = await files('manifest-hard.json');
  session = await openDemoSession(f);
  hard = (await loadHardTasks(f, session.manifest))!;
  lab = createTwinLab(session, hard);
}, 120_000);

/** The view's numbers against twinDemo's rows, sweep, routing and storage at the same settings. */
function expectSameAsDemo(v: TwinView, d: TwinDemoResult): void {
  const router = d.rows.find((r) => r.method === 'twin_merging')!;
  const oracle = d.rows.find((r) => r.method === 'twin_merging_oracle')!;
  expect(v.tasks).toEqual(d.tasks);
  expect(v.hardTasks).toEqual(d.hardTasks);
  expect(v.router.perTask).toEqual(router.perTask);
  expect(v.router.normalized).toBe(router.normalized);
  expect(v.oracle.perTask).toEqual(oracle.perTask);
  expect(v.oracle.normalized).toBe(oracle.normalized);
  expect(v.sweep).toEqual(d.sweep);
  expect(v.routing).toEqual(d.routing);
  expect(v.storage).toEqual(d.storage);
  expect(v.curve).toEqual(d.curve);
  expect(v.settings.router).toEqual(d.routerOptions);
  expect(v.hard.map((h) => ({ ...h }))).toEqual(d.hard.map((h) => ({ ...h })));
}

describe('Twin-Merging lab session', () => {
  it("gives twinDemo's numbers at λ 0.3, rank 4; rank moves come from the caches", async () => {
    const before = tf.memory().numTensors;
    const first = await lab.view({ router: SMALL, split: 'test', lambda: 0.3, rank: 4, samples: 2 });
    expect(first.computed).toContain('shared expert and SVDs');
    expect(first.computed).toContain('router');
    expectSameAsDemo(first, await twinDemo(session, { router: SMALL, mixed: false,  lambdas: [0.3], rank: 4, samples: 2 }));
    expect(first.settings).toMatchObject({ lambda: 0.3, rank: 4, temperature: 1, topK: 5, oracle: false, hard: false });
    expect(first.expert).toEqual(session.tasks.map((t) => 100 * session.scorer.expertAccuracies.test[t]!));
    // Every 2-D tensor is cut to rank 4 (head.weight: 10 × 1024 holds at most 10).
    expect(first.keptRanks.map((k) => [k.tensor, k.ranks])).toEqual([
      ['hidden.weight', [4, 4, 4, 4, 4]],
      ['head.weight', [4, 4, 4, 4, 4]],
    ]);

    // A rank in the sweep and back: nothing recomputed, the same numbers.
    const r8 = await lab.view({ router: SMALL, split: 'test', lambda: 0.3, rank: 8, samples: 2 });
    expect(r8.computed).toEqual([]);
    expect(r8.router.normalized).toBe(first.sweep.find((p) => p.rank === 8)!.router);
    expect(r8.storage).toEqual(first.sweep.find((p) => p.rank === 8)!.storage);
    const back = await lab.view({ router: SMALL, split: 'test', lambda: 0.3, rank: 4, samples: 2 });
    expect(back.computed).toEqual([]);
    expect({ ...back, milliseconds: 0 }).toEqual({ ...first, milliseconds: 0, computed: [] });

    // A rank outside the sweep: two forwards (oracle and router), timed.
    const r6 = await lab.view({ router: SMALL, split: 'test', lambda: 0.3, rank: 6, samples: 2 });
    expect(r6.computed).toEqual(['oracle at rank 6', 'router at rank 6']);
    expect(r6.storage.factors).toBeGreaterThan(first.storage.factors);
    console.log(
      `twin lab: first request ${first.milliseconds.toFixed(0)} ms (router training ${first.routerTrainingMs.toFixed(0)} ms), rank move in the sweep ${r8.milliseconds.toFixed(1)} ms, new rank ${r6.milliseconds.toFixed(0)} ms`,
    );
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it("gives twinDemo's numbers with an energy share, a temperature and top-k", async () => {
    const settings = { router: SMALL, split: 'test' as const, lambda: 0.3, energy: 0.9, temperature: 0.5, topK: 2, samples: 2 };
    const v = await lab.view(settings);
    // λ 0.3's shared expert and router are cached: only the cut and the routing are new.
    expect(v.computed).not.toContain('router');
    expect(v.computed).not.toContain('shared expert and SVDs');
    const d = await twinDemo(session, { router: SMALL, mixed: false,  lambdas: [0.3], energy: 0.9, routing: { temperature: 0.5, topK: 2 }, samples: 2 });
    expectSameAsDemo(v, d);
    expect(v.settings).toMatchObject({ energy: 0.9, temperature: 0.5, topK: 2 });
    expect(v.settings.rank).toBeUndefined();
    // Per matrix and task the kept rank is the smallest holding 90% of the energy.
    for (const k of v.keptRanks) for (const e of k.energy) expect(e).toBeGreaterThanOrEqual(0.9 - 1e-9);
    // Top-2: at most two nonzero weights per sample.
    for (const s of v.routing.samples) expect(s.weights.filter((w) => w > 0).length).toBeLessThanOrEqual(2);
    const moved = await lab.view({ ...settings, temperature: 2 });
    expect(moved.computed.every((c) => c.startsWith('router at'))).toBe(true);
    console.log(`twin lab: temperature move ${moved.milliseconds.toFixed(0)} ms (${moved.computed.length} routed forwards)`);
  }, 120_000);

  it("hard mode gives twinDemo's numbers with the hard task, and the router visibly errs on it", async () => {
    const v = await lab.view({ router: SMALL, split: 'test', lambda: 0.4, rank: 4, hard: true, samples: 2 });
    const d = await twinDemo(session, { router: SMALL, mixed: false,  hard, lambdas: [0.4], samples: 2 });
    expectSameAsDemo(v, d);
    expect(v.routedTasks).toEqual([...session.tasks, HARD]);
    const at = (t: string) => v.routedTasks.indexOf(t);
    expect(Math.min(v.routing.perTask[at('invert')]!, v.routing.perTask[at(HARD)]!)).toBeLessThan(0.8);
    expect(v.routing.meanWeights).toHaveLength(6);
    expect(v.hard[0]!.oracle - v.hard[0]!.router).toBeGreaterThan(0.3);
    // Hard mode off again: the five-task caches of the first test (λ 0.3, rank 4) are still there.
    const off = await lab.view({ router: SMALL, split: 'test', lambda: 0.3, rank: 4, samples: 2 });
    expect(off.routedTasks).toEqual(session.tasks);
    expect(off.computed).toEqual([]);
  }, 120_000);

  it('scores on the validation split unless test is asked for; the router, SVDs and cuts are shared, only the scores differ', async () => {
    const test = await lab.view({ router: SMALL, split: 'test', lambda: 0.3, rank: 4, samples: 2 });
    const val = await lab.view({ router: SMALL, lambda: 0.3, rank: 4, samples: 2 });
    expect(val.settings.split).toBe('validation');
    expect(val.computed).not.toContain('router');
    expect(val.computed).not.toContain('shared expert and SVDs');
    expect(val.expert).toEqual(session.tasks.map((t) => 100 * session.scorer.expertAccuracies.validation[t]!));
    expect(val.oracle.perTask).not.toEqual(test.oracle.perTask);
    expect(val.storage).toEqual(test.storage);
    expect(val.curve).toEqual(test.curve);
    // Mixed inputs on request, on the same split.
    const mixed = await lab.view({ router: SMALL, lambda: 0.3, rank: 4, samples: 2, mixed: true });
    expect(mixed.computed).toEqual(['mixed inputs']);
    expect(mixed.mixed!.pairs).toHaveLength(10);
    expect(mixed.mixed!.meanLargestWeight).toBeLessThanOrEqual(1);
  }, 120_000);

  it('reports the storage merge-lab merge reports for the same package (the router apart)', async () => {
    const v = await lab.view({ router: SMALL, lambda: 0.3, rank: 4 });
    const cli = await TWIN_MERGING.buildPackage(
      { mergeMethod: 'twin_merging', baseModel: 'base', models: session.tasks.map((model) => ({ model })), options: { shared_method: 'task_arithmetic' }, parameters: { lambda: 0.3, rank: 4 } },
      session.checkpoints,
    );
    expect(cli.report.storage).toEqual({ values: v.storage.total, bytes: v.storage.bytes.total, expertValues: v.storage.experts, expertBytes: v.storage.bytes.experts, ratio: v.storage.ratio });
    const withExclude = await lab.view({ router: SMALL, lambda: 0.3, rankRatio: 0.1, exclude: ['head', 'bias'] });
    const cliExclude = await TWIN_MERGING.buildPackage(
      { mergeMethod: 'twin_merging', baseModel: 'base', models: session.tasks.map((model) => ({ model })), parameters: { lambda: 0.3, rank_ratio: 0.1 }, listOptions: { exclude: ['head', 'bias'] } },
      session.checkpoints,
    );
    expect(cliExclude.report.storage.bytes).toBe(withExclude.storage.bytes.total);
    expect(cliExclude.report.storage.ratio).toBe(withExclude.storage.ratio);
    expect(withExclude.storage.own).toBe(5 * (1024 + 10 * 1024 + 10));
  }, 120_000);

  it('refuses bad settings and hard mode without the hard files, with codes', async () => {
    const code = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isMergeLabError(e) ? e.code : String(e)));
    expect(await code(lab.view({ router: SMALL, split: 'test', rank: 0 }))).toBe('PARAMETER_OUT_OF_RANGE');
    expect(await code(lab.view({ router: SMALL, split: 'test', energy: 1.5 }))).toBe('PARAMETER_OUT_OF_RANGE');
    expect(await code(lab.view({ router: SMALL, split: 'test', topK: 9 }))).toBe('PARAMETER_OUT_OF_RANGE');
    expect(await code(createTwinLab(session).view({ router: SMALL,  hard: true }))).toBe('DEMO_DATA_INVALID');
    expect(await code(lab.view({ router: SMALL, split: 'test', shared: { id: 'ties', density: 0 } }))).toBe('PARAMETER_OUT_OF_RANGE');
    expect(await code(lab.view({ router: SMALL, split: 'train' as never }))).toBe('PARAMETER_INVALID');
    expect(await code(lab.view({ router: SMALL, rankRatio: 0 }))).toBe('PARAMETER_OUT_OF_RANGE');
  });

  it('builds the shared expert with TIES when asked: the registry merge of that recipe, bit for bit', async () => {
    // At the first test's λ 0.3 and rank 4, so task arithmetic's view below comes from the caches
    // (asked first: the TIES stages then push out the least recently used entry, not it).
    const ta = await lab.view({ router: SMALL, split: 'test', lambda: 0.3, rank: 4 });
    expect(ta.computed).toEqual([]);
    const settings = { router: SMALL, split: 'test' as const, shared: { id: 'ties', density: 0.3 } as const, lambda: 0.3, rank: 4 };
    const model = await lab.model(settings);
    const expected = await buildSharedExpert({ recipe: sharedRecipe('base', session.tasks, settings.shared, settings.lambda), checkpoints: session.checkpoints });
    for (const t of model.tensors) expect(Buffer.from(model.shared[t.name]!.buffer).equals(Buffer.from(expected[t.name]!.buffer)), t.name).toBe(true);
    expect(model.sharedRecipe?.mergeMethod).toBe('ties');
    expect(model.sharedRecipe?.parameters).toEqual({ lambda: 0.3 });
    const v = await lab.view(settings);
    expect(v.settings.shared).toEqual(settings.shared);
    expect(v.oracle.normalized).not.toBe(ta.oracle.normalized);
  });
});

describe('Twin-Merging through the EngineApi', () => {
  let engine: EngineApi;

  beforeAll(async () => {
    engine = createEngine();
    const manifest = await readFile(path.join(DEMO, 'manifest.json'), 'utf8');
    const hardManifest = await readFile(path.join(DEMO, 'manifest-hard.json'), 'utf8');
    const m = JSON.parse(manifest) as { base: string; tasks: { expert: string }[] };
    const checkpoints: Record<string, Blob> = {};
    for (const f of [m.base, ...m.tasks.map((t) => t.expert)]) checkpoints[f] = new Blob([await readFile(path.join(DEMO, f))]);
    const summary = await engine.demo.loadDemo({
      manifest,
      checkpoints,
      digits: new Blob([await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))]),
      hard: { manifest: hardManifest, checkpoints: { [`expert-${HARD}.safetensors`]: new Blob([await readFile(path.join(DEMO, `expert-${HARD}.safetensors`))]) } },
    });
    expect(summary.hardTasks).toEqual([HARD]);
  }, 120_000);

  it('is latest-wins: requests sent together run only the last; one in flight stops at its next stage', async () => {
    const sent = [1, 2, 3].map((rank) => engine.demo.twinLab({ router: SMALL,  rank }));
    const settled = await Promise.allSettled(sent);
    expect(settled.slice(0, 2).map((s) => s.status === 'rejected' && isMergeLabError(s.reason) && s.reason.code)).toEqual(['CANCELLED', 'CANCELLED']);
    const last = settled[2]!;
    expect(last.status === 'fulfilled' && last.value.settings.rank).toBe(3);
    // A new λ needs the shared expert and a router: overtaken while it trains, it gives up.
    const slow = engine.demo.twinLab({ router: SMALL,  lambda: 0.7 });
    // A few microtasks: past latest-wins' own check, into the work (every await in it is a microtask).
    for (let i = 0; i < 10; i++) await Promise.resolve();
    const fast = engine.demo.twinLab({ router: SMALL,  rank: 2 });
    const [a, b] = await Promise.allSettled([slow, fast]);
    expect(a.status === 'rejected' && isMergeLabError(a.reason) && a.reason.code).toBe('CANCELLED');
    expect(a.status === 'rejected' && (a.reason as Error).message).toMatch(/superseded before/);
    expect(b.status).toBe('fulfilled');
  }, 120_000);

  it('works on `then` ahead once the view is out: the guessed rank then costs no forward; a request stops the guesses', async () => {
    await engine.demo.twinLab({ router: SMALL,  rank: 11 });
    const view = await engine.demo.twinLab({ router: SMALL,  rank: 12 }, { then: [{ router: SMALL, rank: 13 }, { router: SMALL, rank: 14 }] });
    expect(view.settings.rank).toBe(12);
    // The guesses run after the answer; a request for the first takes what they finished.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await engine.demo.twinLab({ router: SMALL,  rank: 13 })).computed).toEqual([]);
    expect((await engine.demo.twinLab({ router: SMALL,  rank: 14 })).computed).toEqual([]);
    // A request right after the view stops the guess before its first stage (rank 20 is computed when asked).
    await engine.demo.twinLab({ router: SMALL,  rank: 19 }, { then: [{ router: SMALL, rank: 20 }] });
    expect((await engine.demo.twinLab({ router: SMALL,  rank: 21 })).computed).toEqual(['oracle at rank 21', 'router at rank 21']);
    expect((await engine.demo.twinLab({ router: SMALL,  rank: 20 })).computed).toEqual(['oracle at rank 20', 'router at rank 20']);
  }, 120_000);

  it('builds the package at the settings, which reads back; memory stays flat', async () => {
    await engine.demo.twinLab({ router: SMALL,  rank: 4, hard: true });
    const before = await engine.system.memory();
    // Each a new temperature, so each routes the sweep again.
    for (const rank of [1, 16, 4]) await engine.demo.twinLab({ router: SMALL,  rank, hard: true, temperature: rank / 4 });
    const files = await engine.demo.routedPackage({ method: 'twin_merging', settings: { router: SMALL, rank: 4, hard: true, temperature: 0.5, topK: 2 } });
    expect(Object.keys(files).sort()).toEqual(['exclusive.safetensors', 'router.safetensors', 'shared.safetensors', 'twin.json']);
    const twin = await readTwinPackage(files);
    expect(twin.tasks).toEqual([...(await engine.demo.twinLab({ router: SMALL,  hard: true })).tasks, HARD]);
    expect(twin.hardTasks).toEqual([HARD]);
    expect(twin.temperature).toBe(0.5);
    expect(twin.topK).toBe(2);
    expect(twin.manifest.tensors.find((t) => t.name === 'hidden.weight')!.parts['invert']).toMatchObject({ kind: 'lowrank', rank: 4 });
    expect(twin.sharedRecipe?.parameters).toEqual({ lambda: 0.3 });
    expect(await engine.system.memory()).toEqual(before);
  }, 120_000);
});
