/**
 * The merged model's folder but its weights (src/engine/output/): config.json with the output dtype
 * under transformers 5's key, the slices' layer count and the tokenizer's vocab_size; the tokenizer
 * files mergekit copies or that tokenizer_source names; chat templates (built-in, given, auto,
 * mistyped); refusals of what would re-map embeddings; the model card; and the recipe keys
 * (tokenizer_source, tokenizer:, chat_template) read and written back.
 */
import { describe, expect, it } from 'vitest';
import { MergeLabError } from '../../src/engine/errors.js';
import { BUILTIN_CHAT_TEMPLATES } from '../../src/engine/output/chat-templates.js';
import { configJson, outputConfig } from '../../src/engine/output/config.js';
import { listedModelFiles, type ModelFiles } from '../../src/engine/output/model-files.js';
import { prepareModelFolder, type ModelFolder, type TensorShapes } from '../../src/engine/output/model-folder.js';
import { COPIED_TOKENIZER_FILES } from '../../src/engine/output/tokenizer.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A model's side files from name → content. */
function files(label: string, content: Record<string, string | object>): ModelFiles {
  return listedModelFiles(
    label,
    Object.entries(content).map(([path, v]) => ({ path, blob: new Blob([typeof v === 'string' ? v : JSON.stringify(v)]) })),
  );
}

/** A tokenizer.json of `n` tokens ("t0" … ), ids 0 … n−1, the first three as added special tokens. */
function tokenizerJson(n: number, rename: Record<number, string> = {}): object {
  const vocab = Object.fromEntries(Array.from({ length: n }, (_, i) => [rename[i] ?? `t${i}`, i]));
  return {
    version: '1.0',
    added_tokens: [0, 1, 2].map((id) => ({ id, content: rename[id] ?? `t${id}`, special: true })),
    model: { type: 'BPE', vocab, merges: [] },
  };
}
const TOKENIZER_CONFIG = { bos_token: 't1', eos_token: 't2', unk_token: 't0', tokenizer_class: 'PreTrainedTokenizerFast' };

/** A header with an embedding matrix of `rows` rows (and an lm_head of as many). */
function shapes(rows: number): TensorShapes {
  const info: Record<string, number[]> = { 'model.embed_tokens.weight': [rows, 4], 'lm_head.weight': [rows, 4], 'model.norm.weight': [4] };
  return { tensorNames: Object.keys(info), info: (n) => (info[n] ? { shape: info[n]! } : undefined) };
}

const LLAMA_CONFIG = { architectures: ['LlamaForCausalLM'], model_type: 'llama', num_hidden_layers: 4, vocab_size: 8, torch_dtype: 'float32', hidden_size: 4 };

/** A model folder: config, tokenizer of 8 tokens, and extra files. */
function model(label: string, extra: Record<string, string | object> = {}, vocab = 8): ModelFiles {
  return files(label, { 'model.safetensors': '', 'config.json': { ...LLAMA_CONFIG, vocab_size: vocab }, 'tokenizer.json': tokenizerJson(vocab), 'tokenizer_config.json': TOKENIZER_CONFIG, ...extra });
}

async function folder(yaml: string, models: Record<string, ModelFiles>, rows: Record<string, number> = {}, name = 'out'): Promise<ModelFolder> {
  const recipe = parseRecipe(yaml, 'r.yml');
  return prepareModelFolder({
    recipe,
    recipeText: yaml,
    name,
    method: { label: 'TIES', reference: 'Yadav et al., TIES-Merging, arXiv:2306.01708' },
    files: new Map(Object.entries(models)),
    checkpoints: new Map(Object.keys(models).map((m) => [m, shapes(rows[m] ?? 8)])),
  });
}

const names = (f: ModelFolder) => f.files.map((x) => x.name);
const file = (f: ModelFolder, name: string) => {
  const x = f.files.find((y) => y.name === name);
  if (!x) throw new Error(`${name} is not in ${names(f).join(', ')}`);
  return text(x.bytes);
};
const TIES = (extra = '') => `merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 1, density: 0.5}\n${extra}`;

