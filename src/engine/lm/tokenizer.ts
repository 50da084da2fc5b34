/**
 * Text to token ids for scoring: a model's own `tokenizer.json` through Hugging Face's
 * @huggingface/tokenizers (the pure-JS port transformers.js uses, so ids match transformers'), or
 * byte-level (each UTF-8 byte is its own id, 0–255) for models trained on bytes, like the LM demo.
 * Scoring adds no special tokens: the text is scored as it is.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { MergeLabError } from '../errors.js';
import type { LmConfig } from './config.js';

export interface LmTokenizer {
  /** 'bytes', or the tokenizer.json it was read from. */
  readonly name: string;
  encode(text: string): number[];
}

/** UTF-8 bytes as ids 0–255. */
export function byteTokenizer(): LmTokenizer {
  const encoder = new TextEncoder();
  return { name: 'bytes', encode: (text) => Array.from(encoder.encode(text)) };
}

/** A tokenizer from a parsed tokenizer.json (and tokenizer_config.json, when there is one); `where` names the file. */
export function jsonTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown, where: string): LmTokenizer {
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null || typeof (tokenizerJson as { model?: unknown }).model !== 'object') {
    throw new MergeLabError('TOKENIZER_INVALID', `${where} is not a tokenizer.json (no "model" object); give the tokenizer.json saved with the model.`);
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, (tokenizerConfig ?? {}) as object);
  } catch (e) {
    throw new MergeLabError('TOKENIZER_INVALID', `${where} could not be read as a tokenizer (${(e as Error).message}); give the tokenizer.json saved with the model.`);
  }
  return { name: where, encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids };
}

/** Parses a tokenizer file's text; TOKENIZER_INVALID naming it when it is not JSON. */
export function parseTokenizerFile(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new MergeLabError('TOKENIZER_INVALID', `${where} is not valid JSON (${(e as Error).message}); give the tokenizer.json saved with the model.`);
  }
}

export interface TokenizerFiles {
  /** Parsed tokenizer.json, when the model has one. */
  readonly tokenizerJson?: unknown;
  readonly tokenizerConfig?: unknown;
  /** Names the tokenizer.json in errors. */
  readonly where?: string;
  /** Score bytes even when a tokenizer.json is there. */
  readonly bytes?: boolean;
}

/**
 * The tokenizer a model is scored with: byte-level when asked, else its tokenizer.json, else
 * byte-level when the vocabulary is 256 (a byte model); otherwise TOKENIZER_INVALID naming `model`.
 */
export function chooseTokenizer(config: LmConfig, files: TokenizerFiles, model: string): LmTokenizer {
  if (files.bytes) {
    if (config.vocabSize < 256) throw new MergeLabError('TOKENIZER_INVALID', `${model}: byte-level scoring needs a vocabulary of at least 256 ids (vocab_size is ${config.vocabSize}).`);
    return byteTokenizer();
  }
  if (files.tokenizerJson !== undefined) return jsonTokenizer(files.tokenizerJson, files.tokenizerConfig, files.where ?? 'tokenizer.json');
  if (config.vocabSize === 256) return byteTokenizer();
  throw new MergeLabError('TOKENIZER_INVALID', `${model} has no tokenizer.json and its vocab_size (${config.vocabSize}) is not a byte-level 256; put the model's tokenizer.json beside its config.json or name one (--tokenizer <path>).`);
}
