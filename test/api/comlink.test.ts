/**
 * The EngineApi across a real comlink channel (a MessageChannel, as between the app and its
 * worker): results arrive, progress callbacks are proxied, bytes are transferred, and a
 * MergeLabError keeps its code and problem list (comlink's default keeps only the message).
 */
import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import { isMergeLabError } from '../../src/engine/errors.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import type { MergeProgress } from '../../src/engine/merge/progress.js';
import { engineOverComlink } from '../helpers/comlink-engine.js';
import { LAYOUT } from '../merge/helpers.js';

const remote = engineOverComlink();

async function blob(fill: number): Promise<Blob> {
  const bytes = await writeSafetensorsToMemory(
    LAYOUT.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.cos(i * (fill + 1))) })),
  );
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

describe('EngineApi over comlink', () => {
  it('opens models, merges with proxied progress, and returns the file bytes', async () => {
    await remote.system.setBackend('cpu');
    for (const [id, f] of [['base', 0], ['a', 1], ['b', 2]] as const) await remote.models.openModel(id, [{ path: `${id}.safetensors`, blob: await blob(f) }]);
    const seen: number[] = [];
    const r = await remote.merges.merge('job', 'models:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\nmerge_method: ties\nbase_model: base\n', {}, Comlink.proxy((p: MergeProgress) => void seen.push(p.tensorIndex)));
    expect(r.bytes).toBeInstanceOf(Uint8Array);
    expect(r.tensors).toBe(LAYOUT.length);
    // Progress calls are fire-and-forget messages; let the last ones land.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(LAYOUT.map((_, i) => i + 1));
  });
  it('takes a recipe object as well as its text, and gives the same file', async () => {
    const recipe = { mergeMethod: 'ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'b', parameters: { weight: 1 } }] };
    const text = await remote.recipes.recipeText(recipe);
    expect(text).toMatch(/merge_method: ties/);
    expect(await remote.recipes.readRecipe(text, 'r.yml')).toMatchObject(recipe);
    const fromObject = await remote.merges.merge('obj', recipe);
    const fromText = await remote.merges.merge('txt', text);
    expect(Buffer.from(fromObject.bytes).equals(Buffer.from(fromText.bytes))).toBe(true);
    const bad = await remote.recipes.readRecipe('models: [', 'broken.yml').catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'RECIPE_INVALID_YAML', message: expect.stringContaining('broken.yml') });
  });
  it('keeps error codes and every problem across the boundary', async () => {
    const err = await remote.merges.merge('bad', 'models:\n  - model: a\n  - model: nope\nmerge_method: tiez\nbase_model: base\n').catch((e: unknown) => e);
    expect(isMergeLabError(err)).toBe(true);
    const e = err as { code: string; problems: { code: string }[] };
    expect(e.code).toBe('RECIPE_PROBLEMS');
    expect(e.problems.map((p) => p.code).sort()).toEqual(['PATH_NOT_FOUND', 'UNKNOWN_METHOD']);
    const single = await remote.merges.merge('bad2', 'models: [').catch((x: unknown) => x);
    expect((single as { code: string }).code).toBe('RECIPE_INVALID_YAML');
  });
  it('builds a routed package with proxied progress and its options; its files arrive as bytes (the shared buffers transferred once)', async () => {
    const seen: number[] = [];
    const r = await remote.merges.routedMerge('routed', 'models:\n  - model: a\n  - model: b\nmerge_method: twin_merging\nbase_model: base\nparameters: {rank: 1}\n', Comlink.proxy((p: MergeProgress) => void seen.push(p.tensorIndex)));
    expect(Object.keys(r.files).sort()).toEqual(['exclusive.safetensors', 'shared.safetensors', 'twin.json']);
    for (const f of Object.values(r.files)) expect(f).toBeInstanceOf(Uint8Array);
    expect(JSON.parse(new TextDecoder().decode(r.files['twin.json'])).tasks).toEqual(['a', 'b']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.length).toBeGreaterThan(0);
    // Every argument crosses: the options (4th) too, which a hand-written re-listing once dropped.
    const channel = 'models:\n  - model: a\n  - model: b\nmerge_method: channel_merging\nbase_model: base\nparameters: {groups: 2}\n';
    const detailed = await remote.merges.routedMerge('channel-detail', channel, undefined, { detail: true });
    const lean = await remote.merges.routedMerge('channel-lean', channel, undefined, { detail: false });
    expect(detailed.report.assignments?.length).toBe(LAYOUT.length);
    expect(lean.report.assignments).toBeUndefined();
    const err = await remote.merges.routedMerge('routed-bad', 'models:\n  - model: a\nmerge_method: twin_merging\nbase_model: base\n').catch((e: unknown) => e);
    expect(isMergeLabError(err)).toBe(true);
  });
});
