/**
 * The merged model's tokenizer files, as mergekit writes them (merge.py):
 *
 * - No `tokenizer_source`: the donor's (the base model's, else the first model's) tokenizer files
 *   are copied as they are (`_copy_tokenizer`'s list, below), when it has tokenizer_config.json and
 *   tokenizer.json or tokenizer.model.
 * - `tokenizer_source: base` or `<model>`: mergekit builds the output tokenizer from that model,
 *   maps every model's embedding rows onto its vocabulary (tokenizer/build.py, embed.py) and sets
 *   config.json's vocab_size to its size. merge-lab does this only where that mapping changes no
 *   tensor — every model's vocabulary gives each token the output's id, and every embedding matrix
 *   has exactly one row per token — and refuses the rest, saying why: resizing or permuting
 *   embeddings is not done yet.
 * - `tokenizer_source: union`: the base's tokenizer files with every model's tokens added to
 *   tokenizer.json (union-tokenizer.ts), vocab_size set to its size, and each model's embedding
 *   rows re-ordered onto it (`vocabulary`, applied by the merge plan: merge/embedding-rows.ts).
 *   The `tokenizer:` section's `tokens` (with source union) add tokens and name their rows;
 *   `pad_to_multiple_of` is refused when the recipe is read (recipe/tokenizer-keys.ts).
 * - `chat_template`: one of mergekit's templates by name, `auto` (the most common template among
 *   the models), or a template itself. mergekit then re-saves the tokenizer through transformers
 *   5, which writes the template as chat_template.jinja and none in tokenizer_config.json; merge-lab
 *   copies the files and does the same.
 *
 * Where mergekit re-saves a tokenizer through transformers, its files can differ in layout from
 * the copies merge-lab writes (transformers adds loading-time keys such as `is_local`); what
 * AutoTokenizer loads from them is the same.
 */
import { MergeLabError, isMergeLabError } from '../errors.js';
import type { Recipe } from '../recipe/types.js';
import { BUILTIN_CHAT_TEMPLATES } from './chat-templates.js';
import type { VocabularyRemap } from '../merge/embedding-rows.js';
import { readJsonObject, readText, type ModelFiles } from './model-files.js';
import { unionTokenizer } from './union-tokenizer.js';

/** One file of the output folder. */
export interface OutputFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Tensor shapes by name: an opened checkpoint's header. */
export interface TensorShapes {
  readonly tensorNames: readonly string[];
  info(name: string): { readonly shape: readonly number[] } | undefined;
}

/** What mergekit copies from the donor when the recipe builds no tokenizer (merge.py, `_copy_tokenizer`), in its order. */
export const COPIED_TOKENIZER_FILES: readonly string[] = [
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer.model',
  'added_tokens.json',
  'merges.txt',
  'chat_template.jinja',
  'generation_config.json',
  'chat_template.json',
  'video_preprocessor_config.json',
];

/** The tokenizer's own files among them: what a tokenizer re-saved by transformers consists of (no generation or video settings). */
const TOKENIZER_FILES = COPIED_TOKENIZER_FILES.filter((f) => f !== 'generation_config.json' && f !== 'video_preprocessor_config.json');

/** Files of a tokenizer transformers can load without tokenizer.json (vocabulary files of slow tokenizers). */
const VOCABULARY_FILES = ['vocab.json', 'vocab.txt'];

/**
 * Embedding matrices (one row per token) as mergekit's architecture definitions mark them
 * (`is_embed`): the tensors mergekit re-maps onto the output vocabulary.
 */
export const EMBEDDING_TENSORS: readonly string[] = [
  'model.embed_tokens.weight',
  'lm_head.weight',
  'model.language_model.embed_tokens.weight',
  'transformer.wte.weight',
  'transformer.embd.wte.weight',
  'transformer.word_embeddings.weight',
  'transformer.embedding.word_embeddings.weight',
  'transformer.output_layer.weight',
  'model.tok_embeddings.weight',
  'output.weight',
  'gpt_neox.embed_in.weight',
  'embed_out.weight',
  'lm_head.linear.weight',
  'lm_head.decoder.weight',
  'embeddings.word_embeddings.weight',
  'bert.embeddings.word_embeddings.weight',
  'roberta.embeddings.word_embeddings.weight',
  'distilbert.embeddings.word_embeddings.weight',
  'vocab_projector.weight',
];

