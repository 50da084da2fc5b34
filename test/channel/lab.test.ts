/**
 * Channel Merging's lab session (methods/channel/lab.ts) on the shipped demo, on wasm like the
 * demo's own test: channelDemo's numbers for one configuration at every K; a K move after the
 * first request reads the caches; K = T gives the experts back; no tensor is left behind; and
 * through the EngineApi it is latest-wins and exports a package that reads back.
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
import { channelDemo, type ChannelCandidate } from '../../src/engine/methods/channel/demo.js';
import { createChannelLab, type ChannelLab } from '../../src/engine/methods/channel/lab.js';
import { readChannelPackage } from '../../src/engine/methods/channel/package.js';
import { CHANNEL_MERGING } from '../../src/engine/routed/channel.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = path.join(ROOT, 'public/demo');
/** The small router keeps this file quick (the paper's trains for about a minute here). */
const SMALL = { architecture: 'small' } as const;
let session: DemoSession;
let lab: ChannelLab;

beforeAll(async () => {
  await initNodeBackend('wasm');
  session = await openDemoSession({
    manifest: await readFile(path.join(DEMO, 'manifest.json'), 'utf8'),
    read: async (f: string) => new Uint8Array(await readFile(path.join(DEMO, f))),
    digitsGz: new Uint8Array(await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))),
  });
  lab = createChannelLab(session);
}, 120_000);

