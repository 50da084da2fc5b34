/**
 * Windowed scoring against transformers' windowed losses of the same text (expected.json's
 * "text"), whole and cut into small blocks (tiny maxTensorBytes: several batches, query blocks,
 * head rows); memory flat over repeated runs; cancel and progress.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disposeLmWeights } from '../../src/engine/lm/load.js';
import { planScore, scoreSequences, scoreTokens, textMetrics, type ScoreProgress } from '../../src/engine/lm/score.js';
import { byteTokenizer, jsonTokenizer } from '../../src/engine/lm/tokenizer.js';
import type { LmConfig } from '../../src/engine/lm/config.js';
import { expectation, fixtureWeights, LM_FIXTURES, SAMPLE_TEXT } from './fixtures.js';

let text: string;
let tied: { config: LmConfig; weights: Map<string, tf.Tensor> };
let tiedIds: number[];

beforeAll(async () => {
  text = await readFile(SAMPLE_TEXT, 'utf8');
  tied = await fixtureWeights('llama-tied');
  const dir = path.join(LM_FIXTURES, 'llama-tied');
  const tokenizer = jsonTokenizer(JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8')), 'tokenizer.json');
  tiedIds = tokenizer.encode(text);
});
afterAll(() => disposeLmWeights(tied.weights));

describe('scoreTokens', () => {
  it("equals transformers' windowed loss of the sample text, window by window, however the work is cut", async () => {
    const exp = (await expectation('llama-tied')).text!;
    expect(tiedIds.length - 1).toBe(exp.tokens);
    // 2 KiB per tensor: one window per batch, query blocks of a few rows, 1 head row at a time.
    for (const maxTensorBytes of [undefined, 2048]) {
      const score = await scoreTokens(tied.config, tied.weights, tiedIds, { context: exp.context, maxTensorBytes });
      expect(score.tokens).toBe(exp.tokens);
      expect(score.windows.map((w) => w.tokens)).toEqual(exp.windows.map((w) => w.tokens));
      score.windows.forEach((w, i) => expect(Math.abs(w.nll - exp.windows[i]!.nll)).toBeLessThan(1e-4 * Math.max(1, exp.windows[i]!.nll)));
      expect(Math.abs(score.nll - exp.nll) / exp.nll).toBeLessThan(1e-5);
    }
    const cut = planScore(tied.config, exp.context, { maxTensorBytes: 2048 });
    expect(cut.batch).toBe(1);
    expect(cut.queryBlock).toBeLessThan(exp.context);
    expect(cut.headRows).toBe(1);
  });

  it('scores bytes with a byte model (llama-bytes, the sample as UTF-8)', async () => {
    const exp = (await expectation('llama-bytes')).text!;
    const { config, weights } = await fixtureWeights('llama-bytes');
    const ids = byteTokenizer().encode(text);
    const score = await scoreTokens(config, weights, ids, { context: exp.context });
    disposeLmWeights(weights);
    expect(score.tokens).toBe(exp.tokens);
    expect(Math.abs(score.nll - exp.nll) / exp.nll).toBeLessThan(1e-5);
    const m = textMetrics(score, exp.bytes);
    expect(m.bitsPerByte).toBeCloseTo(exp.nll / Math.LN2 / exp.bytes, 6);
    expect(m.perplexity).toBeCloseTo(Math.exp(exp.nll / exp.tokens), 3);
  });

  it('per-token losses add up to the windows; memory stays flat over repeated runs', async () => {
    const first = await scoreTokens(tied.config, tied.weights, tiedIds, { context: 16, perToken: true });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await scoreTokens(tied.config, tied.weights, tiedIds, { context: 16, maxTensorBytes: 4096 });
    expect(tf.memory().numTensors).toBe(before);
    expect(first.perToken!.length).toBe(first.tokens);
    expect(first.perToken!.reduce((a, b) => a + b, 0)).toBeCloseTo(first.nll, 3);
  });

  it('scores several sequences each as scoreTokens does, their windows of one length batched together', async () => {
    const context = 16;
    // Pieces of other lengths: whole windows, a short last window, one shorter than any window, one token (nothing to predict).
    const pieces = [tiedIds.slice(0, 40), tiedIds.slice(10, 27), tiedIds.slice(30, 36), tiedIds.slice(50, 83), tiedIds.slice(5, 6)];
    const seen: ScoreProgress[] = [];
    const before = tf.memory().numTensors;
    const together = await scoreSequences(tied.config, tied.weights, pieces, { context, perToken: true, onProgress: (p) => void seen.push(p) });
    expect(tf.memory().numTensors).toBe(before);
    for (const [i, p] of pieces.entries()) {
      const alone = await scoreTokens(tied.config, tied.weights, p, { context, perToken: true });
      expect(together[i]!.tokens, `piece ${i}`).toBe(alone.tokens);
      expect(together[i]!.windows.map((w) => [w.start, w.tokens])).toEqual(alone.windows.map((w) => [w.start, w.tokens]));
      expect(together[i]!.nll, `piece ${i}`).toBeCloseTo(alone.nll, 4);
      together[i]!.perToken!.forEach((l, t) => expect(l, `piece ${i} token ${t}`).toBeCloseTo(alone.perToken![t]!, 4));
    }
    // The five windows of 16 predictions in one pass, the window of 7 and the one of 5 in one each.
    expect(seen.length).toBe(3);
    expect(seen.at(-1)).toEqual({ windowsDone: 7, windows: 7, tokensDone: 39 + 16 + 5 + 32, tokens: 39 + 16 + 5 + 32 });
  });

  it('reports progress per batch and stops when cancelled, leaving nothing behind', async () => {
    const seen: ScoreProgress[] = [];
    await scoreTokens(tied.config, tied.weights, tiedIds, { context: 8, maxBatch: 2, onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toMatchObject({ windowsDone: seen.at(-1)!.windows, tokensDone: tiedIds.length - 1 });
    expect(seen.length).toBe(Math.ceil(seen.at(-1)!.windows / 2));
    const before = tf.memory().numTensors;
    const token = { cancelled: false };
    const run = scoreTokens(tied.config, tied.weights, tiedIds, { context: 8, maxBatch: 1, cancel: token, onProgress: () => (token.cancelled = true) });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('pauses after every layer when given a pause: the same numbers, and a cancel seen at a pause stops the pass there, leaving nothing behind', async () => {
    const plain = await scoreTokens(tied.config, tied.weights, tiedIds, { context: 8, maxBatch: 4, perToken: true });
    let pauses = 0;
    const paused = await scoreTokens(tied.config, tied.weights, tiedIds, { context: 8, maxBatch: 4, perToken: true, pause: async () => void pauses++ });
    expect(paused.perToken).toEqual(plain.perToken);
    expect(paused.nll).toBe(plain.nll);
    // After each layer and after each batch.
    const batches = Math.ceil(Math.ceil((tiedIds.length - 1) / 8) / 4);
    expect(pauses).toBe(batches * (tied.config.numLayers + 1));
    const before = tf.memory().numTensors;
    const token = { cancelled: false };
    let seen = 0;
    // Cancelled at the second layer's pause of the first batch: no batch finishes.
    const run = scoreTokens(tied.config, tied.weights, tiedIds, { context: 8, maxBatch: 4, cancel: token, onProgress: () => expect.unreachable('no batch should finish'), pause: async () => void (++seen === 2 && (token.cancelled = true)) });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses ids outside the vocabulary and contexts the model cannot take', async () => {
    await expect(scoreTokens(tied.config, tied.weights, [1, 2, 320], { context: 4, where: 'llama-tied' })).rejects.toThrow(/token 2 has id 320, outside the model's vocabulary \(vocab_size 320\)/);
    await expect(scoreTokens(tied.config, tied.weights, Array(200).fill(1), { context: 129 })).rejects.toMatchObject({ code: 'PARAMETER_OUT_OF_RANGE' });
    await expect(scoreTokens(tied.config, tied.weights, [1, 2], { context: 0 })).rejects.toMatchObject({ code: 'PARAMETER_INVALID' });
    expect(await scoreTokens(tied.config, tied.weights, [5], { context: 4 })).toMatchObject({ tokens: 0, nll: 0 });
  });
});
