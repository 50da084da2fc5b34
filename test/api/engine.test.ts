/** The in-process EngineApi: the same merges as the CLI, checks, budget, cancel, and no leaks. */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/api/engine.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { memorySource, openSafetensors, writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { LAYOUT, toyCheckpoint } from '../merge/helpers.js';

async function modelBlob(fill: number): Promise<Blob> {
  const bytes = await writeSafetensorsToMemory(
    LAYOUT.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return { name: t.name, dtype: 'F32' as const, shape: t.shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i + fill) * (1 + fill)) };
    }),
  );
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

const RECIPE = `models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 0.5, density: 0.7}\nmerge_method: ties\nbase_model: base\n`;

async function engineWithModels() {
  const engine = createEngine();
  await engine.system.setBackend('cpu');
  for (const [id, fill] of [['base', 0], ['a', 1], ['b', 2]] as const) await engine.models.openModel(id, [{ path: `${id}/model.safetensors`, blob: await modelBlob(fill) }]);
  return engine;
}

describe('EngineApi in process', () => {
  it('summarises opened models from their headers', async () => {
    const engine = createEngine();
    const s = await engine.models.openModel('base', [{ path: 'base/model.safetensors', blob: await modelBlob(0) }]);
    expect(s).toMatchObject({ id: 'base', name: 'base/model.safetensors', parameters: LAYOUT.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0), dtypes: ['F32'] });
    expect(s.tensors.map((t) => t.name)).toEqual(LAYOUT.map((t) => t.name));
  });
  it('merges into a safetensors file equal to mergeToMemory, with the recipe in its metadata', async () => {
    const engine = await engineWithModels();
    const progress: number[] = [];
    const r = await engine.merges.merge('j1', RECIPE, {}, (p) => progress.push(p.tensorIndex));
    expect(r.tensors).toBe(LAYOUT.length);
    expect(progress).toEqual(LAYOUT.map((_, i) => i + 1));
    const file = await openSafetensors(memorySource('merged', r.bytes));
    expect(file.metadata.merge_recipe).toBe(r.recipeYaml);
    const direct = await mergeToMemory({
      recipe: parseRecipe(RECIPE),
      methods: METHODS,
      checkpoints: new Map([
        ['base', await toyCheckpoint('base', LAYOUT, 0)],
        ['a', await toyCheckpoint('a', LAYOUT, 1)],
        ['b', await toyCheckpoint('b', LAYOUT, 2)],
      ]),
    });
    for (const t of LAYOUT) expect(Array.from(await file.readFloat32(t.name))).toEqual(Array.from(direct[t.name]!));
  });
  it('checks a recipe without merging: problems with codes, and the memory it would need', async () => {
    const engine = await engineWithModels();
    const ok = await engine.merges.check(RECIPE);
    expect(ok.problems).toEqual([]);
    // The CLI's bound for the tensor work — (models + 2) × the largest tensor as float32 + 64 MiB —
    // plus the merged file, which the page holds in memory.
    const sizes = LAYOUT.map((t) => t.shape.reduce((a, b) => a * b, 1));
    const largest = Math.max(...sizes) * 4;
    const file = sizes.reduce((a, b) => a + b, 0) * 4;
    expect(ok.memoryBytes).toBe(file + (3 + 2) * largest + 64 * 2 ** 20);
    const bad = await engine.merges.check(RECIPE.replace('merge_method: ties', 'merge_method: tiez').replace('model: b', 'model: c'));
    expect(bad.problems.map((p) => p.code).sort()).toEqual(['PATH_NOT_FOUND', 'UNKNOWN_METHOD']);
    const yaml = await engine.merges.check('models: [');
    expect(yaml.problems[0]!.code).toBe('RECIPE_INVALID_YAML');
  });
  it('refuses a merge over the memory budget before starting, with the numbers', async () => {
    const engine = await engineWithModels();
    const err = await engine.merges.merge('j2', RECIPE, { budgetBytes: 100 }).catch((e: unknown) => e);
    expect(isMergeLabError(err) && err.code).toBe('BUDGET_EXCEEDED');
    expect((err as Error).message).toMatch(/needs about 64 MiB .* over the 1 KiB budget/);
  });
  it('cancels a running job before its next tensor and stays usable', async () => {
    const engine = await engineWithModels();
    const err = await engine
      .merges.merge('j3', RECIPE, {}, (p) => void (p.tensorIndex === 2 && engine.merges.cancel('j3')))
      .catch((e: unknown) => e);
    expect(isMergeLabError(err) && err.code).toBe('CANCELLED');
    const again = await engine.merges.merge('j4', RECIPE);
    expect(again.tensors).toBe(LAYOUT.length);
  });
  it('keeps tf.memory() flat over repeated merges', async () => {
    const engine = await engineWithModels();
    await engine.merges.merge('warm', RECIPE);
    const before = (await engine.system.memory()).numTensors;
    for (let i = 0; i < 20; i++) await engine.merges.merge(`r${i}`, RECIPE);
    expect((await engine.system.memory()).numTensors).toBe(before);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('routedMerge builds a routed package from opened models as the routed method does, with its report; unknown models and non-routed methods are refused', async () => {
    const engine = await engineWithModels();
    const yaml = `models:\n  - model: a\n  - model: b\nmerge_method: channel_merging\nbase_model: base\nparameters:\n  groups: 1\n  group_method: ties\n  density: 0.5\n`;
    const r = await engine.merges.routedMerge('c1', yaml);
    expect(Object.keys(r.files).sort()).toEqual(['channel.json', 'groups.safetensors', 'index.safetensors']);
    expect(r.report.method).toBe('channel_merging');
    expect(r.report.tasks).toEqual(['a', 'b']);
    expect(r.report.tensors.map((t) => t.name)).toEqual(LAYOUT.map((t) => t.name));
    // The lab's error sweep: K = 2 = T rebuilds both experts exactly.
    expect(r.report.storageSweep.map((p) => p.setting)).toEqual([1, 2]);
    expect(r.report.storageSweep[1]!.taskErrors).toEqual([0, 0]);
    expect(r.recipeYaml).toContain('group_method: ties');
    expect(r.report.assignments).toHaveLength(LAYOUT.length);
    // Without detail (the lab's choice for large checkpoints): one build, storage at each K but no error sweep or maps.
    const lean = await engine.merges.routedMerge('c0', yaml, undefined, { detail: false });
    expect(lean.files['groups.safetensors']).toEqual(r.files['groups.safetensors']);
    expect(lean.report.storageSweep.map((p) => p.setting)).toEqual([1, 2]);
    expect(lean.report.storageSweep.every((p) => p.taskErrors === undefined)).toBe(true);
    expect(lean.report.assignments).toBeUndefined();
    const bad = await engine.merges.routedMerge('c2', yaml.replace('groups: 1', 'groups: 3').replace('model: b', 'model: nope')).catch((e: unknown) => e);
    expect(isMergeLabError(bad) && bad.code).toBe('PATH_NOT_FOUND');
    const notRouted = await engine.merges.routedMerge('c3', RECIPE).catch((e: unknown) => e);
    expect(isMergeLabError(notRouted) && notRouted.code).toBe('UNKNOWN_METHOD');
    const twin = await engine.merges.routedMerge('t1', `models:\n  - model: a\n  - model: b\nmerge_method: twin_merging\nbase_model: base\nparameters:\n  rank: 1\n`);
    expect(Object.keys(twin.files).sort()).toEqual(['exclusive.safetensors', 'shared.safetensors', 'twin.json']);
    // Cancelled before its next tensor, and the engine stays usable.
    const cancelled = await engine.merges.routedMerge('c4', yaml, (p) => void (p.tensorIndex === 1 && engine.merges.cancel('c4'))).catch((e: unknown) => e);
    expect(isMergeLabError(cancelled) && cancelled.code).toBe('CANCELLED');
    expect((await engine.merges.routedMerge('c5', yaml)).report.tensors).toHaveLength(LAYOUT.length);
  });
});
