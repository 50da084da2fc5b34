/**
 * A language model opened from its folder: config.json and the tokenizer read from the files
 * beside the weights (ModelFiles: dropped Blobs in the worker, a folder on disk in the CLI), the
 * weights from its checkpoint, and texts scored with it. The CLI's `eval` and the engine's `lm`
 * service both open models here, so they read and refuse the same things.
 */
import { MergeLabError } from '../errors.js';
import type { Checkpoint } from '../io/types.js';
import type { CancelToken } from '../merge/progress.js';
import type { ModelFiles } from '../output/model-files.js';
import { readLmConfig, type LmConfig } from './config.js';
import { disposeLmWeights, loadLmWeights, planLmWeights } from './load.js';
import { scoreTokens, textMetrics, type ScoreProgress, type TextMetrics, type WindowScore } from './score.js';
import { chooseTokenizer, parseTokenizerFile, type LmTokenizer } from './tokenizer.js';
import { prepareLmWeights, type PreparedLmWeights } from './weights.js';

/** A tokenizer given apart from the model's folder: a tokenizer.json's text, or 'bytes'. */
export type TokenizerChoice = 'bytes' | { readonly json: string; readonly config?: string; readonly where: string };

/** What a model is before its weights are read: enough to refuse it early. */
export interface LmDescription {
  readonly label: string;
  readonly config: LmConfig;
  readonly tokenizer: LmTokenizer;
}

async function text(files: ModelFiles, name: string): Promise<string> {
  return new TextDecoder().decode(await files.read(name));
}

/**
 * config.json and the tokenizer of the model whose folder `files` lists: its tokenizer.json (with
 * tokenizer_config.json), or `tokenizer` when given, or bytes for a vocabulary of 256.
 */
export async function describeLm(files: ModelFiles, tokenizer?: TokenizerChoice): Promise<LmDescription> {
  if (!files.names.includes('config.json')) {
    throw new MergeLabError('LM_CONFIG_INVALID', `${files.label} has no config.json; a language model is scored from its config.json beside the weights (the one transformers saved with it).`);
  }
  const where = `${files.label}/config.json`;
  let json: unknown;
  try {
    json = JSON.parse(await text(files, 'config.json'));
  } catch (e) {
    if (e instanceof MergeLabError) throw e;
    throw new MergeLabError('LM_CONFIG_INVALID', `${where} is not valid JSON (${(e as Error).message}); fix the file.`);
  }
  const config = readLmConfig(json, where);
  let chosen: LmTokenizer;
  if (tokenizer === 'bytes') chosen = chooseTokenizer(config, { bytes: true }, files.label);
  else if (tokenizer) {
    chosen = chooseTokenizer(config, { tokenizerJson: parseTokenizerFile(tokenizer.json, tokenizer.where), tokenizerConfig: tokenizer.config === undefined ? undefined : parseTokenizerFile(tokenizer.config, tokenizer.where.replace(/tokenizer\.json$/, 'tokenizer_config.json')), where: tokenizer.where }, files.label);
  } else if (files.names.includes('tokenizer.json')) {
    const tokWhere = `${files.label}/tokenizer.json`;
    const tokenizerConfig = files.names.includes('tokenizer_config.json') ? parseTokenizerFile(await text(files, 'tokenizer_config.json'), `${files.label}/tokenizer_config.json`) : undefined;
    chosen = chooseTokenizer(config, { tokenizerJson: parseTokenizerFile(await text(files, 'tokenizer.json'), tokWhere), tokenizerConfig, where: tokWhere }, files.label);
  } else chosen = chooseTokenizer(config, {}, files.label);
  return { label: files.label, config, tokenizer: chosen };
}

export interface TextScoreOptions {
  /** Tokens per window (default: defaultContext). */
  readonly context?: number;
  readonly maxTensorBytes?: number;
  readonly cancel?: CancelToken;
  readonly onProgress?: (p: ScoreProgress) => void;
  readonly perToken?: boolean;
}

export interface TextScore extends TextMetrics {
  readonly context: number;
  readonly windows: readonly WindowScore[];
  readonly perToken?: Float32Array;
}

/** The context used when none is given: the model's positions (or sliding window), at most 2,048. */
export function defaultContext(config: LmConfig): number {
  const window = config.family === 'llama' && config.slidingWindow !== null ? config.slidingWindow : Infinity;
  return Math.min(config.maxPositions, window, 2048);
}

/** An opened model, weights on the backend; dispose() when done. */
export interface LanguageModel extends LmDescription {
  /** Laid out for inference (weights.ts). */
  readonly weights: PreparedLmWeights;
  /** Parameters read (tied heads counted once). */
  readonly parameters: number;
  scoreText(text: string, options?: TextScoreOptions): Promise<TextScore>;
  dispose(): void;
}

/**
 * Reads the weights `description.config` needs from `checkpoint` (each checked by name and shape
 * before any is read) and answers the model. The checkpoint stays the caller's to close.
 */
export async function openLanguageModel(description: LmDescription, checkpoint: Checkpoint, options: { readonly cancel?: CancelToken } = {}): Promise<LanguageModel> {
  const { config, tokenizer, label } = description;
  planLmWeights(config, checkpoint);
  const stored = await loadLmWeights(config, checkpoint, options);
  let parameters = 0;
  for (const t of stored.values()) parameters += t.size;
  let weights: PreparedLmWeights;
  try {
    weights = prepareLmWeights(config, stored, label);
  } finally {
    disposeLmWeights(stored);
  }
  let disposed = false;
  return {
    label,
    config,
    tokenizer,
    weights,
    parameters,
    async scoreText(text, o = {}) {
      if (disposed) throw new MergeLabError('INTERNAL', `${label} was closed`);
      const context = o.context ?? defaultContext(config);
      const ids = tokenizer.encode(text);
      const score = await scoreTokens(config, weights, ids, { context, where: label, maxTensorBytes: o.maxTensorBytes, cancel: o.cancel, onProgress: o.onProgress, perToken: o.perToken });
      return { ...textMetrics(score, new TextEncoder().encode(text).length), context, windows: score.windows, ...(score.perToken ? { perToken: score.perToken } : {}) };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      disposeLmWeights(weights.tensors);
    },
  };
}
