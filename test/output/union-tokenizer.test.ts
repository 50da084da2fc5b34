/**
 * The union vocabulary (src/engine/output/union-tokenizer.ts) on tokenizers built in the test:
 * the order new tokens get their ids in (mergekit's rules; by id and in the recipe's order where
 * mergekit's order is a hash map's or a set's), each model's rows, the refusals, and the
 * `tokenizer:` section's `tokens` (read from the recipe, added, their rows).
 */
import { describe, expect, it } from 'vitest';
import type { ModelFiles } from '../../src/engine/output/model-files.js';
import { unionTokenizer } from '../../src/engine/output/union-tokenizer.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

function files(label: string, vocab: string[], added: ReturnType<typeof special>[] = [], config: Record<string, unknown> = {}): ModelFiles {
  const all: Record<string, unknown> = {
    'tokenizer.json': { version: '1.0', added_tokens: added, model: { type: 'WordLevel', vocab: Object.fromEntries(vocab.map((t, i) => [t, i])), unk_token: '<unk>' } },
    'tokenizer_config.json': { tokenizer_class: 'PreTrainedTokenizerFast', ...config },
  };
  return { label, names: Object.keys(all), read: async (n) => new TextEncoder().encode(JSON.stringify(all[n])) };
}
const model = (name: string, f?: ModelFiles, vocabSize?: number) => ({ name, ...(f ? { files: f } : {}), hasTokenizer: f !== undefined, ...(vocabSize !== undefined ? { vocabSize } : {}) });
const parsed = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as { added_tokens: { id: number; content: string; special: boolean; normalized: boolean }[] };

describe('unionTokenizer', () => {
  it('adds plain tokens (base first, then the recipe\'s order, by id), then added tokens, at the next ids', async () => {
    const base = files('base', ['<unk>', 'a', 'b'], [special(0, '<unk>')]);
    const one = files('one', ['<unk>', 'q', 'a', 'p', 'b'], [special(0, '<unk>')]);
    // "<t>" is a plain token of one model and an added one of another: it is added once, as added.
    const two = files('two', ['<unk>', 'z', 'p', '<t>'], [special(0, '<unk>'), special(4, '<end>')]);
    const three = files('three', ['<unk>', '<t>', 'a'], [special(0, '<unk>'), special(1, '<t>')]);
    const { result, problems } = await unionTokenizer([model('base', base), model('one', one), model('two', two, 5), model('three', three), model('bare')]);
    expect(problems).toEqual([]);
    const tok = parsed(result!.tokenizerJson);
    expect(tok.added_tokens.map((a) => [a.id, a.content, a.special, a.normalized])).toEqual([
      [0, '<unk>', true, false],
      [3, 'q', false, true],
      [4, 'p', false, true],
      [5, 'z', false, true],
      [6, '<end>', true, false],
      [7, '<t>', true, false],
    ]);
    const { size, rows } = result!.vocabulary;
    expect(size).toBe(8);
    expect([...rows.get('one')!]).toEqual([0, 2, 4, 1, 3, -1, -1, -1]);
    expect([...rows.get('two')!]).toEqual([0, -1, -1, -1, 2, 1, 4, 3]);
    expect([...rows.get('three')!]).toEqual([0, 2, -1, -1, -1, -1, -1, 1]);
    // No tokenizer: mergekit assumes the base's.
    expect([...rows.get('bare')!]).toEqual([0, 1, 2, -1, -1, -1, -1, -1]);
  });

  it('a tokenizer_config.json that lists added tokens lists the new ones', async () => {
    const decoder = { '0': { content: '<unk>', lstrip: false, normalized: false, rstrip: false, single_word: false, special: true } };
    const base = files('base', ['<unk>', 'a'], [special(0, '<unk>')], { added_tokens_decoder: decoder });
    const { result } = await unionTokenizer([model('base', base), model('one', files('one', ['<unk>', 'x']))]);
    const config = JSON.parse(new TextDecoder().decode(result!.tokenizerConfig!)) as { added_tokens_decoder: Record<string, { content: string }> };
    expect(Object.entries(config.added_tokens_decoder).map(([id, v]) => [id, v.content])).toEqual([['0', '<unk>'], ['2', 'x']]);
  });

  it.each([
    ['ids at or above vocab_size', [model('base', files('base', ['a', 'b', 'c']), 2)], 'at or above its config\'s vocab_size 2'],
    ['no tokenizer.json', [model('base', { label: 'base', names: ['tokenizer_config.json'], read: async () => new TextEncoder().encode('{}') })], 'has no tokenizer.json'],
    ['a special token tokenizer.json lacks', [model('base', files('base', ['a'], [], { eos_token: '</s>' }))], 'names the token "</s>"'],
    ['an added token that is a plain token of the base', [model('base', files('base', ['a', 'b'])), model('one', files('one', ['a', 'b'], [special(1, 'b')]))], '"b" is an added token of one model but a regular token'],
  ])('refuses %s', async (_what, models, want) => {
    const { result, problems } = await unionTokenizer(models);
    expect(result).toBeUndefined();
    expect(problems.map((p) => p.message).join('\n')).toContain(want);
    expect(problems[0]!.message).toMatch(/^tokenizer_source: union: /);
  });
});

