/**
 * Our forward against transformers' (test/fixtures/lm/expected.json, made by
 * scripts/lm-reference-fixtures.py): logits at a few positions and every next-token loss, for
 * tied and untied Llama with grouped-query heads and non-default rope_theta, Mistral, Qwen2 with
 * q/k/v biases, GPT-2, a bfloat16 checkpoint. On cpu and wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lmLogits } from '../../src/engine/lm/forward.js';
import { disposeLmWeights } from '../../src/engine/lm/load.js';
import { prepareLmWeights } from '../../src/engine/lm/weights.js';
import { startBackend, stopBackend } from '../backends/harness.js';
import { expectation, fixtureWeights, MODELS } from './fixtures.js';

const TOLERANCE = 1e-4;

function worstAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Our logits at the expected positions and our per-token NLL, for the fixture's tokens. */
async function ours(model: (typeof MODELS)[number], prepared: boolean): Promise<{ logits: number[]; nll: number[] }> {
  const exp = await expectation(model);
  const { config, weights } = await fixtureWeights(model);
  const inference = prepared ? prepareLmWeights(config, weights) : undefined;
  try {
    const tokens = tf.tensor2d(exp.tokens, undefined, 'int32');
    const logits = lmLogits(config, inference ?? weights, tokens);
    const [picked, nll] = tf.tidy(() => {
      const [b, t, v] = logits.shape;
      const at = tf.concat(exp.logitPositions.map((p) => tf.slice(logits, [0, p, 0], [b, 1, v])), 1);
      const logp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [b, t - 1, v]));
      const targets = tf.oneHot(tf.slice(tokens, [0, 1], [b, t - 1]), v);
      return [at, tf.neg(tf.sum(tf.mul(logp, targets), -1))] as [tf.Tensor, tf.Tensor];
    });
    const out = { logits: Array.from(await picked.data()), nll: Array.from(await nll.data()) };
    tf.dispose([tokens, logits, picked, nll]);
    return out;
  } finally {
    disposeLmWeights(weights);
    if (inference) disposeLmWeights(inference.tensors);
  }
}

function suite(backend: 'cpu' | 'wasm'): void {
  describe(`lmLogits on ${backend} equals transformers`, () => {
    if (backend !== 'cpu') {
      beforeAll(async () => void (await startBackend(backend)));
      afterAll(async () => stopBackend(backend));
    }
    for (const model of MODELS) {
      it(`${model}, weights as stored and prepared for inference ([in, out])`, async () => {
        const exp = await expectation(model);
        for (const prepared of [false, true]) {
          const got = await ours(model, prepared);
          expect(worstAbs(got.logits, exp.logits.flat(2))).toBeLessThan(TOLERANCE);
          expect(worstAbs(got.nll, exp.nll.flat())).toBeLessThan(TOLERANCE);
        }
      });
    }
  });
}

suite('cpu');
suite('wasm');

describe('attention reading its operands once (a forward no gradient goes through: scoring) on wasm', () => {
  beforeAll(async () => void (await startBackend('wasm')));
  afterAll(async () => stopBackend('wasm'));
  it('gives the same logits bit for bit as slicing them per head, for every fixture, and leaves no tensor', async () => {
    for (const model of MODELS) {
      const exp = await expectation(model);
      const { config, weights } = await fixtureWeights(model);
      const prepared = prepareLmWeights(config, weights);
      const tokens = tf.tensor2d(exp.tokens, undefined, 'int32');
      const before = tf.memory().numTensors;
      const sliced = lmLogits(config, prepared, tokens);
      const once = lmLogits(config, prepared, tokens, { inference: true });
      expect(Array.from(await once.data()), model).toEqual(Array.from(await sliced.data()));
      tf.dispose([sliced, once]);
      expect(tf.memory().numTensors, model).toBe(before);
      tokens.dispose();
      disposeLmWeights(weights);
      disposeLmWeights(prepared.tensors);
    }
  });
});

describe('attention in query blocks', () => {
  it('gives the logits of one block (the bounded-buffer path score.ts takes on long windows)', async () => {
    const exp = await expectation('llama-untied');
    const { config, weights } = await fixtureWeights('llama-untied');
    const tokens = tf.tensor2d(exp.tokens, undefined, 'int32');
    const whole = lmLogits(config, weights, tokens);
    const blocked = lmLogits(config, weights, tokens, { queryBlock: 5 });
    expect(worstAbs(await blocked.data(), await whole.data())).toBeLessThan(1e-6);
    tf.dispose([tokens, whole, blocked]);
    disposeLmWeights(weights);
  });
});

describe('GPT-2 names', () => {
  it('reads bare names (GPT2Model, the original uploads) as the transformer.-prefixed ones', async () => {
    const exp = await expectation('gpt2');
    const { config, weights } = await fixtureWeights('gpt2');
    const bare = new Map([...weights].map(([name, t]) => [name.replace(/^transformer\./, ''), t]));
    expect([...bare.keys()].some((n) => n.startsWith('transformer.'))).toBe(false);
    const tokens = tf.tensor2d(exp.tokens, undefined, 'int32');
    const a = lmLogits(config, weights, tokens);
    const b = lmLogits(config, bare, tokens);
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([tokens, a, b]);
    disposeLmWeights(weights);
  });
});
