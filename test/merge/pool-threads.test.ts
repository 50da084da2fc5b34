/**
 * `merge-lab merge --workers N` with real worker threads (src/cli/pool.ts): the same files as one
 * worker, a bad count refused, and `auto` keeping a small merge on one thread. The scheduling and
 * every method family are covered in this thread by test/merge/pool.test.ts; this is the
 * transport: threads started with their own backend, inputs and parts handed over, warnings back.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('two worker threads write the bytes one thread writes', async () => {
    const one = await runCliAsync(mergeArgs(recipe, ws.path('one'), '--workers', '1', '--stats'));
    expect(one.stderr).not.toMatch(/error/);
    const two = await runCliAsync(mergeArgs(recipe, ws.path('two'), '--workers', '2', '--stats'));
    expect(two.status, two.stderr).toBe(0);
    expect(JSON.parse(two.stdout.trim()).workers).toBe(2);
    expect(JSON.parse(one.stdout.trim()).workers).toBe(1);
    const bytes = (dir: string) => readFileSync(ws.path(dir, 'model.safetensors'));
    expect(bytes('two').equals(bytes('one'))).toBe(true);
  });

  it('auto keeps a merge of a few MiB on one thread; a count below 1 is refused', async () => {
    const auto = await runCliAsync(mergeArgs(recipe, ws.path('auto'), '--stats'));
    expect(JSON.parse(auto.stdout.trim()).workers).toBe(1);
    const bad = await runCliAsync(mergeArgs(recipe, ws.path('bad'), '--workers', '0'));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--workers must be a whole number of at least 1, or "auto"/);
  });
});
