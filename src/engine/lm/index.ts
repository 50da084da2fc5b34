/** Transformer language models: config.json, the forward pass, weights, scoring, tokenizers. */
export { readLmConfig, lmTensorShapes, checkLmSequence, LM_MODEL_TYPES, type LmConfig, type LlamaLmConfig, type Gpt2LmConfig } from './config.js';
export { lmLogits, lmHidden, lmHead, type LmForwardOptions, type LmWeights, type AnyLmWeights, type PreparedLmWeights } from './forward.js';
export { prepareLmWeights } from './weights.js';
export { loadLmWeights, disposeLmWeights, planLmWeights } from './load.js';
export { scoreTokens, planScore, textMetrics, DEFAULT_MAX_TENSOR_BYTES, type ScoreOptions, type ScoreResult, type ScoreProgress, type WindowScore, type TextMetrics } from './score.js';
export { byteTokenizer, jsonTokenizer, chooseTokenizer, parseTokenizerFile, type LmTokenizer, type TokenizerFiles } from './tokenizer.js';
export { describeLm, openLanguageModel, defaultContext, type LanguageModel, type LmDescription, type TextScore, type TextScoreOptions, type TokenizerChoice } from './model.js';
