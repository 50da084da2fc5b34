/**
 * `merge-lab merge` with the routed methods, end to end on tiny checkpoints: twin_merging and
 * channel_merging recipes write their package (no router: no data), merge-recipe.yml and the base
 * config.json; the files read back with the packages' own readers and rebuild every expert within
 * the error the summary and twin.json report — exactly at full rank and at K = number of experts.
 * Four CLI runs, started once and shared, a few at a time.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { readChannelPackage, taskWeights } from '../../src/engine/methods/channel/index.js';
import { partDelta, readTwinPackage } from '../../src/engine/methods/twin/index.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { TINY_CONFIG, TINY_TENSORS, Workspace, listFiles, memo, mergeArgs, runCliAsync, withCheckpoint, type CliResult } from './helpers.js';

let ws: Workspace;
const EXPERTS = ['ft-a', 'ft-b', 'ft-c'];
const models = EXPERTS.map((model) => ({ model }));
const weights: Record<string, Record<string, Float32Array>> = {};

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-cli-routed-');
  await ws.model('base', 1, { config: TINY_CONFIG });
  for (const [i, e] of EXPERTS.entries()) await ws.model(e, i + 2);
  for (const m of ['base', ...EXPERTS]) {
    weights[m] = await withCheckpoint(ws.path(m), async (c) => Object.fromEntries(await Promise.all(TINY_TENSORS.map(async (t) => [t.name, await c.readFloat32(t.name)] as const))));
  }
  await ws.recipe('twin.yaml', { merge_method: 'twin_merging', base_model: 'base', models, parameters: { shared_method: 'task_arithmetic', lambda: 0.3, rank: 1 } });
  // Every tiny matrix is 4 × 4: rank 4 keeps every difference whole.
  await ws.recipe('twin-full.yaml', { merge_method: 'twin_merging', base_model: 'base', models, parameters: { shared_method: 'ties', density: 0.5, rank: 4 } });
  await ws.recipe('channel.yaml', { merge_method: 'channel_merging', base_model: 'base', models, parameters: { groups: 2, group_method: 'ties', density: 0.5, lambda: 1 } });
  await ws.recipe('channel-all.yaml', { merge_method: 'channel_merging', base_model: 'base', models, parameters: { groups: 3, group_method: 'linear' } });
});

afterAll(async () => {
  await ws?.dispose();
});

const merge = (recipe: string, out: string, ...extra: string[]) => memo(() => runCliAsync(mergeArgs(ws.path(recipe), ws.path(out), ...extra)));
const runs = {
  twin: merge('twin.yaml', 'out/twin', '--stats'),
  twinFull: merge('twin-full.yaml', 'out/twin-full'),
  channel: merge('channel.yaml', 'out/channel'),
  channelAll: merge('channel-all.yaml', 'out/channel-all'),
};

function expectOk(expect: ExpectStatic, r: CliResult): void {
  expect(r.status, `${r.args.join(' ')}\n--- stderr ---\n${r.stderr}--- stdout ---\n${r.stdout}`).toBe(0);
  expect(r.stderr).not.toMatch(/^\s+at \S/m);
  expect(r.stderr).not.toMatch(/merge-lab: (error|warning)|internal error/i);
  // The summary only: merge-lab's lines and their indented details, no tfjs banner.
  expect(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('merge-lab: ') && !l.startsWith('  ')), r.stderr).toEqual([]);
}

/** The files of an output folder as the packages' readers take them. */
function filesOf(dir: string): Record<string, Uint8Array> {
  return Object.fromEntries(listFiles(ws.path(dir)).map((f) => [f, new Uint8Array(readFileSync(ws.path(dir, f)))]));
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}
const minus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);

/** "worst per task: ft-a 0.5146, ft-b 0.6533, ..." from the summary. */
function worstPerTask(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.trim().startsWith('worst per task:'));
  if (!line) throw new Error(`no "worst per task" line in\n${stderr}`);
  return Object.fromEntries(line.trim().slice('worst per task: '.length).split(', ').map((x) => [x.split(' ')[0]!, Number(x.split(' ')[1])]));
}