describe('tokenizer.tokens', () => {
  const TIES = (extra: string) => `models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\nmerge_method: ties\nbase_model: base\n${extra}`;

  it('reads each token\'s source in the recipe\'s order and writes it back', () => {
    const r = parseRecipe(TIES('tokenizer:\n  tokens:\n    "<x>": {source: a}\n    y: {source: {kind: model_token, model: base, token_id: 3}, force: true}\n    z: {source: {kind: model_token, model: a, token: "q"}}\n'));
    expect([r.tokenizerSource, r.tokenizerTokens]).toEqual([
      'union',
      [
        { token: '<x>', model: 'a', force: false },
        { token: 'y', model: 'base', tokenId: 3, force: true },
        { token: 'z', model: 'a', sourceToken: 'q', force: false },
      ],
    ]);
    expect(parseRecipe(recipeToYaml(r))).toEqual(r);
  });

  it.each([
    ['{"<x>": {source: {kind: zero}}}', 'mergekit fails on it'],
    ['{"<x>": {force: true}}', 'needs a source'],
    ['{"<x>": {source: {kind: model_token, model: a}}}', 'needs token_id or token'],
  ])('refuses %s with one line', (tokens, want) => {
    expect(() => parseRecipe(TIES(`tokenizer:\n  tokens: ${tokens}\n`), 'r.yml')).toThrow(want);
  });

  it('adds the tokens as plain added tokens (a special one loses its flag) and takes the rows named', async () => {
    const base = files('base', ['<unk>', 'a', 'b'], [special(0, '<unk>')]);
    const one = files('one', ['<unk>', 'b', 'a', 'q'], [special(0, '<unk>'), special(4, '<s>')]);
    const tokens = [
      { token: '<new>', model: 'one', sourceToken: 'q', force: false },
      { token: 'a', model: 'one', force: true },
      { token: '<s>', model: 'base', tokenId: 2, force: false },
    ];
    const { result, problems } = await unionTokenizer([model('base', base), model('one', one, 5)], tokens);
    expect(problems).toEqual([]);
    expect(parsed(result!.tokenizerJson).added_tokens.map((t) => [t.id, t.content, t.special])).toEqual([
      [0, '<unk>', true],
      [1, 'a', false],
      [3, 'q', false],
      [4, '<s>', false],
      [5, '<new>', false],
    ]);
    expect([...result!.vocabulary.chosen!]).toEqual([
      [5, { model: 'one', row: 3, force: false }],
      [1, { model: 'one', row: 2, force: true }],
      [4, { model: 'base', row: 2, force: false }],
    ]);
  });
});