describe('config.json', () => {
  it.each([
    ['out_dtype: bfloat16\ndtype: float32', 'bfloat16'],
    ['dtype: float16', 'float16'],
    ['dtype: bf16', 'bfloat16'],
    ['dtype: float32', 'float32'],
    ['', 'float32'],
  ])('%j sets "dtype" to %s and drops torch_dtype, as transformers 5 saves it', (extra, want) => {
    const c = outputConfig(LLAMA_CONFIG, parseRecipe(TIES(extra)));
    expect(c.dtype).toBe(want);
    expect('torch_dtype' in c).toBe(false);
    expect(c.num_hidden_layers).toBe(4);
  });
  it('keeps every other key, sorted at every level, with a final newline', () => {
    const json = configJson(outputConfig({ z: 1, a: { y: 2, b: [{ d: 1, c: 2 }] }, torch_dtype: 'float16' }, parseRecipe(TIES())));
    expect(json).toBe('{\n  "a": {\n    "b": [\n      {\n        "c": 2,\n        "d": 1\n      }\n    ],\n    "y": 2\n  },\n  "dtype": "float16",\n  "z": 1\n}\n');
  });
  it('a slices recipe sets the layer count to its layer range (mergekit sums it over slices)', () => {
    const recipe = parseRecipe('merge_method: linear\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 4]\n        parameters: {weight: 1}\n      - model: b\n        layer_range: [0, 4]\n        parameters: {weight: 1}\n');
    expect(outputConfig({ ...LLAMA_CONFIG, num_hidden_layers: 32 }, recipe).num_hidden_layers).toBe(4);
    expect(outputConfig({ n_layer: 12 }, recipe)).toEqual({ n_layer: 4 });
  });
  it('is written from the base (or the first model); a base without one gives a warning and no file', async () => {
    const f = await folder(TIES('out_dtype: bfloat16'), { base: model('base'), a: model('a', { 'config.json': { model_type: 'other' } }), b: model('b') });
    expect(JSON.parse(file(f, 'config.json'))).toEqual({ ...LLAMA_CONFIG, torch_dtype: undefined, dtype: 'bfloat16' });
    const first = await folder('merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: base\n    parameters: {weight: 1}\n', { base: model('base'), a: model('a', { 'config.json': { model_type: 'other' } }) });
    expect(JSON.parse(file(first, 'config.json')).model_type).toBe('other');
    const none = await folder(TIES(), { base: files('base', { 'model.safetensors': '' }), a: model('a'), b: model('b') });
    expect(names(none)).toEqual(['mergekit_config.yml', 'README.md']);
    expect(none.warnings.filter((w) => w.includes('config.json'))).toEqual(['base has no config.json, so the merged model has none (transformers needs one to load it).']);
    expect(none.problems).toEqual([]);
  });
  it('a config.json that is not JSON stops the merge, naming it', async () => {
    const f = await folder(TIES(), { base: model('base', { 'config.json': '{ nope' }), a: model('a'), b: model('b') });
    expect(f.problems.map((p) => [p.code, p.message.includes('config.json of base')])).toEqual([['READ_FAILED', true]]);
  });
});

