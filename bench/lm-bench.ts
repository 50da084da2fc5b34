/**
 * Scoring time of a 135M-parameter Llama-shaped language model (SmolLM-135M's config.json, random
 * weights made here, nothing downloaded): `windows` × `context` tokens teacher-forced through
 * src/engine/lm/score.ts, twice, with tfjs' tensor count before and after each run (it must not
 * grow) and the largest tensor the plan allows.
 *
 *   npx tsx bench/lm-bench.ts [--backend wasm|cpu|webgpu] [--windows 4] [--context 2048] [--max-tensor-mib 64] [--runs 2]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend, parseBackend } from '../src/cli/node-backend.js';
import { currentBackend } from '../src/engine/backend.js';
import { lmTensorShapes, readLmConfig } from '../src/engine/lm/config.js';
import { planScore, scoreTokens } from '../src/engine/lm/score.js';
import { prepareLmWeights } from '../src/engine/lm/weights.js';

/** HuggingFaceTB/SmolLM-135M's config.json, the fields the forward reads. */
const SMOLLM_135M = {
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
};

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    windows: { type: 'string', default: '4' },
    context: { type: 'string', default: '2048' },
    'max-tensor-mib': { type: 'string' },
    runs: { type: 'string', default: '2' },
  },
});

const backend = await initNodeBackend(parseBackend(values.backend));
const config = readLmConfig(SMOLLM_135M, 'SmolLM-135M config');
const windows = Number(values.windows);
const context = Number(values.context);
const maxTensorBytes = values['max-tensor-mib'] === undefined ? (currentBackend()?.adapter ? Math.min(64 << 20, currentBackend()!.adapter!.maxStorageBufferBindingSize / 2) : undefined) : Number(values['max-tensor-mib']) * 2 ** 20;

const t0 = performance.now();
const weights = new Map<string, tf.Tensor>();
let parameters = 0;
let seed = 1;
for (const [name, shape] of lmTensorShapes(config)) {
  // Norm gains at 1, everything else N(0, 0.02) as transformers initialises Llama.
  weights.set(name, shape.length === 1 ? tf.ones(shape) : tf.randomNormal(shape, 0, 0.02, 'float32', seed++));
  parameters += shape.reduce((a, b) => a * b, 1);
}
// As openLanguageModel holds a model: projections laid out [in, out] once (weights.ts).
const prepared = prepareLmWeights(config, weights);
for (const t of weights.values()) t.dispose();
await prepared.tensors.get('model.norm.weight')!.data();
console.log(`${config.modelType} ${parameters.toLocaleString('en-US')} parameters (random), backend ${backend}${currentBackend()?.adapter ? ` (${currentBackend()!.adapter!.description || currentBackend()!.adapter!.vendor}, maxStorageBufferBindingSize ${currentBackend()!.adapter!.maxStorageBufferBindingSize})` : ''}; weights made in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log('plan:', planScore(config, context, { maxTensorBytes }));

const ids = Array.from({ length: windows * context + 1 }, (_, i) => (i * 7919 + 13) % config.vocabSize);
for (let run = 0; run < Number(values.runs); run++) {
  const before = tf.memory().numTensors;
  const started = performance.now();
  const score = await scoreTokens(config, prepared, ids, { context, maxTensorBytes });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `run ${run + 1}: ${score.tokens} tokens in ${score.windows.length} windows of ${context}: ${seconds.toFixed(1)} s (${(score.tokens / seconds).toFixed(0)} tokens/s), mean loss ${(score.nll / score.tokens).toFixed(4)} (ln vocab ${Math.log(config.vocabSize).toFixed(4)}), tensors ${before} → ${tf.memory().numTensors}`,
  );
}
for (const t of prepared.tensors.values()) t.dispose();
