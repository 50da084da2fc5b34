/**
 * The engine hands the lab the merged model's folder: files dropped with each model (config.json,
 * tokenizer) come back as config.json and tokenizer files beside mergekit_config.yml and README.md,
 * in process and across comlink (their buffers transferred with the weights'); a tokenizer problem
 * stops the merge before it starts, as in the CLI, and check() reports it. A union vocabulary
 * re-orders the embeddings in the engine too, to mergekit's bytes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/api/engine.js';
import type { ModelFile } from '../../src/engine/api/engine-api.js';
import { memorySource, openSafetensors, writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { LAYOUT } from '../merge/helpers.js';
import { engineOverComlink } from '../helpers/comlink-engine.js';

const json = (v: unknown) => new Blob([JSON.stringify(v)]);
const TOKENIZER = { model: { type: 'WordLevel', vocab: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`w${i}`, i])) }, added_tokens: [] };

/** A dropped model folder `id/`: weights (LAYOUT: an 8-row embedding), and with `side` a config and an 8-token tokenizer. */
async function folder(id: string, fill: number, side: boolean): Promise<ModelFile[]> {
  const bytes = await writeSafetensorsToMemory(
    LAYOUT.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + fill)) })),
  );
  const files: ModelFile[] = [{ path: `${id}/model.safetensors`, blob: new Blob([bytes as Uint8Array<ArrayBuffer>]) }];
  if (side) {
    files.push({ path: `${id}/config.json`, blob: json({ model_type: 'llama', num_hidden_layers: 2, vocab_size: 8, torch_dtype: 'float32' }) });
    files.push({ path: `${id}/tokenizer.json`, blob: json(TOKENIZER) }, { path: `${id}/tokenizer_config.json`, blob: json({ tokenizer_class: 'PreTrainedTokenizerFast' }) });
  }
  return files;
}

const RECIPE = (extra = '') => `models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 1, density: 0.5}\nmerge_method: ties\nbase_model: base\n${extra}`;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('the merged folder from the engine', () => {
  it('config.json and the tokenizer come from what was dropped with the base', async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    for (const [id, fill, side] of [['base', 0, true], ['a', 1, false], ['b', 2, false]] as const) await engine.models.openModel(id, await folder(id, fill, side));
    const r = await engine.merges.merge('j', RECIPE('out_dtype: bfloat16\ntokenizer_source: base\n'), { name: 'merged-ties' });
    expect(r.folder.map((f) => f.name)).toEqual(['config.json', 'tokenizer_config.json', 'tokenizer.json', 'mergekit_config.yml', 'README.md']);
    const config = JSON.parse(text(r.folder[0]!.bytes));
    expect(config).toEqual({ dtype: 'bfloat16', model_type: 'llama', num_hidden_layers: 2, vocab_size: 8 });
    expect(text(r.folder.find((f) => f.name === 'mergekit_config.yml')!.bytes)).toBe(r.recipeYaml);
    expect(text(r.folder.find((f) => f.name === 'README.md')!.bytes)).toContain('# merged-ties\n');
  });
  it('a tokenizer_source that would re-map embeddings is refused before merging, and check() says so', async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    const base = await folder('base', 0, true);
    // A 6-token vocabulary against the 8-row embedding.
    base[2] = { path: 'base/tokenizer.json', blob: json({ model: { type: 'WordLevel', vocab: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`w${i}`, i])) } }) };
    await engine.models.openModel('base', base);
    for (const [id, fill] of [['a', 1], ['b', 2]] as const) await engine.models.openModel(id, await folder(id, fill, false));
    const recipe = RECIPE('tokenizer_source: base\n');
    expect((await engine.merges.check(recipe)).problems.map((p) => p.code)).toEqual(['SHAPE_MISMATCH', 'SHAPE_MISMATCH', 'SHAPE_MISMATCH']);
    await expect(engine.merges.merge('j', recipe)).rejects.toMatchObject({ code: 'RECIPE_PROBLEMS' });
  });
});

describe('tokenizer_source: union in the engine (the lab\'s path)', () => {
  it('gives the bytes and tokenizer mergekit wrote (test/fixtures/mergekit-union)', async () => {
    const root = fileURLToPath(new URL('../fixtures/mergekit-union/', import.meta.url));
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    for (const id of ['base', 'ft1', 'ft2']) {
      const dir = path.join(root, 'models', id);
      await engine.models.openModel(id, readdirSync(dir).map((f) => ({ path: `${id}/${f}`, blob: new Blob([readFileSync(path.join(dir, f))]) })));
    }
    const recipe = readFileSync(path.join(root, 'recipes', 'ties-bf16.yml'), 'utf8').replaceAll('../models/', '');
    const r = await engine.merges.merge('j', recipe);
    const want = path.join(root, 'expected', 'ties-bf16');
    const got = await openSafetensors(memorySource('merged', r.bytes));
    const expected = await openSafetensors(memorySource('mergekit', readFileSync(path.join(want, 'model.safetensors'))));
    expect([...got.tensorNames].sort()).toEqual([...expected.tensorNames].sort());
    for (const t of expected.tensorNames) expect(Buffer.from(await got.readRaw(t)).equals(Buffer.from(await expected.readRaw(t))), t).toBe(true);
    const tokenizer = r.folder.find((f) => f.name === 'tokenizer.json')!;
    expect(JSON.parse(text(tokenizer.bytes))).toEqual(JSON.parse(readFileSync(path.join(want, 'tokenizer.json'), 'utf8')));
    expect(JSON.parse(text(r.folder.find((f) => f.name === 'config.json')!.bytes)).vocab_size).toBe(19);
  });
});

describe('over comlink', () => {
  const remote = engineOverComlink();
  it('the folder files arrive as bytes with the weights', async () => {
    await remote.system.setBackend('cpu');
    for (const [id, fill, side] of [['base', 0, true], ['a', 1, false], ['b', 2, false]] as const) await remote.models.openModel(id, await folder(id, fill, side));
    const r = await remote.merges.merge('j', RECIPE());
    expect(r.folder.map((f) => f.name)).toEqual(['config.json', 'tokenizer_config.json', 'tokenizer.json', 'mergekit_config.yml', 'README.md']);
    for (const f of r.folder) expect(f.bytes).toBeInstanceOf(Uint8Array);
    expect(JSON.parse(text(r.folder[2]!.bytes))).toEqual(TOKENIZER);
  });
});
