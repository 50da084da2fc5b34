/**
 * Live recompute on the embedded demo through the EngineApi: the same numbers as a one-off merge,
 * latest-wins (overtaken requests are dropped, never queued), kept sort orders, and tf.memory()
 * back where it started after 200 requests.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDemoEngine, tiesRecipe as recipe } from '../helpers/demo-engine.js';
import type { DemoSummary, EngineApi } from '../../src/engine/api/engine-api.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { openDemoSession } from '../../src/engine/demo/session.js';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { createLiveSession } from '../../src/engine/live/live-session.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demoDir = path.join(ROOT, 'public/demo');
let engine: EngineApi;
let summary: DemoSummary;

beforeAll(async () => {
  ({ engine, summary } = await openDemoEngine());
}, 120_000);

describe('live recompute on the demo', () => {
  it('scores the same as a one-off merge of the same recipe, on the validation split unless the test split is asked for', async () => {
    const live = await engine.demo.liveDemo(recipe(summary.tasks, 0.3));
    const onTest = await engine.demo.liveDemo(recipe(summary.tasks, 0.3), { split: 'test' });
    const session = await openDemoSession({
      manifest: await readFile(path.join(demoDir, 'manifest.json'), 'utf8'),
      read: async (f) => new Uint8Array(await readFile(path.join(demoDir, f))),
      digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
    });
    const weights = await mergeToMemory({ recipe: parseRecipe(recipe(summary.tasks, 0.3)), methods: METHODS, checkpoints: session.checkpoints });
    for (const [answer, split] of [[live, 'validation'], [onTest, 'test']] as const) {
      const once = await session.scorer.score(weights, split);
      expect(answer.split).toBe(split);
      expect(answer.normalized).toBeCloseTo(once.normalized, 10);
      expect(answer.perTask).toEqual(summary.tasks.map((t) => 100 * once.accuracies[t]!));
      expect(summary.expertAccuracy[split]).toEqual(summary.tasks.map((t) => 100 * session.scorer.expertAccuracies[split][t]!));
    }
    // Kept answers are per split: the two differ here, so one never stands for the other.
    expect(onTest.perTask).not.toEqual(live.perTask);
    const sweep = await engine.demo.sweepDemo([{ value: 0.3, recipe: recipe(summary.tasks, 0.3) }], { split: 'test' });
    expect(sweep[0]!.normalized).toBe(onTest.normalized);
    expect((await engine.demo.sweepDemo([{ value: 0.3, recipe: recipe(summary.tasks, 0.3) }]))[0]!.normalized).toBe(live.normalized);
  });
  it('is latest-wins: of requests sent together only the last runs; the others are CANCELLED', async () => {
    const sent = [0.2, 0.4, 0.6, 0.8].map((d) => engine.demo.liveDemo(recipe(summary.tasks, d)));
    const settled = await Promise.allSettled(sent);
    expect(settled.slice(0, 3).every((s) => s.status === 'rejected' && isMergeLabError(s.reason) && s.reason.code === 'CANCELLED')).toBe(true);
    expect(settled[3]!.status).toBe('fulfilled');
  });
  it('a live session merges bit for bit as a one-off merge, trims served from kept ranks included', async () => {
    const session = await openDemoSession({
      manifest: await readFile(path.join(demoDir, 'manifest.json'), 'utf8'),
      read: async (f) => new Uint8Array(await readFile(path.join(demoDir, f))),
      digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
    });
    const live = createLiveSession(session.checkpoints);
    const variants = [
      (d: number) => recipe(summary.tasks, d),
      (d: number) => recipe(summary.tasks, d, 0.8, 'breadcrumbs_ties'),
      (d: number) => recipe(summary.tasks, d, 1.2).replace('parameters: {lambda: 1.2}', 'parameters: {lambda: 1.2, rescale: true}'),
    ];
    for (const make of variants) {
      for (const d of [0.3, 0.55, 0.3, 0.9]) {
        const yaml = make(d);
        const a = await live.merge(parseRecipe(yaml));
        const b = await mergeToMemory({ recipe: parseRecipe(yaml), methods: METHODS, checkpoints: session.checkpoints });
        for (const name of Object.keys(b)) expect(Array.from(a[name]!), `${name} at density ${d}: ${yaml.split('\n').at(-2)}`).toEqual(Array.from(b[name]!));
      }
    }
    expect(live.cachedOrders).toBeGreaterThan(0);
  }, 60_000);
  it('answers a recipe it answered before from memory, with the same numbers', async () => {
    const first = await engine.demo.liveDemo(recipe(summary.tasks, 0.45));
    const again = await engine.demo.liveDemo(recipe(summary.tasks, 0.45));
    expect(again.perTask).toEqual(first.perTask);
    expect(again.normalized).toBe(first.normalized);
  });
  it('scores ahead what `then` names; a request for it takes that work over, any other stops it', async () => {
    const fresh = async (d: number) => {
      const session = await openDemoSession({
        manifest: await readFile(path.join(demoDir, 'manifest.json'), 'utf8'),
        read: async (f) => new Uint8Array(await readFile(path.join(demoDir, f))),
        digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
      });
      const w = await mergeToMemory({ recipe: parseRecipe(recipe(summary.tasks, d)), methods: METHODS, checkpoints: session.checkpoints });
      return (await session.scorer.score(w, 'validation')).normalized;
    };
    await engine.demo.liveDemo(recipe(summary.tasks, 0.61), { then: [recipe(summary.tasks, 0.62)] });
    // Asked for at once: it joins the score ahead (or finds it done) and is not CANCELLED.
    const ahead = await engine.demo.liveDemo(recipe(summary.tasks, 0.62), { then: [recipe(summary.tasks, 0.63)] });
    expect(ahead.normalized).toBeCloseTo(await fresh(0.62), 10);
    // Something else while 0.63 is scored ahead: answered as usual.
    const other = await engine.demo.liveDemo(recipe(summary.tasks, 0.17));
    expect(other.normalized).toBeCloseTo(await fresh(0.17), 10);
    // A step outside the method's range is skipped quietly.
    await expect(engine.demo.liveDemo(recipe(summary.tasks, 0.99), { then: [recipe(summary.tasks, 1.5)] })).resolves.toBeDefined();
    expect((await engine.demo.liveDemo(recipe(summary.tasks, 0.63))).normalized).toBeCloseTo(await fresh(0.63), 10);
  }, 60_000);
  it('keeps tf.memory() flat over 200 live requests', async () => {
    await engine.demo.liveDemo(recipe(summary.tasks, 0.5));
    const before = await engine.system.memory();
    for (let i = 0; i < 200; i++) await engine.demo.liveDemo(recipe(summary.tasks, 0.1 + (i % 9) * 0.1, 0.5 + (i % 5) * 0.25));
    const after = await engine.system.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  }, 120_000);
});
