/**
 * `tokenizer_source: union` against mergekit's real pipeline (test/fixtures/mergekit-union/, made
 * by scripts/mergekit-union-fixtures.py): three tiny Llama models whose tokenizers differ (a piece
 * only one fine-tune has, tokens in another order, a piece one lacks, added special tokens), merged
 * by our CLI with linear and TIES, in float32 and bfloat16, and with the `tokenizer:` section's
 * `tokens` (a new token from another's row, a forced row, a model's row by id, a named model's row).
 *
 * Compared with what mergekit wrote:
 * - model.safetensors: the same tensor names, dtypes, shapes and bytes (the embeddings re-ordered
 *   onto the union vocabulary: own rows, the base's row, one model's row, the average of two);
 * - tokenizer.json: the whole parsed object — model vocabulary and merges, added tokens with ids
 *   and settings, normalizer, pre-tokenizer, post-processor, decoder — so the same token → id
 *   mapping and the same added tokens (the file's bytes are not compared: key order and spacing
 *   are the serializer's);
 * - tokenizer_config.json: equal but for `is_local` and `local_files_only`, keys transformers adds
 *   when it re-saves a tokenizer it loaded (we copy the base's file);
 * - config.json: vocab_size (the union's size) and dtype; mergekit's is re-saved by transformers
 *   with its defaults, ours keeps the base's keys.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToFloat32 } from '../../src/engine/io/dtypes.js';
import { mergeArgs, runCliAsync, withCheckpoint } from '../cli/helpers.js';
import { byteDifferences, type WrittenTensor } from './half-fixtures.js';

const ROOT = fileURLToPath(new URL('../fixtures/mergekit-union/', import.meta.url));
const CASES = readdirSync(path.join(ROOT, 'expected')).sort();
const decode = (t: WrittenTensor) => decodeToFloat32(t.dtype, t.bytes);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'merge-lab-union-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function tensors(file: string): Promise<Map<string, WrittenTensor>> {
  return withCheckpoint(file, async (c) => {
    const out = new Map<string, WrittenTensor>();
    for (const t of c.tensorNames) {
      const info = c.info(t)!;
      out.set(t, { dtype: info.dtype, shape: info.shape, bytes: await c.readRaw(t) });
    }
    return out;
  });
}

const json = (dir: string, name: string) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Record<string, unknown>;

describe('tokenizer_source: union gives mergekit\'s weights and tokenizer', () => {
  it('has linear and ties fixtures in float32 and bfloat16, two with tokens', () => {
    expect(CASES).toEqual(['linear-bf16', 'linear-f32', 'linear-f32-tokens', 'ties-bf16', 'ties-bf16-tokens', 'ties-f32']);
  });

  for (const name of CASES) {
    it(name, { timeout: 60_000 }, async () => {
      const out = path.join(scratch, name);
      const r = await runCliAsync(mergeArgs(path.join(ROOT, 'recipes', `${name}.yml`), out));
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.status).toBe(0);
      const want = path.join(ROOT, 'expected', name);

      const [got, expected] = await Promise.all([tensors(path.join(out, 'model.safetensors')), tensors(path.join(want, 'model.safetensors'))]);
      expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
      expect(got.get('model.embed_tokens.weight')?.shape).toEqual([name.endsWith('-tokens') ? 20 : 19, 8]);
      expect(byteDifferences(got, expected, decode)).toEqual([]);

      expect(json(out, 'tokenizer.json')).toEqual(json(want, 'tokenizer.json'));
      const { is_local: _a, local_files_only: _b, ...mergekitConfig } = json(want, 'tokenizer_config.json');
      expect(json(out, 'tokenizer_config.json')).toEqual(mergekitConfig);

      const config = json(out, 'config.json');
      const mergekit = json(want, 'config.json');
      expect([config.vocab_size, config.dtype]).toEqual([mergekit.vocab_size, mergekit.dtype]);
    });
  }
});