describe('tokenizer files', () => {
  it("without tokenizer_source, copies mergekit's list from the base, bytes unchanged", async () => {
    const extra = Object.fromEntries(COPIED_TOKENIZER_FILES.filter((n) => !['tokenizer.json', 'tokenizer_config.json'].includes(n)).map((n) => [n, `${n} of base`]));
    const base = model('base', { ...extra, 'vocab.json': '{}', 'README.md': 'not copied', 'pytorch_model.bin': 'x' });
    const f = await folder(TIES(), { base, a: model('a'), b: model('b') });
    expect(names(f)).toEqual(['config.json', ...COPIED_TOKENIZER_FILES, 'mergekit_config.yml', 'README.md']);
    for (const n of COPIED_TOKENIZER_FILES) expect(file(f, n)).toBe(text(await base.read(n)));
    expect(f.warnings).toEqual([]);
  });
  it('a base without tokenizer files: a warning, no tokenizer', async () => {
    const f = await folder(TIES(), { base: files('base', { 'model.safetensors': '', 'config.json': LLAMA_CONFIG }), a: model('a'), b: model('b') });
    expect(names(f)).toEqual(['config.json', 'mergekit_config.yml', 'README.md']);
    expect(f.warnings).toEqual(['base has no tokenizer files, so the merged model has none; copy a tokenizer into it to use it with transformers.']);
  });
  it('tokenizer_source: base copies the base tokenizer (no generation_config) and sets vocab_size', async () => {
    const base = model('base', { 'generation_config.json': {}, 'special_tokens_map.json': {} });
    const f = await folder(TIES('tokenizer_source: base'), { base, a: model('a'), b: model('b') });
    expect(f.problems).toEqual([]);
    expect(names(f)).toEqual(['config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json', 'mergekit_config.yml', 'README.md']);
    expect(JSON.parse(file(f, 'config.json')).vocab_size).toBe(8);
  });
  it('tokenizer_source: <model> copies that model\'s tokenizer (even one not merged)', async () => {
    const other = model('other', { 'chat_template.jinja': '{{ other }}' });
    const f = await folder(TIES('tokenizer_source: other'), { base: model('base'), a: model('a'), b: model('b'), other });
    expect(f.problems).toEqual([]);
    expect(file(f, 'chat_template.jinja')).toBe('{{ other }}');
    const missing = await folder(TIES('tokenizer_source: nowhere'), { base: model('base'), a: model('a'), b: model('b') });
    expect(missing.problems.map((p) => p.code)).toEqual(['PATH_NOT_FOUND']);
    expect(missing.problems[0]!.message).toContain('tokenizer_source "nowhere" was not found');
  });
  it('a model without tokenizer files counts as having the base\'s (as mergekit assumes)', async () => {
    const f = await folder(TIES('tokenizer_source: base'), { base: model('base'), a: files('a', { 'model.safetensors': '' }), b: model('b') });
    expect(f.problems).toEqual([]);
  });
  it('refuses, one line per model, whatever would make mergekit re-map embeddings', async () => {
    // Another token at id 5; an embedding with padding rows; a model whose vocabulary is larger.
    const f = await folder(TIES('tokenizer_source: base'), { base: model('base'), a: model('a', { 'tokenizer.json': tokenizerJson(8, { 5: 'other' }) }), b: model('b') }, { b: 10 });
    expect(f.problems.map((p) => p.code)).toEqual(['RECIPE_INVALID', 'SHAPE_MISMATCH']);
    expect(f.problems[0]!.message).toBe(
      'tokenizer_source: base: the output vocabulary gives "t5" id 5 but a\'s tokenizer does not have it. mergekit would re-map the embeddings onto the new vocabulary, which merge-lab does not do yet; leave tokenizer_source out to merge the embeddings as stored (the base\'s tokenizer is then copied).',
    );
    expect(f.problems[1]!.message).toContain("b's model.embed_tokens.weight has 10 rows but the tokenizer has 8 tokens");
    // Tokens past the base config's vocab_size (mergekit strips them).
    const stripped = await folder(TIES('tokenizer_source: base'), { base: model('base', { 'config.json': { ...LLAMA_CONFIG, vocab_size: 6 } }), a: model('a'), b: model('b') });
    expect(stripped.problems[0]!.message).toContain('ids at or above its config\'s vocab_size 6');
    // Special tokens transformers would add on loading.
    const adds = await folder(TIES('tokenizer_source: base'), { base: model('base', { 'tokenizer_config.json': { ...TOKENIZER_CONFIG, pad_token: '<pad>' } }), a: model('a'), b: model('b') });
    expect(adds.problems[0]!.message).toContain('names special tokens it does not contain (<pad>)');
    // No tokenizer.json to read the vocabulary from.
    const spm = await folder(TIES('tokenizer_source: base'), { base: files('base', { 'tokenizer.model': 'x', 'tokenizer_config.json': TOKENIZER_CONFIG }), a: model('a'), b: model('b') });
    expect(spm.problems.map((p) => p.code)).toEqual(['READ_FAILED']);
    expect(spm.problems[0]!.message).toContain('base has no tokenizer.json');
  });
});

