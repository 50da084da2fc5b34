/**
 * The LM demo's table (src/engine/demo/lm-table.ts) on the tiny Llama fixture with three noisy
 * experts and a few windows: the digits table's schema with bits per byte beside the gains, one
 * trained seed (sd 0) except DARE-TIES' drop seeds, every static setting the best of the validation
 * grid, Channel Merging's K by chooseK, its K = T lookup the experts themselves, and the rows
 * measured (base against scoreTokens on the whole test text, not copied).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LmDemo } from '../../src/engine/demo/lm-load.js';
import type { LmDemoManifest } from '../../src/engine/demo/lm-manifest.js';
import { lmDemoTable, type LmDemoTable } from '../../src/engine/demo/lm-table.js';
import { stat } from '../../src/engine/demo/seed-table.js';
import { memorySource, openSafetensors } from '../../src/engine/io/index.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { readLmConfig, type LmConfig } from '../../src/engine/lm/config.js';
import { disposeLmWeights, loadLmWeights } from '../../src/engine/lm/load.js';
import { scoreTokens } from '../../src/engine/lm/score.js';
import { byteTokenizer } from '../../src/engine/lm/tokenizer.js';
import { chooseK } from '../../src/engine/methods/channel/demo.js';
import { LLAMA_BYTES as DIR, noisyExpert } from '../lm/noisy-experts.js';

const TASKS = ['a', 'b', 'c'];
const PHRASES = ['the quick brown fox jumps over the lazy dog; ', '0123 4567 89, 1011 1213 1415. ', 'function f(x) { return x + 1; } '];
const text = (k: number, bytes: number, from: number) => PHRASES[k]!.repeat(40).slice(from, from + bytes);
let config: LmConfig;
let demo: LmDemo;
let table: LmDemoTable;
let leaked: number;

beforeAll(async () => {
  config = readLmConfig(JSON.parse(await readFile(path.join(DIR, 'config.json'), 'utf8')), 'llama-bytes/config.json');
  const base = await openSafetensors(memorySource('base', new Uint8Array(await readFile(path.join(DIR, 'model.safetensors')))));
  const checkpoints = new Map<string, Checkpoint>([['base', base]]);
  for (const [i, t] of TASKS.entries()) checkpoints.set(t, await noisyExpert(base, i + 1, 0.05));
  const manifest = {
    context: 32,
    domains: TASKS.map((id, k) => ({ id, label: id, description: id, expert: `${id}.safetensors`, texts: { validation: text(k, 200, 0), test: text(k, 66, 7) } })),
    mixed: [0, 1].map((k) => ({ id: `m${k}`, text: text(k, 16, 3) + text(k + 1, 16, 5), parts: [] })),
    training: { seed: 7 },
  } as unknown as LmDemoManifest;
  demo = { manifest, config, checkpoints };
  const before = tf.memory().numTensors;
  table = await lmDemoTable(demo, {
    windows: { validationWindows: 2, routerWindows: 4 },
    grid: { taLambdas: [0.3, 1], tiesLambdas: [1], tiesDensities: [0.3, 0.7], dareSeeds: [1, 2] },
    twin: { lambdas: [0.3], choices: [{ rank: 4 }] },
    channel: { candidates: [{ method: { id: 'average' }, similarity: 'raw' }] },
    router: { architecture: 'small', epochs: 4 },
  });
  leaked = tf.memory().numTensors - before;
}, 60_000);

describe('lmDemoTable', () => {
  it("has the digits table's schema, one trained seed, and bits per byte beside the gains", () => {
    expect(leaked).toBe(0);
    expect(table.suite).toBe('lm');
    expect(table.seeds).toEqual([7]);
    expect(table.tasks).toEqual(TASKS);
    expect(table.rows.map((r) => [r.method, r.setting, r.clustering ?? null])).toEqual([
      ['base', {}, null],
      ['expert', {}, null],
      ['task_arithmetic', {}, null],
      ['ties', {}, null],
      ['dare_ties', {}, null],
      ['twin_merging', { rank: 4 }, null],
      ['twin_merging_oracle', { rank: 4 }, null],
      ['channel_merging', { kTarget: 95 }, 'kmeans'],
      ['channel_merging_oracle', { kTarget: 95 }, 'kmeans'],
      ['channel_merging', { kTarget: 95 }, 'average_linkage'],
      ['channel_merging_oracle', { kTarget: 95 }, 'average_linkage'],
    ]);
    const perSeed = table.perSeed[0]!;
    for (const [i, r] of table.rows.entries()) {
      expect(r.perTask).toHaveLength(3);
      expect(r.bitsPerByte).toHaveLength(3);
      expect(r.seeds).toHaveLength(1);
      const s = r.seeds[0]!;
      expect(s.seed).toBe(7);
      expect(s.normalized).toBeCloseTo(r.perTask.reduce((n, x) => n + x.mean, 0) / 3, 9);
      expect(s.perTask).toEqual(perSeed.rows[i]!.perTask);
      if (r.method === 'dare_ties') continue;
      expect(r.sdOver).toBeUndefined();
      expect([r.normalized, ...r.perTask, ...r.bitsPerByte].every((x) => x.sd === 0)).toBe(true);
      expect(r.normalized.mean).toBe(s.normalized);
    }
    // DARE's spread is over its drop seeds at the setting chosen with the first, and says so.
    const dare = table.rows.find((r) => r.method === 'dare_ties')!;
    const drops = perSeed.rows.find((r) => r.method === 'dare_ties')!.dropSeeds!;
    expect(dare.sdOver).toBe('drop seeds 1, 2');
    expect(drops.map((d) => d.seed)).toEqual([1, 2]);
    expect(dare.normalized).toEqual(stat(drops.map((d) => d.normalized)));
    expect(dare.bitsPerByte[1]).toEqual(stat(drops.map((d) => d.bitsPerByte[1]!)));
    expect(drops[0]!.bitsPerByte).not.toEqual(drops[1]!.bitsPerByte);
    expect(table.windows).toEqual({ validation: { a: 2, b: 2, c: 2 }, router: { a: 4, b: 4, c: 4 }, test: { a: 3, b: 3, c: 3 }, mixed: 2 });
  });

  it('measures the base on the whole test text and each expert through a merge', async () => {
    const base = table.rows[0]!;
    const stored = await loadLmWeights(config, demo.checkpoints.get('base')!);
    try {
      for (const [k, t] of TASKS.entries()) {
        const ids = byteTokenizer().encode(demo.manifest.domains[k]!.texts.test);
        const whole = await scoreTokens(config, stored, ids, { context: 32 });
        expect(base.bitsPerByte[k]!.mean, t).toBeCloseTo(whole.nll / Math.LN2 / ids.length, 4);
        expect(base.perTask[k]!.mean).toBe(0);
      }
    } finally {
      disposeLmWeights(stored);
    }
    // The expert row is each expert merged alone (float16 out, as the lab writes), scored on its own
    // domain: within float16 rounding of the expert's own bits per byte.
    const expert = table.rows[1]!;
    const cross = table.perSeed[0]!.crossTask;
    for (const [k, t] of TASKS.entries()) {
      expect(Math.abs(expert.bitsPerByte[k]!.mean - cross[t]![t]!)).toBeLessThan(2e-3);
      // ... which tells the experts apart: another expert on this domain is further off.
      expect(Math.abs(cross[TASKS[(k + 1) % 3]!]![t]! - cross[t]![t]!)).toBeGreaterThan(2e-3);
    }
  });

  it('reports each static method at the best setting of its validation grid', () => {
    const perSeed = table.perSeed[0]!;
    expect(perSeed.grid.filter((p) => p.method === 'task_arithmetic').map((p) => p.params)).toEqual([{ lambda: 0.3 }, { lambda: 1 }]);
    expect(perSeed.grid.filter((p) => p.method === 'ties')).toHaveLength(2);
    for (const method of ['task_arithmetic', 'ties', 'dare_ties']) {
      const points = perSeed.grid.filter((p) => p.method === method);
      const best = points.reduce((a, b) => (b.validation > a.validation ? b : a));
      const row = perSeed.rows.find((r) => r.method === method)!;
      expect(row.params, method).toEqual(best.params);
      expect(row.validation).toBe(best.validation);
    }
  });

  it("chooses Channel Merging's K by chooseK; at K = T the oracle lookup is the experts; the routers report on mixed windows", () => {
    const c = table.perSeed[0]!.channel;
    for (const cl of c.clusterings) {
      expect(cl.kSweep.map((p) => p.K)).toEqual([1, 2, 3]);
      expect(cl.K).toBe(chooseK(cl.kSweep, 95));
      expect(cl.kSweep[2]!.validation).toBeCloseTo(100, 6);
      const row = table.rows.find((r) => r.method === 'channel_merging_oracle' && r.clustering === cl.clustering)!;
      expect(row.seeds[0]!.params.K).toBe(cl.K);
      expect(row.normalized.mean).toBeCloseTo(cl.oracle.normalized, 9);
    }
    for (const w of c.mixed.weights) expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(c.mixed.meanLargestWeight).toBeCloseTo(c.mixed.weights.reduce((n, w) => n + Math.max(...w), 0) / 2, 6);
    expect(table.mixed.channel.meanLargestWeight.mean).toBe(c.mixed.meanLargestWeight);
    expect(c.router.meanWeights).toHaveLength(3);
    expect(table.mixed.bestExpert.mean).toBe(Math.min(...TASKS.map((t) => c.mixed.experts[t]!.bitsPerByte)));
    expect(table.mixed.twin.meanLargestWeight.mean).toBe(table.perSeed[0]!.twin.rows[0]!.mixed.meanLargestWeight);
  });
});