export interface TokenizerInput {
  readonly recipe: Recipe;
  /** The side files of every model the recipe names (and of the tokenizer_source model), by the recipe's name. */
  readonly files: ReadonlyMap<string, ModelFiles>;
  /** The opened checkpoints by the recipe's name, for the embedding matrices' shapes. */
  readonly checkpoints: ReadonlyMap<string, TensorShapes>;
}

export interface TokenizerOutput {
  readonly files: OutputFile[];
  readonly warnings: string[];
  readonly problems: MergeLabError[];
  /** The output vocabulary's size when the recipe builds the tokenizer (config.json's vocab_size). */
  readonly vocabSize?: number;
  /** `tokenizer_source: union`: the new vocabulary and each model's rows in it, for the merge plan. */
  readonly vocabulary?: VocabularyRemap;
}

const encoder = new TextEncoder();

/** The donor of config and tokenizer: the base model, else the first model (mergekit's `_get_donor_model`). */
export function donorModel(recipe: Recipe): string | undefined {
  return recipe.baseModel ?? recipe.models[0]?.model;
}

/** The models a recipe merges, base first, each once. */
export function referencedModels(recipe: Recipe): string[] {
  return [...new Set([...(recipe.baseModel !== undefined ? [recipe.baseModel] : []), ...recipe.models.map((m) => m.model)])];
}

/** The tokenizer files of the output folder, or the problems that stop the merge. */
export async function planTokenizer(input: TokenizerInput): Promise<TokenizerOutput> {
  const { recipe } = input;
  const warnings: string[] = [];
  const problems: MergeLabError[] = [];
  const donor = donorModel(recipe);
  if (donor === undefined) return { files: [], warnings, problems };
  const donorFiles = input.files.get(donor);

  let template: string | undefined;
  if (recipe.chatTemplate !== undefined) {
    try {
      template = await chatTemplate(recipe.chatTemplate, referencedModels(recipe).flatMap((m) => input.files.get(m) ?? []));
    } catch (e) {
      if (!isMergeLabError(e)) throw e;
      problems.push(e);
    }
  }
  const templateSet = recipe.chatTemplate !== undefined;

  if (recipe.tokenizerSource === 'union') {
    const models = [donor, ...referencedModels(recipe).filter((m) => m !== donor)];
    const entries = [];
    for (const name of models) {
      const files = input.files.get(name);
      const vocabSize = await configVocabSize(files);
      entries.push({ name, ...(files ? { files } : {}), hasTokenizer: files !== undefined && [...TOKENIZER_FILES, ...VOCABULARY_FILES].some((f) => files.names.includes(f)), ...(vocabSize !== undefined ? { vocabSize } : {}) });
    }
    const union = await unionTokenizer(entries, recipe.tokenizerTokens);
    problems.push(...union.problems);
    if (problems.length || !union.result || !donorFiles) return { files: [], warnings, problems };
    const { tokenizerJson, tokenizerConfig, vocabulary } = union.result;
    const files = (await copyFiles(donorFiles, TOKENIZER_FILES)).map((f) =>
      f.name === 'tokenizer.json' ? { name: f.name, bytes: tokenizerJson } : f.name === 'tokenizer_config.json' && tokenizerConfig ? { name: f.name, bytes: tokenizerConfig } : f,
    );
    return { files: templateSet ? await withChatTemplate(files, template) : files, warnings, problems, vocabSize: vocabulary.size, vocabulary };
  }

  if (recipe.tokenizerSource !== undefined) {
    const sourceName = recipe.tokenizerSource === 'base' ? donor : recipe.tokenizerSource;
    const source = input.files.get(sourceName);
    if (!source) {
      problems.push(new MergeLabError('PATH_NOT_FOUND', `tokenizer_source "${recipe.tokenizerSource}" was not found. Give "base" or the path of a model folder with a tokenizer.json.`));
      return { files: [], warnings, problems };
    }
    const checked = await checkSameVocabulary(input, donor, sourceName, source);
    problems.push(...checked.problems);
    if (problems.length) return { files: [], warnings, problems };
    const files = await copyFiles(source, TOKENIZER_FILES);
    return { files: templateSet ? await withChatTemplate(files, template) : files, warnings, problems, vocabSize: checked.vocabSize };
  }

  const names = new Set(donorFiles?.names ?? []);
  const label = donorFiles?.label ?? donor;
  const loadable = names.has('tokenizer_config.json') && (names.has('tokenizer.json') || names.has('tokenizer.model'));
  const anyTokenizer = [...TOKENIZER_FILES, ...VOCABULARY_FILES].some((f) => names.has(f));
  if (!donorFiles || !anyTokenizer) {
    warnings.push(`${label} has no tokenizer files, so the merged model has none${templateSet ? ' and chat_template is not written' : ''}; copy a tokenizer into it to use it with transformers.`);
    return { files: [], warnings, problems };
  }
  if (problems.length) return { files: [], warnings, problems };
  if (!loadable) {
    // mergekit would load this tokenizer with transformers and save it again, which merge-lab cannot do.
    warnings.push(`${label} has no tokenizer_config.json with a tokenizer.json or tokenizer.model: its tokenizer files are copied as they are (mergekit would re-save them through transformers).`);
    const files = await copyFiles(donorFiles, [...TOKENIZER_FILES, ...VOCABULARY_FILES]);
    return { files: templateSet ? await withChatTemplate(files, template) : files, warnings, problems };
  }
  // With a chat template, mergekit re-saves the tokenizer (transformers writes only its own files).
  const files = await copyFiles(donorFiles, templateSet ? TOKENIZER_FILES : COPIED_TOKENIZER_FILES);
  return { files: templateSet ? await withChatTemplate(files, template) : files, warnings, problems };
}

