/**
 * The files around the weights against what mergekit's real pipeline writes for the same recipe
 * (test/fixtures/mergekit-folder/, scripts/mergekit-folder-fixtures.py): a bf16 TIES merge with the
 * tokenizer copied by default, `tokenizer_source: base`, `tokenizer_source: <model>` and
 * `chat_template: auto`. Compared: the set of files; tokenizer.json, chat_template.jinja and
 * mergekit_config.yml as they are; tokenizer_config.json but for the keys transformers adds when it
 * re-saves a tokenizer for mergekit (we copy the files); config.json's keys, which must all be
 * mergekit's with mergekit's values (mergekit's has more: the config class's defaults).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listFiles, mergeArgs, runCliAsync } from '../cli/helpers.js';

const ROOT = new URL('../fixtures/mergekit-folder/', import.meta.url).pathname;
const CASES = readdirSync(ROOT).sort();
/** What only we write: our recipe copy, our card, the weights. */
const OURS_ONLY = ['README.md', 'merge-recipe.yml', 'model.safetensors'];
/** Keys transformers adds to tokenizer_config.json when it saves a tokenizer it loaded from disk. */
const RESAVE_KEYS = ['is_local', 'local_files_only'];

let tmp: string | undefined;
afterAll(async () => tmp && rm(tmp, { recursive: true, force: true }));

const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const without = (o: Record<string, unknown>, keys: readonly string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

describe('the model folder as mergekit writes it', () => {
  it('has the cases', () => expect(CASES).toEqual(['chat_template_auto', 'default', 'tokenizer_source_base', 'tokenizer_source_ft1']));

  for (const c of CASES) {
    it(c, { timeout: 60_000 }, async () => {
      tmp ??= await mkdtemp(path.join(tmpdir(), 'merge-lab-folder-'));
      const out = path.join(tmp, c);
      const r = await runCliAsync(mergeArgs(path.join(ROOT, c, 'recipe.yml'), out));
      expect(r.status, r.stderr).toBe(0);
      const want = path.join(ROOT, c, 'expected');
      const theirs = readdirSync(want).sort();
      const ours = listFiles(out);
      expect(ours.filter((f) => !OURS_ONLY.includes(f)).sort()).toEqual(theirs);
      for (const f of theirs) {
        const [a, b] = [path.join(out, f), path.join(want, f)];
        if (f === 'tokenizer_config.json') expect(without(json(a), RESAVE_KEYS), f).toEqual(without(json(b), RESAVE_KEYS));
        else if (f === 'config.json') {
          const mine = json(a);
          const mk = json(b);
          expect(mine.dtype, 'config.json dtype').toBe('bfloat16');
          for (const [k, v] of Object.entries(mine)) expect(mk[k], `config.json ${k}`).toEqual(v);
        } else if (f.endsWith('.json')) expect(json(a), f).toEqual(json(b));
        else expect(readFileSync(a, 'utf8'), f).toBe(readFileSync(b, 'utf8'));
      }
      expect(existsSync(path.join(out, 'model.safetensors'))).toBe(true);
    });
  }
});
