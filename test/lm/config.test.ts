/** readLmConfig over the fixtures' config.json files and a catalogue of configs it must refuse, each with the field named. */
import { describe, expect, it } from 'vitest';
import { isMergeLabError, type ErrorCode } from '../../src/engine/errors.js';
import { checkLmSequence, lmTensorShapes, readLmConfig } from '../../src/engine/lm/config.js';
import { fixtureConfig } from './fixtures.js';

const LLAMA = { model_type: 'llama', vocab_size: 10, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 32 };
const GPT2 = { model_type: 'gpt2', vocab_size: 10, n_embd: 8, n_layer: 1, n_head: 2, n_positions: 32 };

function refusal(json: unknown): { code: ErrorCode; message: string } {
  try {
    readLmConfig(json, 'models/x/config.json');
  } catch (e) {
    if (isMergeLabError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('accepted');
}

describe('readLmConfig', () => {
  it('reads the transformers-saved fixtures (rope_parameters, head_dim, biases, tying, GPT-2 defaults)', async () => {
    expect(await fixtureConfig('llama-tied')).toMatchObject({ family: 'llama', numHeads: 4, numKvHeads: 2, headDim: 8, ropeTheta: 50000, tieWordEmbeddings: true, qkvBias: false, slidingWindow: null });
    expect(await fixtureConfig('llama-untied')).toMatchObject({ headDim: 12, ropeTheta: 1000, qkvBias: true, oBias: true, mlpBias: true, tieWordEmbeddings: false });
    expect(await fixtureConfig('qwen2')).toMatchObject({ modelType: 'qwen2', qkvBias: true, oBias: false, mlpBias: false, slidingWindow: null, tieWordEmbeddings: true });
    expect(await fixtureConfig('mistral')).toMatchObject({ numKvHeads: 1, slidingWindow: 64, qkvBias: false });
    expect(await fixtureConfig('gpt2')).toMatchObject({ family: 'gpt2', intermediateSize: 128, headDim: 8, maxPositions: 64, activation: 'gelu_new', tieWordEmbeddings: true });
  });

  it('reads the older top-level rope_theta and rope_scaling: null', () => {
    expect(readLmConfig({ ...LLAMA, rope_theta: 123, rope_scaling: null }, 'c')).toMatchObject({ ropeTheta: 123, numKvHeads: 2, headDim: 4, normEps: 1e-6 });
  });

  const cases: [string, unknown, ErrorCode, string][] = [
    ['not an object', [1], 'LM_CONFIG_INVALID', 'JSON object'],
    ['no model_type', { ...LLAMA, model_type: undefined }, 'LM_CONFIG_INVALID', '"model_type"'],
    ['another model_type', { ...LLAMA, model_type: 'bert' }, 'LM_UNSUPPORTED', '"bert"'],
    ['a missing size', { ...LLAMA, hidden_size: undefined }, 'LM_CONFIG_INVALID', '"hidden_size" is missing'],
    ['a fractional size', { ...LLAMA, num_hidden_layers: 1.5 }, 'LM_CONFIG_INVALID', '"num_hidden_layers" must be a positive integer'],
    ['kv heads not dividing heads', { ...LLAMA, num_key_value_heads: 3, num_attention_heads: 4 }, 'LM_CONFIG_INVALID', '"num_key_value_heads"'],
    ['heads not dividing hidden', { ...LLAMA, num_attention_heads: 3 }, 'LM_CONFIG_INVALID', '"num_attention_heads"'],
    ['an odd head_dim', { ...LLAMA, head_dim: 3 }, 'LM_CONFIG_INVALID', '"head_dim"'],
    ['llama3 rope scaling', { ...LLAMA, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'LM_UNSUPPORTED', '"rope_scaling"'],
    ['yarn in rope_parameters', { ...LLAMA, rope_parameters: { rope_type: 'yarn', rope_theta: 1e6 } }, 'LM_UNSUPPORTED', '"rope_parameters.rope_type"'],
    ['another activation', { ...LLAMA, hidden_act: 'gelu' }, 'LM_UNSUPPORTED', '"hidden_act"'],
    ['a non-boolean tie', { ...LLAMA, tie_word_embeddings: 'yes' }, 'LM_CONFIG_INVALID', '"tie_word_embeddings"'],
    ['GPT-2 with relu', { ...GPT2, activation_function: 'relu' }, 'LM_UNSUPPORTED', '"activation_function"'],
    ['GPT-2 without n_positions', { ...GPT2, n_positions: undefined }, 'LM_CONFIG_INVALID', '"n_positions" is missing'],
  ];
  for (const [what, json, code, mention] of cases) {
    it(`refuses ${what} with ${code}, naming the file and field`, () => {
      const got = refusal(json);
      expect(got.code).toBe(code);
      expect(got.message).toContain(mention);
      if (typeof json === 'object' && !Array.isArray(json)) expect(got.message).toContain('models/x/config.json');
    });
  }

  it('refuses a context past the positions or the sliding window', async () => {
    const mistral = await fixtureConfig('mistral');
    expect(() => checkLmSequence(mistral, 64, 'm')).not.toThrow();
    expect(() => checkLmSequence(mistral, 65, 'm')).toThrow(/sliding_window \(64\)/);
    expect(() => checkLmSequence(mistral, 129, 'm')).toThrow(/max_position_embeddings \(128\)/);
    expect(() => checkLmSequence(readLmConfig(GPT2, 'g'), 33, 'g')).toThrow(/n_positions \(32\)/);
  });
});

describe('lmTensorShapes', () => {
  it('lists what transformers saved, name for name and shape for shape', async () => {
    const { openCheckpointPath } = await import('../../src/engine/io/node-checkpoint.js');
    const { LM_FIXTURES } = await import('./fixtures.js');
    for (const model of ['llama-tied', 'llama-untied', 'mistral', 'qwen2', 'gpt2'] as const) {
      const checkpoint = await openCheckpointPath(`${LM_FIXTURES}/${model}`);
      const saved = new Map(checkpoint.tensorNames.map((n) => [n, [...checkpoint.info(n)!.shape]]));
      await checkpoint.close();
      expect(saved, model).toEqual(lmTensorShapes(await fixtureConfig(model)));
    }
  });
});
