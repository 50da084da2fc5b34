/**
 * `merge-lab merge` writes a model folder as mergekit does, end to end on the Llama-shaped
 * fixtures (test/fixtures/mergekit-recipes/models/, with the tiny tokenizer of
 * scripts/tiny-tokenizer.py): config.json from the base with the output dtype, the base's
 * tokenizer copied (or tokenizer_source's), a chat template as chat_template.jinja,
 * mergekit_config.yml with the recipe's text and a README.md card. Refusals (a padded vocabulary,
 * a mistyped chat template) fail cleanly before anything is written, and the new files go through
 * the same staged output as the weights: a file that cannot be put in place leaves nothing behind.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { BUILTIN_CHAT_TEMPLATES } from '../../src/engine/output/chat-templates.js';
import { REPO, Workspace, tinyLlamaTiesBf16, failureProblems, listFiles, memo, mergeArgs, runCliAsync, withCheckpoint, type CliResult } from './helpers.js';

const MODELS = path.join(REPO, 'test/fixtures/mergekit-recipes/models');
let ws: Workspace;

/** The acceptance recipe: a bf16 TIES merge with the base's tokenizer. */
const TIES_BF16 = tinyLlamaTiesBf16;

const RECIPES: Record<string, string> = {
  'tokenizer-base.yml': TIES_BF16('tokenizer_source: base\n'),
  'default.yml': TIES_BF16('# no tokenizer settings: the base tokenizer is copied\n'),
  'tokenizer-ft1.yml': TIES_BF16(`tokenizer_source: ${MODELS}/ft1\n`),
  'chatml.yml': TIES_BF16('chat_template: chatml\n'),
  'pad.yml': TIES_BF16('tokenizer:\n  source: union\n  pad_to_multiple_of: 8\n'),
  'chatlm.yml': TIES_BF16('chat_template: chatlm\n'),
};

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-cli-folder-');
  for (const [name, text] of Object.entries(RECIPES)) await ws.recipe(name, text);
  // A model without config.json or tokenizer (only its weights).
  await ws.file('bare/model.safetensors', readFileSync(path.join(MODELS, 'base/model.safetensors')));
  await ws.recipe('bare.yml', TIES_BF16().replace(`${MODELS}/base`, ws.path('bare')));
  await ws.dir('blocked/README.md');
});

afterAll(async () => {
  await ws?.dispose();
});

const merge = (recipe: string, out: string) => memo(() => runCliAsync(mergeArgs(ws.path(recipe), ws.path(out))));
const runs = {
  base: merge('tokenizer-base.yml', 'out/base'),
  default: merge('default.yml', 'out/default'),
  ft1: merge('tokenizer-ft1.yml', 'out/ft1'),
  chatml: merge('chatml.yml', 'out/chatml'),
  bare: merge('bare.yml', 'out/bare'),
};

function expectOk(expect: ExpectStatic, r: CliResult): void {
  expect(r.status, `${r.args.join(' ')}\n--- stderr ---\n${r.stderr}`).toBe(0);
  expect(r.stderr).not.toMatch(/error/i);
}
const text = (...p: string[]) => readFileSync(path.join(...p), 'utf8');
const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

