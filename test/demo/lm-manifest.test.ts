/**
 * parseLmManifest and openLmDemo: the shipped LM demo validates, and a manifest, config or
 * checkpoint that does not fit is refused with every problem named by its JSON path or file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MergeLabError } from '../../src/engine/errors.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { openLmDemo } from '../../src/engine/demo/lm-load.js';
import { parseLmManifest, type LmDemoManifest } from '../../src/engine/demo/lm-manifest.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');
const text = fs.readFileSync(path.join(DEMO, 'manifest.json'), 'utf8');
const shipped = JSON.parse(text) as Record<string, unknown>;
type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
const copy = () => structuredClone(shipped) as unknown as Mutable<LmDemoManifest>;

function problemsOf(input: unknown): string[] {
  try {
    parseLmManifest(input);
  } catch (e) {
    expect(e).toBeInstanceOf(MergeLabError);
    expect((e as MergeLabError).code).toBe('DEMO_MANIFEST_INVALID');
    const list = (e as MergeLabError).problems.map((p) => p.message);
    return list.length > 0 ? list : [(e as Error).message];
  }
  throw new Error('the manifest was accepted');
}

const files = (overrides: Record<string, Uint8Array> = {}, manifest = text) => ({
  manifest,
  read: async (f: string) => overrides[f] ?? new Uint8Array(fs.readFileSync(path.join(DEMO, f))),
});

describe('LM demo manifest', () => {
  it('validates the shipped manifest: bytes, five domains with their experts, mixed windows, the loss tables', () => {
    const m = parseLmManifest(text);
    expect(m.tokenizer).toBe('bytes');
    expect(m.domains.map((d) => d.id)).toEqual(['romance', 'germanic', 'slavic', 'uralic', 'code']);
    expect(m.mixed.length).toBeGreaterThanOrEqual(40);
    expect(Object.keys(m.measured.bitsPerByte)).toEqual(['base', ...m.domains.map((d) => d.id)]);
  });

  it('names every problem at once, each with its JSON path', () => {
    const m = copy();
    m.domains[1]!.id = 'romance';
    Reflect.deleteProperty(m.domains[2]!.texts, 'test');
    m.mixed[0]!.parts[0]!.bytes += 5;
    m.mixed[1]!.parts[0]!.domain = 'klingon';
    m.measured.bitsPerByte['base']!['code'] = -1;
    Reflect.deleteProperty(m.measured.loss, 'uralic');
    m.context = 0;
    const problems = problemsOf(m).join('\n');
    for (const p of [
      'domains[1].id: "romance" is used by an earlier domain',
      'domains[2].texts.test: expected a non-empty string',
      'mixed[0].parts: cover',
      'mixed[1].parts[0].domain: "klingon" is not one of the domains',
      'measured.bitsPerByte.base.code: expected a number in 0..Infinity, got -1',
      'measured.loss.uralic: expected an object, got nothing',
      '(root).context: expected an integer in 2..Infinity, got 0',
    ]) {
      expect(problems).toContain(p);
    }
  });

  it('refuses another format, and text that is not JSON, saying what to do', () => {
    expect(problemsOf({ ...copy(), format: 'merge-lab-demo' })[0]).toMatch(/is not a merge-lab-lm-demo manifest version 1/);
    expect(problemsOf('{"format":')[0]).toMatch(/is not valid JSON .*Re-run npm run demo:train:lm/);
    expect(problemsOf({ ...copy(), mixed: [{ id: 'x', text: 'one domain', parts: [{ domain: 'code', bytes: 10 }] }] }).join('\n')).toContain('at least two domains');
  });
});

describe('openLmDemo', () => {
  it('opens the shipped config and all six checkpoints', async () => {
    const demo = await openLmDemo(files());
    expect([...demo.checkpoints.keys()]).toEqual(['base', 'romance', 'germanic', 'slavic', 'uralic', 'code']);
    expect(demo.config.numLayers).toBe(4);
    expect(demo.config.vocabSize).toBe(256);
  });

  it('refuses a config that does not fit the manifest, naming the file and fields', async () => {
    const config = JSON.parse(fs.readFileSync(path.join(DEMO, 'config.json'), 'utf8')) as Record<string, unknown>;
    const bad = new TextEncoder().encode(JSON.stringify({ ...config, vocab_size: 300, max_position_embeddings: 64 }));
    await expect(openLmDemo(files({ 'config.json': bad }))).rejects.toThrow(/lm\/config.json does not fit lm\/manifest.json: vocab_size is 300.*max_position_embeddings is 64.*parameters/);
  });

  it('refuses a checkpoint that lacks a tensor, naming the file and the tensor', async () => {
    const one = await writeSafetensorsToMemory([{ name: 'model.embed_tokens.weight', dtype: 'F16', shape: [256, 128], data: new Float32Array(256 * 128) }]);
    const error = await openLmDemo(files({ 'expert-slavic.safetensors': one })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MergeLabError);
    expect((error as MergeLabError).code).toBe('TENSOR_MISSING');
    expect((error as Error).message).toMatch(/^expert-slavic.safetensors: tensor "model.layers.0.input_layernorm.weight" is missing/);
  });
});