describe.concurrent('merge-lab merge with twin_merging', () => {
  it('writes twin.json, shared and exclusive safetensors, merge-recipe.yml and config.json, and summarizes them', async ({ expect }) => {
    const r = await runs.twin();
    expectOk(expect, r);
    expect(listFiles(ws.path('out/twin'))).toEqual(['config.json', 'exclusive.safetensors', 'merge-recipe.yml', 'shared.safetensors', 'twin.json']);
    expect(r.stderr).toMatch(/^merge-lab: wrote a Twin-Merging package \(shared\.safetensors, exclusive\.safetensors, twin\.json; [\d.]+ KB\) with merge-recipe\.yml to .*out\/twin on cpu$/m);
    expect(r.stderr).toContain('  twin_merging: 3 experts (ft-a, ft-b, ft-c); shared expert: task_arithmetic (lambda 0.3); exclusive knowledge at rank 1');
    expect(r.stderr).toContain(`  tensors: ${TINY_TENSORS.length} (3 low-rank, 1 kept whole)`);
    expect(r.stderr).toMatch(/ {2}storage: (\d+ B|[\d.]+ KB) against 768 B for the 3 experts \([\d.]+ %; tensor data, no router\)/);
    expect(r.stderr).toMatch(/ {2}storage by rank: r 1: [\d.]+ % \(mean error [\d.]+\) \| r 2: /);
    expect(r.stderr).toMatch(/ {2}reconstruction error per tensor and task, .*: mean [\d.]+, max [\d.]+ \(model\.layers\.\d\.mlp\.weight, ft-\w\)/);
    expect(r.stderr).toContain('  router: none (needs data)');
    const stats = JSON.parse(r.stdout) as { method: string; tensors: number; setting: unknown; storage: { ratio: number }; files: Record<string, number>; error: { max: number } };
    expect(stats).toMatchObject({ method: 'twin_merging', tensors: TINY_TENSORS.length, setting: { rank: 1 } });
    expect(Object.keys(stats.files).sort()).toEqual(['exclusive.safetensors', 'shared.safetensors', 'twin.json']);
    expect(stats.error.max).toBeGreaterThan(0);
    const recipe = parseRecipe(readFileSync(ws.path('out/twin/merge-recipe.yml'), 'utf8'));
    expect(recipe.options).toEqual({ shared_method: 'task_arithmetic' });
    expect(recipe.parameters).toEqual({ lambda: 0.3, rank: 1 });
    expect(readFileSync(ws.path('out/twin/config.json'), 'utf8')).toBe(readFileSync(ws.path('base/config.json'), 'utf8'));
  });

  for (const [label, run, dir, exact] of [
    ['rank 1', () => runs.twin(), 'out/twin', false],
    ['full rank, shared ties', () => runs.twinFull(), 'out/twin-full', true],
  ] as const) {
    it(`the package read back rebuilds every expert within twin.json's relative_error (${label})`, async ({ expect }) => {
      expectOk(expect, await run());
      const twin = await readTwinPackage(filesOf(dir));
      expect(twin.tasks).toEqual(EXPERTS);
      expect(twin.router).toBeUndefined();
      for (const [j, t] of twin.exclusive.tensors.entries()) {
        for (const [ti, task] of EXPERTS.entries()) {
          const shared = twin.shared[t.name]!;
          const part = twin.exclusive.parts[ti]![j]!;
          const rebuilt = Float32Array.from(partDelta(part, t.shape), (d, i) => shared[i]! + d);
          const expert = weights[task]![t.name]!;
          const relative = norm(minus(rebuilt, expert)) / norm(minus(expert, shared));
          const reported = part.kind === 'lowrank' ? part.relativeError : 0;
          expect(relative, `${task} ${t.name}`).toBeLessThanOrEqual(reported + 1e-5);
          if (exact) expect(relative, `${task} ${t.name}`).toBeLessThan(1e-5);
        }
      }
    });
  }
});