describe.concurrent('merge-lab merge writes a model folder', () => {
  it('bf16 TIES with tokenizer_source: base — config says bfloat16, the base tokenizer, the recipe and a card', async ({ expect }) => {
    const r = await runs.base();
    expectOk(expect, r);
    const out = ws.path('out/base');
    expect(listFiles(out)).toEqual(['README.md', 'config.json', 'merge-recipe.yml', 'mergekit_config.yml', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(text(out, 'config.json')) as Record<string, unknown>;
    const base = JSON.parse(text(MODELS, 'base/config.json')) as Record<string, unknown>;
    delete base.torch_dtype;
    expect(config).toEqual({ ...base, dtype: 'bfloat16', vocab_size: 16 });
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) expect(same(path.join(out, f), path.join(MODELS, 'base', f)), f).toBe(true);
    expect(text(out, 'mergekit_config.yml')).toBe(RECIPES['tokenizer-base.yml']);
    const card = text(out, 'README.md');
    expect(card).toContain('# base\n');
    expect(card).toContain(`- Base model: ${MODELS}/base\n- Merged into it:\n  - ${MODELS}/ft1\n  - ${MODELS}/ft2\n- Tokenizer: from the base model\n`);
    expect(card).toContain(RECIPES['tokenizer-base.yml']);
    await withCheckpoint(path.join(out, 'model.safetensors'), async (c) => expect(new Set(c.tensorNames.map((n) => c.info(n)!.dtype))).toEqual(new Set(['BF16'])));
  });

  it('without tokenizer settings the base tokenizer is copied byte for byte (no vocab_size change)', async ({ expect }) => {
    const r = await runs.default();
    expectOk(expect, r);
    const out = ws.path('out/default');
    expect(listFiles(out)).toContain('tokenizer.json');
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) expect(same(path.join(out, f), path.join(MODELS, 'base', f)), f).toBe(true);
    expect(JSON.parse(text(out, 'config.json')).vocab_size).toBe(16);
    // The tensors do not depend on where the tokenizer comes from.
    expectOk(expect, await runs.base());
    const data = (dir: string) => withCheckpoint(path.join(dir, 'model.safetensors'), (c) => Promise.all(c.tensorNames.map((n) => c.readRaw(n))));
    expect((await data(out)).map((b) => Buffer.from(b).toString('base64'))).toEqual((await data(ws.path('out/base'))).map((b) => Buffer.from(b).toString('base64')));
  });

  it("tokenizer_source: <ft1> gives ft1's tokenizer, its chat_template.jinja included", async ({ expect }) => {
    const r = await runs.ft1();
    expectOk(expect, r);
    const out = ws.path('out/ft1');
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']) expect(same(path.join(out, f), path.join(MODELS, 'ft1', f)), f).toBe(true);
  });

  it('chat_template: chatml is written as chat_template.jinja, as transformers 5 saves it', async ({ expect }) => {
    const r = await runs.chatml();
    expectOk(expect, r);
    expect(text(ws.path('out/chatml/chat_template.jinja'))).toBe(BUILTIN_CHAT_TEMPLATES.chatml);
    expect(JSON.parse(text(ws.path('out/chatml/tokenizer_config.json')))).not.toHaveProperty('chat_template');
  });

  it('a base with no config.json and no tokenizer: each said once, and neither is written', async ({ expect }) => {
    const r = await runs.bare();
    expectOk(expect, r);
    expect(r.stderr.match(/has no config\.json/g)).toHaveLength(1);
    expect(r.stderr.match(/has no tokenizer files/g)).toHaveLength(1);
    expect(listFiles(ws.path('out/bare'))).toEqual(['README.md', 'merge-recipe.yml', 'mergekit_config.yml', 'model.safetensors']);
  });

  it.each([
    ['pad.yml', 'RECIPE_INVALID', 'tokenizer.pad_to_multiple_of'],
    ['chatlm.yml', 'PARAMETER_INVALID', 'chat_template "chatlm"'],
  ])('%s fails cleanly before anything is written', async (recipe, code, culprit) => {
    // Its own parent folder: the merges of the other tests write (and leave partial files) under out/ meanwhile.
    const out = ws.path(`failing/${recipe}`);
    const r = await runCliAsync(mergeArgs(ws.path(recipe), out));
    expect(failureProblems(r, { code: code as 'RECIPE_INVALID', culprits: [culprit], out, scratch: ws.path('failing') })).toEqual([]);
  });

  it('a README.md that cannot be put in place (a folder there) leaves --out as it was', async () => {
    const out = ws.path('blocked');
    const before = listFiles(out);
    const r = await runCliAsync(mergeArgs(ws.path('tokenizer-base.yml'), out));
    expect(failureProblems(r, { code: 'WRITE_FAILED', culprits: ['README.md'], out, outBefore: new Map() })).toEqual([]);
    expect(listFiles(out)).toEqual(before);
  });
});