async function copyFiles(model: ModelFiles, names: readonly string[]): Promise<OutputFile[]> {
  const out: OutputFile[] = [];
  for (const name of names) if (model.names.includes(name)) out.push({ name, bytes: await model.read(name) });
  return out;
}

/**
 * `chat_template`'s text: a built-in template by name, `auto`'s choice (undefined when no model
 * has one), or the template given. mergekit takes a value shorter than 20 characters or without
 * "{" for a mistyped name and stops; so do we, before merging.
 */
export async function chatTemplate(value: string, models: readonly ModelFiles[]): Promise<string | undefined> {
  if (value === 'auto') {
    // mergekit: the plurality among the models' templates, each stripped. A tie goes to the model
    // named first here (base, then the recipe's order); mergekit's order there is a Python set's.
    const counts = new Map<string, number>();
    for (const m of models) {
      const t = (await modelChatTemplate(m))?.trim();
      if (t) counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    let best: string | undefined;
    for (const [t, n] of counts) if (best === undefined || n > counts.get(best)!) best = t;
    return best;
  }
  const builtin = Object.hasOwn(BUILTIN_CHAT_TEMPLATES, value) ? BUILTIN_CHAT_TEMPLATES[value] : undefined;
  if (builtin !== undefined) return builtin;
  if (value.length < 20 || !value.includes('{')) {
    throw new MergeLabError(
      'PARAMETER_INVALID',
      `chat_template "${value}" is neither a template nor one of mergekit's: ${Object.keys(BUILTIN_CHAT_TEMPLATES).join(', ')}, or auto (the most common among the models).`,
    );
  }
  return value;
}

/** A model's own chat template, as transformers 5 finds it: chat_template.jinja, chat_template.json, then tokenizer_config.json. */
async function modelChatTemplate(m: ModelFiles): Promise<string | undefined> {
  // mergekit reads it through AutoTokenizer: a model whose tokenizer does not load counts for nothing.
  if (!['tokenizer.json', 'tokenizer.model', ...VOCABULARY_FILES].some((f) => m.names.includes(f))) return undefined;
  if (m.names.includes('chat_template.jinja')) return readText(m, 'chat_template.jinja');
  const fromJson = async (name: string) => (m.names.includes(name) ? pickTemplate((await readJsonObject(m, name)).chat_template) : undefined);
  return (await fromJson('chat_template.json')) ?? (await fromJson('tokenizer_config.json'));
}

/** A template value: a string, or a list of named templates (the one named "default"). */
function pickTemplate(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const d = v.find((x) => typeof x === 'object' && x !== null && (x as { name?: unknown }).name === 'default') as { template?: unknown } | undefined;
    return typeof d?.template === 'string' ? d.template : undefined;
  }
  return undefined;
}