describe('chat_template', () => {
  for (const name of Object.keys(BUILTIN_CHAT_TEMPLATES)) {
    it(`"${name}" is our ${name} template (see chat-templates.test.ts), written as chat_template.jinja`, async () => {
      const f = await folder(TIES(`chat_template: ${name}`), { base: model('base', { 'generation_config.json': {} }), a: model('a'), b: model('b') });
      expect(file(f, 'chat_template.jinja')).toBe(BUILTIN_CHAT_TEMPLATES[name]);
      // mergekit re-saves the tokenizer: only the tokenizer's own files.
      expect(names(f)).toEqual(['config.json', 'tokenizer_config.json', 'tokenizer.json', 'chat_template.jinja', 'mergekit_config.yml', 'README.md']);
    });
  }
  it('replaces the base\'s own template, taking it out of tokenizer_config.json as transformers 5 saves it', async () => {
    const template = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
    const base = model('base', { 'tokenizer_config.json': { ...TOKENIZER_CONFIG, chat_template: 'old {{ x }}' }, 'chat_template.json': { chat_template: 'old' } });
    const f = await folder(TIES(`chat_template: "${template}"`), { base, a: model('a'), b: model('b') });
    expect(file(f, 'chat_template.jinja')).toBe(template);
    expect(JSON.parse(file(f, 'tokenizer_config.json'))).toEqual(TOKENIZER_CONFIG);
    expect(names(f)).not.toContain('chat_template.json');
  });
  it('auto takes the most common template among the models (stripped)', async () => {
    const f = await folder(TIES('chat_template: auto'), {
      base: model('base', { 'chat_template.jinja': '{{ base }}' }),
      a: model('a', { 'tokenizer_config.json': { ...TOKENIZER_CONFIG, chat_template: [{ name: 'default', template: ' {{ shared }}\n' }] } }),
      b: model('b', { 'chat_template.jinja': '{{ shared }}' }),
    });
    expect(file(f, 'chat_template.jinja')).toBe('{{ shared }}');
    const none = await folder(TIES('chat_template: auto'), { base: model('base'), a: model('a'), b: model('b') });
    expect(names(none)).not.toContain('chat_template.jinja');
  });
  it('a mistyped name is refused before merging, listing the templates', async () => {
    const f = await folder(TIES('chat_template: chatlm'), { base: model('base'), a: model('a'), b: model('b') });
    expect(f.problems.map((p) => [p.code, p.message])).toEqual([
      ['PARAMETER_INVALID', 'chat_template "chatlm" is neither a template nor one of mergekit\'s: alpaca, chatml, exaone, llama3, mistral, or auto (the most common among the models).'],
    ]);
  });
});

