/** Transformer language models: config.json, the forward pass, scoring. */
export { readLmConfig, lmTensorShapes, checkLmSequence, LM_MODEL_TYPES, type LmConfig, type LlamaLmConfig, type Gpt2LmConfig } from './config.js';
export { lmLogits, lmHidden, lmHead, type LmForwardOptions, type LmWeights } from './forward.js';