/**
 * The files with `template` as the chat template, as transformers 5's save_pretrained writes it:
 * chat_template.jinja holds it, and tokenizer_config.json none (other templates go). Undefined
 * (`auto` found none): the files' own template stays.
 */
async function withChatTemplate(files: readonly OutputFile[], template: string | undefined): Promise<OutputFile[]> {
  if (template === undefined) return [...files];
  const out: OutputFile[] = [];
  for (const f of files) {
    if (f.name === 'chat_template.jinja' || f.name === 'chat_template.json') continue;
    if (f.name === 'tokenizer_config.json') {
      const config = await readJsonObject({ label: 'the tokenizer', names: [f.name], read: async () => f.bytes }, f.name);
      if ('chat_template' in config) {
        delete config.chat_template;
        out.push({ name: f.name, bytes: encoder.encode(JSON.stringify(config, null, 2) + '\n') });
        continue;
      }
    }
    out.push(f);
  }
  out.push({ name: 'chat_template.jinja', bytes: encoder.encode(template) });
  return out;
}

/** A tokenizer's vocabulary as transformers' get_vocab() gives it, and special tokens it names but lacks. */
interface Vocabulary {
  readonly ids: Map<string, number>;
  /** Special tokens of tokenizer_config.json not in the vocabulary: transformers would add them on loading. */
  readonly missingSpecial: string[];
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** tokenizer.json's model vocabulary with its added tokens, and tokenizer_config.json's added tokens. */
async function readVocabulary(m: ModelFiles): Promise<Vocabulary> {
  if (!m.names.includes('tokenizer.json')) {
    throw new MergeLabError('READ_FAILED', `${m.label} has no tokenizer.json, so merge-lab cannot read its vocabulary (tokenizer.model alone is not read yet); leave tokenizer_source out to copy the base's tokenizer.`);
  }
  const t = await readJsonObject(m, 'tokenizer.json');
  const model = t.model as { vocab?: unknown } | undefined;
  const ids = new Map<string, number>();
  const vocab = model?.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [piece, score] pairs, the id being the position.
    vocab.forEach((e, i) => Array.isArray(e) && typeof e[0] === 'string' && ids.set(e[0], i));
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [tok, id] of Object.entries(vocab)) if (typeof id === 'number') ids.set(tok, id);
  } else {
    throw new MergeLabError('READ_FAILED', `tokenizer.json of ${m.label} has no model.vocab merge-lab can read.`);
  }
  for (const a of Array.isArray(t.added_tokens) ? t.added_tokens : []) {
    const { id, content } = a as { id?: unknown; content?: unknown };
    if (typeof id === 'number' && typeof content === 'string') ids.set(content, id);
  }
  const missingSpecial: string[] = [];
  if (m.names.includes('tokenizer_config.json')) {
    const c = await readJsonObject(m, 'tokenizer_config.json');
    if (typeof c.added_tokens_decoder === 'object' && c.added_tokens_decoder !== null) {
      for (const [id, v] of Object.entries(c.added_tokens_decoder as Record<string, unknown>)) {
        const content = (v as { content?: unknown } | null)?.content;
        if (typeof content === 'string' && !ids.has(content) && Number.isInteger(Number(id))) ids.set(content, Number(id));
      }
    }
    const named: unknown[] = [...SPECIAL_KEYS.map((k) => c[k]), ...(Array.isArray(c.additional_special_tokens) ? c.additional_special_tokens : [])];
    for (const v of named) {
      const tok = typeof v === 'string' ? v : (v as { content?: unknown } | null)?.content;
      if (typeof tok === 'string' && !ids.has(tok)) missingSpecial.push(tok);
    }
  }
  return { ids, missingSpecial };
}