describe('Channel Merging lab session', () => {
  it.each<[string, ChannelCandidate]>([
    ['average', { method: { id: 'average' }, similarity: 'raw' }],
    ['TIES on trimmed rows', { method: { id: 'ties', params: { density: 0.3, lambda: 1 } }, similarity: 'trimmed' }],
  ])("gives channelDemo's numbers at every K (%s)", async (_, candidate) => {
    const before = tf.memory().numTensors;
    const v = await lab.view({ router: SMALL, split: 'test', K: 2, method: candidate.method, similarity: candidate.similarity });
    const d = await channelDemo(session, { candidates: [candidate], K: 2, router: SMALL });
    expect(v.sweep.map((p) => p.K)).toEqual([1, 2, 3, 4, 5]);
    v.sweep.forEach((p, k) => {
      const row = d.sweep[k]!;
      expect(p.oracle.perTask).toEqual(row.perTask);
      expect(p.oracle.normalized).toBe(row.normalized);
      expect(p.routed.normalized).toBe(row.routed);
      expect(p.storage).toEqual(row.storage);
      expect(p.conflicts).toEqual(row.conflicts);
    });
    const [oracle, routed] = d.rows;
    expect(v.oracle.perTask).toEqual(oracle!.perTask);
    expect(v.routed.perTask).toEqual(routed!.perTask);
    expect(v.routed.normalized).toBe(routed!.normalized);
    expect(v.storage).toEqual(routed!.storage);
    expect(v.assignment).toEqual(d.assignment);
    expect(v.router.params).toBe(d.router!.params);
    expect(v.router.routingAccuracy).toEqual(d.router!.routingAccuracy);
    expect(v.settings.method).toEqual({ id: candidate.method.id, params: candidate.method.params ?? {} });
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('moves K from the caches; K = T is the experts; the assignment map follows K and the tensor', async () => {
    await lab.view({ router: SMALL, split: 'test', K: 2 });
    const moves: number[] = [];
    let last = await lab.view({ router: SMALL, split: 'test', K: 2 });
    for (const K of [3, 4, 5, 1, 2]) {
      const v = await lab.view({ router: SMALL, split: 'test', K });
      expect(v.computed).toEqual([]);
      expect(v.sweep).toEqual(last.sweep);
      expect(v.assignment.K).toBe(K);
      expect(v.storage.K).toBe(K);
      moves.push(v.milliseconds);
      last = v;
    }
    const five = await lab.view({ router: SMALL, split: 'test', K: 5 });
    expect(five.oracle.perTask).toEqual(five.expert);
    expect(five.oracle.normalized).toBeCloseTo(100, 10);
    // Every task alone in its group: one partition, each channel's labels 0..4.
    expect(five.assignment.partitions).toEqual([{ labels: [0, 1, 2, 3, 4], channels: 1024 }]);
    const one = await lab.view({ router: SMALL, split: 'test', K: 1, tensor: 'head.weight' });
    expect(one.assignment.tensor).toBe('head.weight');
    expect(one.assignment.channels).toBe(10);
    expect(one.assignment.groups.every((g) => g.every((x) => x === 0))).toBe(true);
    expect(one.tensors.map((t) => t.name)).toEqual(['hidden.weight', 'hidden.bias', 'head.weight', 'head.bias']);
    // Sign conflicts: fewer within groups than across, at every K that has both.
    for (const p of one.sweep) if (p.conflicts.within !== null && p.conflicts.across !== null) expect(p.conflicts.within).toBeLessThan(p.conflicts.across);
    console.log(`channel lab: K moves ${moves.map((m) => m.toFixed(1)).join(', ')} ms`);
  }, 120_000);

  it("with { sweep: 'known' } a new λ answers its K first; asking again fills the sweep in with the same numbers", async () => {
    const method = { id: 'ties', params: { density: 0.3, lambda: 0.85 } } as const;
    const first = await lab.view({ router: SMALL, split: 'test', K: 3, method }, undefined, { sweep: 'known' });
    expect(first.computed).toEqual(['groups at K = 3', 'router at K = 3']);
    expect(first.sweep.map((p) => p.K)).toEqual([3]);
    expect(first.sweepComplete).toBe(false);
    const whole = await lab.view({ router: SMALL, split: 'test', K: 3, method });
    expect(whole.computed).not.toContain('groups at K = 3');
    expect(whole.sweep.map((p) => p.K)).toEqual([1, 2, 3, 4, 5]);
    expect(whole.sweepComplete).toBe(true);
    expect(whole.sweep[2]).toEqual(first.sweep[0]);
    expect(whole.routed).toEqual(first.routed);
    expect(whole.oracle).toEqual(first.oracle);
    // Once every K is known, 'known' is the whole sweep too.
    expect((await lab.view({ router: SMALL, split: 'test', K: 1, method }, undefined, { sweep: 'known' })).sweepComplete).toBe(true);
  }, 120_000);

  it('reports the storage merge-lab merge reports for the same package (the router apart)', async () => {
    for (const clustering of ['kmeans', 'average_linkage'] as const) {
      const v = await lab.view({ router: SMALL, split: 'test', K: 2, method: { id: 'ties', params: { density: 0.3, lambda: 1 } }, clustering });
      const cli = await CHANNEL_MERGING.buildPackage(
        {
          mergeMethod: 'channel_merging',
          baseModel: 'base',
          models: session.tasks.map((model) => ({ model })),
          options: { group_method: 'ties', clustering },
          parameters: { groups: 2, density: 0.3, lambda: 1 },
        },
        session.checkpoints,
      );
      expect(cli.report.storage).toEqual({ values: v.storage.groupParams + v.storage.indexEntries, bytes: v.storage.packageBytes, expertValues: v.storage.expertParams, expertBytes: v.storage.expertBytes, ratio: v.storage.ratio });
      // The same groups too: the lab's K = 2 model is what the CLI packaged.
      expect(v.settings.clustering).toBe(clustering);
    }
  }, 120_000);

  it('scores on the validation split unless test is asked for; the router and groups are the same', async () => {
    const method = { id: 'ties', params: { density: 0.3, lambda: 1 } };
    const test = await lab.view({ router: SMALL, split: 'test', K: 2, method });
    const val = await lab.view({ router: SMALL, K: 2, method });
    expect(val.settings.split).toBe('validation');
    expect(val.computed).not.toContain('router');
    expect(val.expert).toEqual(session.tasks.map((t) => 100 * session.scorer.expertAccuracies.validation[t]!));
    expect(val.oracle.perTask).not.toEqual(test.oracle.perTask);
    expect(val.assignment).toEqual(test.assignment);
    expect(val.storage).toEqual(test.storage);
  }, 120_000);

  it('refuses bad settings with codes', async () => {
    const code = async (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (isMergeLabError(e) ? e.code : String(e)));
    expect(await code(lab.view({ router: SMALL, split: 'test', K: 6 }))).toBe('PARAMETER_OUT_OF_RANGE');
    expect(await code(lab.view({ router: SMALL, split: 'test', K: 2, method: { id: 'slerp' } }))).toBe('PARAMETER_INVALID');
    expect(await code(lab.view({ router: SMALL, split: 'test', K: 2, tensor: 'nope' }))).toBe('TENSOR_NOT_FOUND');
    expect(await code(lab.view({ router: SMALL, K: 2, clustering: 'ward' as never }))).toBe('PARAMETER_INVALID');
  });
});

describe('Channel Merging through the EngineApi', () => {
  let engine: EngineApi;

  beforeAll(async () => {
    engine = createEngine();
    const manifest = await readFile(path.join(DEMO, 'manifest.json'), 'utf8');
    const m = JSON.parse(manifest) as { base: string; tasks: { expert: string }[] };
    const checkpoints: Record<string, Blob> = {};
    for (const f of [m.base, ...m.tasks.map((t) => t.expert)]) checkpoints[f] = new Blob([await readFile(path.join(DEMO, f))]);
    await engine.demo.loadDemo({ manifest, checkpoints, digits: new Blob([await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))]) });
  }, 120_000);

  it('a sweep in flight lets a newer request in between its Ks (a macrotask apart) and stops there', async () => {
    const ties = (lambda: number) => ({ id: 'ties', params: { density: 0.3, lambda } });
    const whole = engine.demo.channelLab({ router: SMALL, K: 2, method: ties(0.55) });
    // A timer, as a worker's next message is: it runs only if the sweep yields to the event loop.
    await new Promise((r) => setTimeout(r, 20));
    const next = await engine.demo.channelLab({ router: SMALL, K: 2, method: ties(0.6) }, { sweep: 'known' });
    expect(next.sweep.map((p) => p.K)).toEqual([2]);
    const stopped = await whole.then(
      () => 'finished',
      (e: unknown) => (isMergeLabError(e) ? e.code : String(e)),
    );
    expect(stopped).toBe('CANCELLED');
  }, 120_000);

  it('is latest-wins, and its package reads back with the K and method asked for; memory stays flat', async () => {
    const ties = { id: 'ties', params: { density: 0.3, lambda: 1 } };
    const settled = await Promise.allSettled([1, 2, 3].map((K) => engine.demo.channelLab({ router: SMALL, K, method: ties })));
    expect(settled.slice(0, 2).map((s) => s.status === 'rejected' && isMergeLabError(s.reason) && s.reason.code)).toEqual(['CANCELLED', 'CANCELLED']);
    const last = settled[2]!;
    expect(last.status === 'fulfilled' && last.value.settings.K).toBe(3);
    const before = await engine.system.memory();
    for (const K of [1, 2, 3, 4, 5, 2]) await engine.demo.channelLab({ router: SMALL, K, method: ties });
    const files = await engine.demo.routedPackage({ method: 'channel_merging', settings: { router: SMALL, K: 2, method: ties } });
    expect(Object.keys(files).sort()).toEqual(['channel.json', 'groups.safetensors', 'index.safetensors', 'router.safetensors']);
    const pkg = await readChannelPackage(files);
    expect(pkg.model.K).toBe(2);
    expect(pkg.model.method.id).toBe('ties');
    expect(pkg.model.method.params).toMatchObject({ density: 0.3, lambda: 1 });
    expect(pkg.router).toBeDefined();
    expect(await engine.system.memory()).toEqual(before);
  }, 120_000);
});
