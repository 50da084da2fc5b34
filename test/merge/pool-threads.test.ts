/**
 * `merge-lab merge --workers N` with real worker threads (src/cli/pool.ts): the same files as one
 * worker, a bad count refused, and `auto` keeping a small merge on one thread. The scheduling and
 * every method family are covered in this thread by test/merge/pool.test.ts; this is the
 * transport: threads started with their own backend, inputs and parts handed over, warnings back.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolMemoryBound, workerCount, WORKER_FIXED_BYTES } from '../../src/cli/pool.js';
import type { MergePlanToRun } from '../../src/engine/merge/run-merge.js';
import { mergeArgs, runCliAsync, TIES_RECIPE, Workspace, type TinyTensor } from '../cli/helpers.js';

/** The tiny models plus a tensor of just over 1 MiB, merged in two parts. */
const TENSORS: readonly TinyTensor[] = [
  { name: 'model.embed_tokens.weight', shape: [4, 4] },
  { name: 'model.layers.0.mlp.weight', shape: [520, 512] },
  { name: 'model.layers.1.mlp.weight', shape: [4, 4] },
  { name: 'model.norm.weight', shape: [16] },
];

describe('merge --workers', () => {
  let ws: Workspace;
  let recipe: string;
  beforeAll(async () => {
    ws = await Workspace.create('merge-lab-pool-');
    for (const [name, seed] of [['base', 1], ['ft-a', 2], ['ft-b', 3]] as const) await ws.model(name, seed, { tensors: TENSORS });
    recipe = await ws.recipe('ties.yml', TIES_RECIPE);
  });
  afterAll(() => ws.dispose());

  it('two worker threads write the files one thread writes: each tensor at its place, the same shards and index', async () => {
    const shard = ['--max-shard-size', '600KB', '--stats'];
    const one = await runCliAsync(mergeArgs(recipe, ws.path('one'), '--workers', '1', ...shard));
    const two = await runCliAsync(mergeArgs(recipe, ws.path('two'), '--workers', '2', ...shard));
    expect(two.status, two.stderr).toBe(0);
    expect(JSON.parse(two.stdout.trim()).workers).toBe(2);
    expect(JSON.parse(one.stdout.trim()).workers).toBe(1);
    const files = (dir: string) => readdirSync(ws.path(dir)).filter((f) => f.startsWith('model')).sort();
    expect(files('two')).toEqual(files('one'));
    expect(files('one')).toContain('model.safetensors.index.json');
    for (const f of files('one')) expect(readFileSync(ws.path('two', f)).equals(readFileSync(ws.path('one', f))), f).toBe(true);
  });

  it('auto keeps a merge of a few MiB on one thread; a count below 1 is refused', async () => {
    const auto = await runCliAsync(mergeArgs(recipe, ws.path('auto'), '--stats'));
    expect(JSON.parse(auto.stdout.trim()).workers).toBe(1);
    const bad = await runCliAsync(mergeArgs(recipe, ws.path('bad'), '--workers', '0'));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--workers must be a whole number of at least 1, or "auto"/);
  });
});

describe("workerCount and the pool's memory bound", () => {
  /** A plan of these shapes, each tensor from five models (only shapes and model counts are read). */
  const plan = (...shapes: number[][]) => ({ tensors: shapes.map((shape) => ({ shape, models: [0, 1, 2, 3, 4] })) }) as unknown as MergePlanToRun;
  const layers = plan(...Array.from({ length: 12 }, () => [4096, 1024]));

  it('auto: one per core where there is work beside the largest tensor; one for small merges, one-tensor checkpoints and WebGPU', () => {
    expect(workerCount(undefined, layers, 'wasm')).toBe(Math.min(availableParallelism(), 12));
    expect(workerCount('auto', plan([8192, 1024], [8192, 1024]), 'cpu')).toBe(Math.min(availableParallelism(), 2));
    // 5 × 16 MiB of inputs: under POOL_FROM_BYTES.
    expect(workerCount('auto', plan([4096, 1024]), 'wasm')).toBe(1);
    // A 192 MiB embedding beside a small layer: nothing to do beside it.
    expect(workerCount('auto', plan([12288, 4096], [256, 256]), 'wasm')).toBe(1);
    expect(workerCount('3', layers, 'wasm')).toBe(3);
    expect(workerCount('auto', layers, 'webgpu')).toBe(1);
    expect(() => workerCount('1.5', layers, 'wasm')).toThrow(/--workers must be a whole number/);
  });

  it("poolMemoryBound: (models + 2) × the workers' largest tensors + 64 MiB + their fixed parts", () => {
    const big = plan([12288, 4096], [256, 256], [4096]);
    expect(poolMemoryBound(big, 2)).toBe(7 * (12288 * 4096 + 256 * 256) * 4 + (64 << 20) + 2 * WORKER_FIXED_BYTES);
    expect(poolMemoryBound(big, 1)).toBe(7 * 12288 * 4096 * 4 + (64 << 20) + WORKER_FIXED_BYTES);
  });
});
