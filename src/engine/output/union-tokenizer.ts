/**
 * `tokenizer_source: union`: one vocabulary from every model's tokenizer, as mergekit builds it
 * (tokenizer/build.py, `build_union_tokenizer`), and where each of its tokens is in each model's
 * embeddings (`build_tokenizer`'s permutations), for merge/embedding-rows.ts.
 *
 * The output tokenizer is the base's (the base model, else the first model) with tokens added, as
 * mergekit adds them through transformers to a copy of the base's tokenizer:
 * 1. every model's regular tokens (not added tokens, ids below its config's vocab_size) that the
 *    base lacks, as plain added tokens (normalized, not special), models in order (base, then the
 *    recipe's), each model's tokens by id;
 * 2. then every model's added tokens, by id (the first model's settings win for a token added by
 *    several).
 * 3. then the tokens of the `tokenizer:` section's `tokens`, in its order, as plain added tokens
 *    (transformers' add_tokens with a string): a token already there keeps its id and becomes a
 *    plain added token (a special token loses its special flag, as mergekit's output shows).
 * An added token the tokenizer already has as an added token is skipped; a new one gets the next id
 * after the model's vocabulary and the added tokens (the tokenizers library's rule). Only
 * tokenizer.json changes: the rest of the base's tokenizer files are copied.
 *
 * Where mergekit is not deterministic we choose an order: it takes each tokenizer's new tokens in
 * the order of a Rust hash map (get_vocab()), and the models in a Python set's order (so is the base
 * of a recipe without base_model); merge-lab takes them by id and in the recipe's order. A
 * vocabulary with one new token per model, or new tokens from one model, comes out the same.
 *
 * Refused, each saying why: a tokenizer without tokenizer.json; one whose ids reach its config's
 * vocab_size (mergekit strips or skips those and then fails on them), or added tokens after its
 * vocabulary without a config's vocab_size; special tokens named in
 * tokenizer_config.json that the vocabulary lacks (transformers adds them when loading); an added
 * token that is a regular token of the base's vocabulary.
 */
import { MergeLabError, isMergeLabError } from '../errors.js';
import type { VocabularyRemap } from '../merge/embedding-rows.js';
import type { TokenEmbedding } from '../recipe/types.js';
import { readJsonObject, type ModelFiles } from './model-files.js';

/** One added token as tokenizer.json holds it. */
interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly single_word: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
  readonly special: boolean;
}

/** A model's tokenizer: tokenizer.json parsed, every token's id (model vocabulary and added tokens), its added tokens. */
interface ModelTokenizer {
  readonly json: Record<string, unknown>;
  readonly ids: Map<string, number>;
  readonly added: AddedToken[];
  /** The model vocabulary's size (the tokenizers library's get_vocab_size without added tokens). */
  readonly modelSize: number;
}

export interface UnionTokenizer {
  /** The output tokenizer.json. */
  readonly tokenizerJson: Uint8Array;
  /** The output tokenizer_config.json, when the base has one that lists added tokens (else it is copied). */
  readonly tokenizerConfig?: Uint8Array;
  readonly vocabulary: VocabularyRemap;
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];
const encoder = new TextEncoder();

/**
 * The union vocabulary of the models (`models[0]` is the base), or a problem. `hasTokenizer`:
 * whether a model has tokenizer files at all (mergekit assumes the base's vocabulary for one that
 * has none, and adds nothing from it); `vocabSize`: its config's vocab_size.
 */