describe('mergekit_config.yml and README.md', () => {
  it('mergekit_config.yml is the recipe text as given', async () => {
    const yaml = `# my merge\n${TIES('dtype: bfloat16')}`;
    const f = await folder(yaml, { base: model('base'), a: model('a'), b: model('b') });
    expect(file(f, 'mergekit_config.yml')).toBe(yaml);
  });
  it('the card names the method with its paper, the base, the merged models and holds the recipe', async () => {
    const yaml = TIES('tokenizer_source: base\n');
    const card = file(await folder(yaml, { base: model('base'), a: model('a'), b: model('b') }, {}, 'my-merge'), 'README.md');
    expect(card.startsWith('---\nlibrary_name: transformers\ntags:\n- merge\n- mergekit\n- merge-lab\n---\n# my-merge\n')).toBe(true);
    expect(card).toContain('- Method: TIES (`ties`; Yadav et al., TIES-Merging, [arXiv:2306.01708](https://arxiv.org/abs/2306.01708))');
    expect(card).toContain('- Base model: base\n- Merged into it:\n  - a\n  - b\n- Tokenizer: from the base model\n');
    expect(card).toContain('```yaml\n' + yaml + '```\n');
  });
  it('slerp names no base (it interpolates between its two models), as mergekit\'s card does', async () => {
    const yaml = 'merge_method: slerp\nbase_model: base\nmodels:\n  - model: base\n  - model: a\nparameters: {t: 0.5}\n';
    const card = file(await folder(yaml, { base: model('base'), a: model('a') }), 'README.md');
    expect(card).not.toContain('Base model');
    expect(card).toContain('- Merged into it:\n  - base\n  - a\n');
  });
});

describe('recipe keys', () => {
  it('reads tokenizer_source, the tokenizer section and chat_template, and writes them back', () => {
    const r = parseRecipe(TIES('tokenizer_source: base\nchat_template: chatml'));
    expect([r.tokenizerSource, r.chatTemplate, r.warnings]).toEqual(['base', 'chatml', []]);
    expect(parseRecipe(recipeToYaml(r))).toEqual(r);
    expect(parseRecipe(TIES('tokenizer:\n  source: ../m/x\n')).tokenizerSource).toBe('../m/x');
    // mergekit's default source of a tokenizer section is union.
    expect([parseRecipe(TIES('tokenizer_source: union')).tokenizerSource, parseRecipe(TIES('tokenizer: {}')).tokenizerSource]).toEqual(['union', 'union']);
  });
  it.each([
    ['tokenizer: {pad_to_multiple_of: 8, source: base}', 'tokenizer.pad_to_multiple_of (padding the embeddings) is not supported'],
    ['tokenizer:\n  source: base\n  tokens: {"<x>": {source: base}}', 'tokenizer.tokens is supported with source: union only'],
    ['tokenizer_source: base\ntokenizer: {source: base}', 'give tokenizer_source or a tokenizer section, not both'],
    ['chat_template: 3', 'chat_template must be'],
  ])('refuses %j with one line saying so', (extra, want) => {
    let err: unknown;
    try {
      parseRecipe(TIES(extra), 'r.yml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MergeLabError);
    expect((err as MergeLabError).message).toContain(want);
    expect((err as MergeLabError).message).not.toContain('\n');
  });
});

describe('listedModelFiles', () => {
  it('takes the files of the folder holding the weights', async () => {
    const m = listedModelFiles('m', [
      { path: 'm/model.safetensors', blob: new Blob(['w']) },
      { path: 'm/config.json', blob: new Blob(['{}']) },
      { path: 'm/sub/config.json', blob: new Blob(['no']) },
      { path: 'README.md', blob: new Blob(['no']) },
    ]);
    expect([...m.names].sort()).toEqual(['config.json', 'model.safetensors']);
    expect(text(await m.read('config.json'))).toBe('{}');
    await expect(m.read('tokenizer.json')).rejects.toMatchObject({ code: 'READ_FAILED' });
  });
  it("a LoRA adapter dropped with its base: the base's files, not the adapter's", () => {
    const m = listedModelFiles('m', [
      { path: 'adapter/adapter_config.json', blob: new Blob(['{}']) },
      { path: 'adapter/adapter_model.safetensors', blob: new Blob(['a']) },
      { path: 'adapter/tokenizer.json', blob: new Blob(['adapter']) },
      { path: 'base/model.safetensors', blob: new Blob(['w']) },
      { path: 'base/tokenizer.json', blob: new Blob(['base']) },
    ]);
    expect([...m.names].sort()).toEqual(['model.safetensors', 'tokenizer.json']);
  });
});
