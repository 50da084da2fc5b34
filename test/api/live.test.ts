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

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demoDir = path.join(ROOT, 'public/demo');
let engine: EngineApi;
let summary: DemoSummary;

beforeAll(async () => {
  ({ engine, summary } = await openDemoEngine());
}, 120_000);

describe('live recompute on the demo', () => {
  it('scores the same as a one-off merge of the same recipe', async () => {
    const live = await engine.liveDemo(recipe(summary.tasks, 0.3));
    const session = await openDemoSession({
      manifest: await readFile(path.join(demoDir, 'manifest.json'), 'utf8'),
      read: async (f) => new Uint8Array(await readFile(path.join(demoDir, f))),
      digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
    });
    const weights = await mergeToMemory({ recipe: parseRecipe(recipe(summary.tasks, 0.3)), methods: METHODS, checkpoints: session.checkpoints });
    const once = await session.scorer.score(weights, 'test');
    expect(live.normalized).toBeCloseTo(once.normalized, 10);
    expect(live.perTask).toEqual(summary.tasks.map((t) => 100 * once.accuracies[t]!));
  });
  it('is latest-wins: of requests sent together only the last runs; the others are CANCELLED', async () => {
    const sent = [0.2, 0.4, 0.6, 0.8].map((d) => engine.liveDemo(recipe(summary.tasks, d)));
    const settled = await Promise.allSettled(sent);
    expect(settled.slice(0, 3).every((s) => s.status === 'rejected' && isMergeLabError(s.reason) && s.reason.code === 'CANCELLED')).toBe(true);
    expect(settled[3]!.status).toBe('fulfilled');
  });
  it('keeps tf.memory() flat over 200 live requests', async () => {
    await engine.liveDemo(recipe(summary.tasks, 0.5));
    const before = await engine.memory();
    for (let i = 0; i < 200; i++) await engine.liveDemo(recipe(summary.tasks, 0.1 + (i % 9) * 0.1, 0.5 + (i % 5) * 0.25));
    const after = await engine.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  }, 120_000);
});