export async function unionTokenizer(
  models: readonly { readonly name: string; readonly files?: ModelFiles; readonly hasTokenizer: boolean; readonly vocabSize?: number }[],
  tokens: readonly TokenEmbedding[] = [],
): Promise<{ result?: UnionTokenizer; problems: MergeLabError[] }> {
  const problems: MergeLabError[] = [];
  const problem = (what: string) => problems.push(new MergeLabError('RECIPE_INVALID', `tokenizer_source: union: ${what}`));
  const read = new Map<string, ModelTokenizer>();
  for (const m of models) {
    if (!m.files || (m !== models[0] && !m.hasTokenizer)) continue;
    try {
      const t = await readTokenizer(m.files);
      const limit = m.vocabSize ?? t.ids.size;
      if (m.vocabSize === undefined && t.added.some((a) => a.id >= t.modelSize)) {
        // Without vocab_size mergekit's union counts only the model vocabulary (transformers'
        // tokenizer.vocab_size) but its re-mapping every token: added tokens fall between the two.
        problem(`${m.name} has no vocab_size in config.json and added tokens after its vocabulary, which mergekit treats two ways. Add its config.json.`);
      }
      const over = [...t.ids].find(([, id]) => id >= limit);
      if (over) problem(`the tokenizer of ${m.name} gives ${JSON.stringify(over[0])} id ${over[1]}, at or above its config's vocab_size ${limit}; mergekit drops such tokens and then fails on them. Give the model a tokenizer that fits its embeddings.`);
      read.set(m.name, t);
    } catch (e) {
      if (!isMergeLabError(e)) throw e;
      problems.push(new MergeLabError(e.code, `tokenizer_source: union: ${e.message}`));
    }
  }
  const base = read.get(models[0]!.name);
  if (!base) {
    if (problems.length === 0) problem(`the base ${models[0]!.name} has no tokenizer files; the union starts from its tokenizer.`);
    return { problems };
  }
  if (problems.length) return { problems };

  // 1. Regular tokens the base lacks; 2. added tokens, the first settings of each.
  const json = structuredClone(base.json);
  const added: AddedToken[] = [...base.added];
  const addedNames = new Set(added.map((a) => a.content));
  const ids = new Map(base.ids);
  const add = (t: Omit<AddedToken, 'id'>) => {
    if (addedNames.has(t.content)) return;
    if (ids.has(t.content)) {
      problem(`${JSON.stringify(t.content)} is an added token of one model but a regular token of the base's vocabulary, which merge-lab does not merge.`);
      return;
    }
    const most = added.reduce((a, b) => Math.max(a, b.id), -1);
    const id = most >= base.modelSize || base.modelSize === 0 ? most + 1 : base.modelSize;
    added.push({ id, ...t });
    addedNames.add(t.content);
    ids.set(t.content, id);
  };
  const firstAdded = new Map<string, AddedToken>();
  for (const m of models) for (const a of [...(read.get(m.name)?.added ?? [])].sort((x, y) => x.id - y.id)) if (!firstAdded.has(a.content)) firstAdded.set(a.content, a);
  for (const m of models) {
    const t = read.get(m.name);
    if (!t) continue;
    // A token some model adds (this one included) is left to step 2, with that model's settings (as mergekit does).
    const regular = [...t.ids].filter(([tok]) => !firstAdded.has(tok)).sort((x, y) => x[1] - y[1]);
    for (const [tok] of regular) if (!base.ids.has(tok)) add({ content: tok, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
  }
  for (const { id: _id, ...a } of firstAdded.values()) add(a);
  const plain = { single_word: false, lstrip: false, rstrip: false, normalized: true, special: false };
  for (const { token } of tokens) {
    const i = added.findIndex((a) => a.content === token);
    if (i >= 0) added[i] = { id: added[i]!.id, content: token, ...plain };
    else if (ids.has(token)) {
      added.push({ id: ids.get(token)!, content: token, ...plain });
      addedNames.add(token);
    } else add({ content: token, ...plain });
  }
  if (problems.length) return { problems };

  added.sort((a, b) => a.id - b.id);
  json.added_tokens = added.map((a) => ({ id: a.id, content: a.content, single_word: a.single_word, lstrip: a.lstrip, rstrip: a.rstrip, normalized: a.normalized, special: a.special }));

  const size = ids.size;
  const seen = new Uint8Array(size);
  for (const id of ids.values()) {
    if (id < 0 || id >= size || seen[id]) {
      problem(`the ids of the base's tokenizer with the new tokens are not 0 … ${size - 1}, one per token, so they give no embedding matrix.`);
      return { problems };
    }
    seen[id] = 1;
  }
  // Each model's row for each output token: its own tokenizer's id, or the base's for a model without one.
  const rows = new Map<string, Int32Array>();
  for (const m of models) {
    const own = (read.get(m.name) ?? base).ids;
    const r = new Int32Array(size).fill(-1);
    for (const [tok, id] of ids) {
      const theirs = own.get(tok);
      if (theirs !== undefined) r[id] = theirs;
    }
    rows.set(m.name, r);
  }
  // tokenizer.tokens: the row each names, in the source model's own embeddings.
  const chosen = new Map<number, { model: string; row: number; force: boolean }>();
  for (const t of tokens) {
    const where = `tokenizer.tokens[${JSON.stringify(t.token)}]`;
    const r = ids.get(t.token)!;
    if (!rows.has(t.model)) {
      problem(`${where} takes its row from "${t.model}", which the recipe does not merge (mergekit requires one of its models).`);
      continue;
    }
    let row: number | undefined;
    if (t.tokenId !== undefined) row = t.tokenId;
    else if (t.sourceToken !== undefined) {
      const vocab = read.get(t.model)?.ids;
      row = vocab?.get(t.sourceToken);
      if (row === undefined) problem(`${where}: ${vocab ? `the tokenizer of "${t.model}" has no token ${JSON.stringify(t.sourceToken)}` : `"${t.model}" has no tokenizer of its own to find ${JSON.stringify(t.sourceToken)} in`}, as mergekit requires.`);
    } else {
      row = rows.get(t.model)![r]! >= 0 ? rows.get(t.model)![r]! : undefined;
      if (row === undefined) problem(`${where}: "${t.model}" has no token ${JSON.stringify(t.token)} to take the row of (mergekit fails there). Name a model that has it, or one of its tokens (kind: model_token).`);
    }
    if (row !== undefined) chosen.set(r, { model: t.model, row, force: t.force });
  }
  if (problems.length) return { problems };

  const config = models[0]!.files!.names.includes('tokenizer_config.json') ? await readJsonObject(models[0]!.files!, 'tokenizer_config.json') : undefined;
  let tokenizerConfig: Uint8Array | undefined;
  const decoder = config?.added_tokens_decoder;
  if (typeof decoder === 'object' && decoder !== null && !Array.isArray(decoder)) {
    // A tokenizer_config.json that lists the added tokens (transformers 4's layout) lists the new ones too.
    const list = decoder as Record<string, unknown>;
    for (const a of added) if (!(String(a.id) in list)) list[String(a.id)] = { content: a.content, lstrip: a.lstrip, normalized: a.normalized, rstrip: a.rstrip, single_word: a.single_word, special: a.special };
    tokenizerConfig = encoder.encode(JSON.stringify(config, null, 2) + '\n');
  }
  return {
    result: { tokenizerJson: encoder.encode(JSON.stringify(json, null, 2)), ...(tokenizerConfig ? { tokenizerConfig } : {}), vocabulary: { size, rows, ...(chosen.size ? { chosen } : {}) } },
    problems,
  };
}

/** tokenizer.json's vocabulary and added tokens, and tokenizer_config.json's special tokens checked against them. */
async function readTokenizer(m: ModelFiles): Promise<ModelTokenizer> {
  if (!m.names.includes('tokenizer.json')) {
    throw new MergeLabError('READ_FAILED', `${m.label} has no tokenizer.json, so merge-lab cannot read its vocabulary (tokenizer.model alone is not read).`);
  }
  const json = await readJsonObject(m, 'tokenizer.json');
  const vocab = (json.model as { vocab?: unknown } | undefined)?.vocab;
  const ids = new Map<string, number>();
  let modelSize: number;
  if (Array.isArray(vocab)) {
    // Unigram: [piece, score] pairs, the id being the position.
    vocab.forEach((e, i) => Array.isArray(e) && typeof e[0] === 'string' && ids.set(e[0], i));
    modelSize = vocab.length;
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [tok, id] of Object.entries(vocab)) if (typeof id === 'number') ids.set(tok, id);
    modelSize = ids.size;
  } else {
    throw new MergeLabError('READ_FAILED', `tokenizer.json of ${m.label} has no model.vocab merge-lab can read.`);
  }
  const added: AddedToken[] = [];
  for (const a of Array.isArray(json.added_tokens) ? (json.added_tokens as Record<string, unknown>[]) : []) {
    if (typeof a.id !== 'number' || typeof a.content !== 'string') continue;
    const flag = (k: string, d: boolean) => (typeof a[k] === 'boolean' ? (a[k] as boolean) : d);
    added.push({ id: a.id, content: a.content, single_word: flag('single_word', false), lstrip: flag('lstrip', false), rstrip: flag('rstrip', false), normalized: flag('normalized', true), special: flag('special', false) });
    ids.set(a.content, a.id);
  }
  if (m.names.includes('tokenizer_config.json')) {
    const c = await readJsonObject(m, 'tokenizer_config.json');
    const listed = typeof c.added_tokens_decoder === 'object' && c.added_tokens_decoder !== null ? Object.values(c.added_tokens_decoder as Record<string, unknown>) : [];
    const named: unknown[] = [...SPECIAL_KEYS.map((k) => c[k]), ...listed, ...(Array.isArray(c.additional_special_tokens) ? c.additional_special_tokens : []), ...(Array.isArray(c.extra_special_tokens) ? c.extra_special_tokens : [])];
    for (const v of named) {
      const tok = typeof v === 'string' ? v : (v as { content?: unknown } | null)?.content;
      if (typeof tok === 'string' && !ids.has(tok)) {
        throw new MergeLabError('RECIPE_INVALID', `the tokenizer of ${m.label} names the token ${JSON.stringify(tok)} in tokenizer_config.json, which its tokenizer.json lacks (transformers adds it when loading); merge-lab reads only tokenizer.json's vocabulary.`);
      }
    }
  }
  return { json, ids, added, modelSize };
}