describe.concurrent('merge-lab merge with channel_merging', () => {
  it('writes channel.json, groups and index safetensors, merge-recipe.yml and config.json, and summarizes them', async ({ expect }) => {
    const r = await runs.channel();
    expectOk(expect, r);
    expect(listFiles(ws.path('out/channel'))).toEqual(['channel.json', 'config.json', 'groups.safetensors', 'index.safetensors', 'merge-recipe.yml']);
    expect(r.stderr).toMatch(/^merge-lab: wrote a Channel Merging package \(groups\.safetensors, index\.safetensors, channel\.json; [\d.]+ KB\)/m);
    expect(r.stderr).toContain('  channel_merging: 3 experts (ft-a, ft-b, ft-c); K 2 groups per channel (kmeans), merged with ties (weight 1, density 0.5, lambda 1, normalize true, rescale false)');
    expect(r.stderr).toMatch(/ {2}storage: \d+ B against 768 B for the 3 experts \([\d.]+ %/);
    expect(r.stderr).toMatch(/ {2}storage by K: K 1: [\d.]+ % \| K 2: [\d.]+ % \| K 3: [\d.]+ %/);
    const recipe = parseRecipe(readFileSync(ws.path('out/channel/merge-recipe.yml'), 'utf8'));
    expect(recipe.options).toEqual({ group_method: 'ties' });
    const json = JSON.parse(readFileSync(ws.path('out/channel/channel.json'), 'utf8')) as { K: number; files: object; provenance: { data: string } };
    expect(json).toMatchObject({ K: 2, files: { groups: 'groups.safetensors', index: 'index.safetensors' }, provenance: { data: 'none' } });
  });

  for (const [label, run, dir, exact] of [
    ['K 2, ties', () => runs.channel(), 'out/channel', false],
    ['K = 3 experts, linear', () => runs.channelAll(), 'out/channel-all', true],
  ] as const) {
    it(`the package read back rebuilds every expert within the summary's error (${label})`, async ({ expect }) => {
      const r = await run();
      expectOk(expect, r);
      const worst = worstPerTask(r.stderr);
      const { model } = await readChannelPackage(filesOf(dir));
      for (const task of EXPERTS) {
        const w = taskWeights(model, task);
        let max = 0;
        for (const t of TINY_TENSORS) {
          const expert = weights[task]![t.name]!;
          max = Math.max(max, norm(minus(w[t.name]!, expert)) / norm(minus(expert, weights.base![t.name]!)));
          if (exact) expect(Buffer.from(w[t.name]!.buffer).equals(Buffer.from(expert.buffer)), `${task} ${t.name}`).toBe(true);
        }
        // The summary prints 4 decimals.
        expect(Math.abs(max - worst[task]!), task).toBeLessThanOrEqual(5e-5);
        if (exact) expect(worst[task]).toBe(0);
      }
    });
  }
});

describe('merge-lab merge --help', () => {
  it('prints the usage and lists the routed methods with their options and parameters', async ({ expect }) => {
    const r = await runCliAsync(['merge', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Merge the checkpoints .*\nusage: merge-lab merge <recipe\.yaml> --out <dir>/);
    expect(r.stdout).toContain('  ties — TIES');
    const lines = r.stdout.split('\n');
    for (const [id, names] of [
      ['twin_merging', ['shared_method', 'lambda', 'rank', 'energy', 'hidden', 'epochs', 'learningRate', 'temperature', 'topK', 'seed']],
      ['channel_merging', ['group_method', 'groups', 'cluster_trimmed', 'merge_singletons']],
    ] as const) {
      const at = lines.findIndex((l) => l.startsWith(`  ${id} `));
      expect(at, id).toBeGreaterThanOrEqual(0);
      const next = lines.findIndex((l, i) => i > at && /^ {2}\S/.test(l));
      const section = lines.slice(at + 1, next < 0 ? undefined : next);
      for (const n of names) expect(section.some((l) => l.trim().startsWith(`${n} `)), `${id}: ${n}`).toBe(true);
    }
  });
});