/** vocab_size of a model's config.json (mergekit's get_vocab_size), if it has one. */
async function configVocabSize(m: ModelFiles | undefined): Promise<number | undefined> {
  if (!m?.names.includes('config.json')) return undefined;
  const v = (await readJsonObject(m, 'config.json')).vocab_size;
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

/**
 * Whether mergekit's embedding re-mapping for tokenizer_source would leave every tensor as it is:
 * the output vocabulary's ids are 0 … V−1; each model's vocabulary (its own tokenizer, or the
 * base's when it has none, as mergekit assumes) gives every token the same id, below its
 * config's vocab_size; and every embedding matrix has V rows. Else a problem per model, saying what
 * differs.
 */
async function checkSameVocabulary(input: TokenizerInput, donor: string, sourceName: string, source: ModelFiles): Promise<{ problems: MergeLabError[]; vocabSize?: number }> {
  const problems: MergeLabError[] = [];
  const setting = `tokenizer_source: ${input.recipe.tokenizerSource}`;
  const unsupported = (code: 'RECIPE_INVALID' | 'SHAPE_MISMATCH', what: string) =>
    new MergeLabError(code, `${setting}: ${what}. mergekit would re-map the embeddings onto the new vocabulary, which merge-lab does not do yet; leave tokenizer_source out to merge the embeddings as stored (the base's tokenizer is then copied).`);
  const read = async (m: ModelFiles) => {
    try {
      return await readVocabulary(m);
    } catch (e) {
      if (!isMergeLabError(e)) throw e;
      problems.push(e);
      return undefined;
    }
  };

  // mergekit always loads the base's tokenizer (build_tokenizer) and drops its tokens at or above
  // the base config's vocab_size; the output is that tokenizer for "base".
  const donorFiles = input.files.get(donor);
  const base = donorFiles ? await read(donorFiles) : undefined;
  if (!base) {
    if (!donorFiles) problems.push(new MergeLabError('READ_FAILED', `${setting} needs the tokenizer of ${donor} (the base), which has no files beside its weights.`));
    return { problems };
  }
  const out = sourceName === donor ? base : await read(source);
  if (!out) return { problems };
  for (const [label, v] of [[donor, base] as const, [sourceName, out] as const]) {
    if (v.missingSpecial.length) problems.push(unsupported('RECIPE_INVALID', `the tokenizer of ${label} names special tokens it does not contain (${v.missingSpecial.slice(0, 3).join(', ')}), which transformers adds when loading it`));
  }
  const baseLimit = await configVocabSize(donorFiles);
  if (baseLimit !== undefined && [...base.ids.values()].some((id) => id >= baseLimit)) {
    problems.push(unsupported('RECIPE_INVALID', `the tokenizer of ${donor} has tokens with ids at or above its config's vocab_size ${baseLimit}, which mergekit drops`));
  }
  const V = out.ids.size;
  const seen = new Uint8Array(V);
  for (const id of out.ids.values()) {
    if (id < 0 || id >= V || seen[id]) {
      problems.push(unsupported('RECIPE_INVALID', `the ids of ${sourceName}'s tokenizer are not 0 … ${V - 1}, one per token`));
      break;
    }
    seen[id] = 1;
  }
  if (problems.length) return { problems };

  for (const name of referencedModels(input.recipe)) {
    const files = input.files.get(name);
    const hasTokenizer = files !== undefined && [...TOKENIZER_FILES, ...VOCABULARY_FILES].some((f) => files.names.includes(f));
    const own = name === donor ? base : hasTokenizer ? await read(files) : base;
    if (!own) continue;
    const limit = (await configVocabSize(files)) ?? own.ids.size;
    for (const [tok, id] of out.ids) {
      const theirs = own.ids.get(tok);
      if (theirs !== id || theirs >= limit) {
        const where = theirs === undefined ? 'does not have it' : theirs !== id ? `gives it id ${theirs}` : `gives it id ${theirs}, at or above its vocab_size ${limit}`;
        problems.push(unsupported('RECIPE_INVALID', `the output vocabulary gives ${JSON.stringify(tok)} id ${id} but ${name}'s tokenizer ${where}`));
        break;
      }
    }
    const shapes = input.checkpoints.get(name);
    for (const tensor of EMBEDDING_TENSORS) {
      const rows = shapes?.info(tensor)?.shape[0];
      if (rows !== undefined && rows !== V) {
        problems.push(unsupported('SHAPE_MISMATCH', `${name}'s ${tensor} has ${rows} rows but the tokenizer has ${V} tokens`));
        break;
      }
    }
  }
  return { problems, ...(problems.length ? {} : { vocabSize: V }) };
}
