/**
 * What `merge` opens stays what the user named (issue 15's containment): a shard index cannot send
 * the reader outside its folder, and a named pipe (or other special file) given as a model, a
 * shard or the recipe is refused at once, instead of blocking forever on the open.
 */
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace, failureProblems, mergeArgs, runCliAsync, tinyCheckpointBytes } from './helpers.js';

let ws: Workspace;
beforeAll(async () => {
  ws = await Workspace.create('merge-lab-contain-');
  await ws.model('base', 1);
  await ws.model('ft-a', 2);
  // A sharded folder whose index points one of its shards two folders up.
  await ws.file('escape/model-00001-of-00001.safetensors', await tinyCheckpointBytes(3));
  await ws.file('outside.safetensors', await tinyCheckpointBytes(4));
  await ws.file('escape/model.safetensors.index.json', JSON.stringify({ metadata: {}, weight_map: { 'model.norm.weight': '../outside.safetensors' } }));
  execFileSync('mkfifo', [ws.path('pipe.safetensors')]);
  execFileSync('mkfifo', [ws.path('pipe.yml')]);
  // A sharded folder whose index names, inside the folder, a shard that is a named pipe.
  await ws.file('fifo-shard/model-00001-of-00002.safetensors', await tinyCheckpointBytes(5));
  execFileSync('mkfifo', [ws.path('fifo-shard/model-00002-of-00002.safetensors')]);
  await ws.file(
    'fifo-shard/model.safetensors.index.json',
    JSON.stringify({ metadata: {}, weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors', 'model.norm.weight': 'model-00002-of-00002.safetensors' } }),
  );
});
afterAll(() => ws?.dispose());

const recipe = (model: string) => ({ merge_method: 'task_arithmetic', base_model: 'base', models: [{ model, parameters: { weight: 1 } }] });

describe('containment', () => {
  it('a shard index naming a file outside its folder is refused, naming the shard and the index', async () => {
    await ws.recipe('escape.yml', recipe('escape'));
    const r = await runCliAsync(mergeArgs(ws.path('escape.yml'), ws.path('out-escape')));
    expect(failureProblems(r, { code: 'INDEX_INVALID', culprits: ['../outside.safetensors', 'model.safetensors.index.json'], out: ws.path('out-escape') })).toEqual([]);
  });

  it('a named pipe as a model is refused at once', async () => {
    await ws.recipe('pipe-model.yml', recipe('pipe.safetensors'));
    const r = await runCliAsync(mergeArgs(ws.path('pipe-model.yml'), ws.path('out-pipe')));
    expect(r.ms).toBeLessThan(30_000);
    expect(failureProblems(r, { code: 'NOT_A_FILE', culprits: ['pipe.safetensors', 'named pipe'], out: ws.path('out-pipe') })).toEqual([]);
  });

  it('one checkpoint reached by two spellings (a symlink, ./) is refused, naming both', async () => {
    symlinkSync(ws.path('ft-a'), ws.path('ft-link'));
    for (const [label, other] of [['symlink', 'ft-link'], ['dot', './ft-a']] as const) {
      await ws.recipe(`twice-${label}.yml`, { merge_method: 'task_arithmetic', base_model: 'base', models: [{ model: 'ft-a', parameters: { weight: 1 } }, { model: other, parameters: { weight: 1 } }] });
      const r = await runCliAsync(mergeArgs(ws.path(`twice-${label}.yml`), ws.path(`out-twice-${label}`)), { cwd: ws.path() });
      expect(failureProblems(r, { code: 'RECIPE_INVALID', culprits: [`"${other}"`, '"ft-a"', 'same checkpoint'], out: ws.path(`out-twice-${label}`) })).toEqual([]);
    }
  });

  it('a named pipe as one shard of an index is refused at once, naming it', async () => {
    await ws.recipe('pipe-shard.yml', recipe('fifo-shard'));
    const r = await runCliAsync(mergeArgs(ws.path('pipe-shard.yml'), ws.path('out-pipe-shard')));
    expect(r.ms).toBeLessThan(30_000);
    expect(failureProblems(r, { code: 'NOT_A_FILE', culprits: ['model-00002-of-00002.safetensors', 'named pipe'], out: ws.path('out-pipe-shard') })).toEqual([]);
  });

  it('a device as a model is refused before it is read', async () => {
    await ws.recipe('device.yml', recipe('/dev/zero'));
    const r = await runCliAsync(mergeArgs(ws.path('device.yml'), ws.path('out-device')));
    expect(r.ms).toBeLessThan(30_000);
    expect(failureProblems(r, { code: 'NOT_A_FILE', culprits: ['/dev/zero'], out: ws.path('out-device') })).toEqual([]);
  });

  it('a named pipe as the recipe is refused at once', async () => {
    const r = await runCliAsync(mergeArgs(ws.path('pipe.yml'), ws.path('out-pipe-recipe')));
    expect(failureProblems(r, { code: 'NOT_A_FILE', culprits: ['pipe.yml', 'named pipe'], out: ws.path('out-pipe-recipe') })).toEqual([]);
  });
});
