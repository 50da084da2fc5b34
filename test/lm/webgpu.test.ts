/**
 * The LM forward and windowed scoring on WebGPU through Dawn (test/backends/harness.ts), against
 * transformers' numbers, every op on the GPU (WEBGPU_CPU_FORWARD off). Skipped, with the reason in
 * the suite's title and printed, where Dawn finds no adapter.
 */
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lmLogits } from '../../src/engine/lm/forward.js';
import { disposeLmWeights } from '../../src/engine/lm/load.js';
import { scoreTokens } from '../../src/engine/lm/score.js';
import { byteTokenizer } from '../../src/engine/lm/tokenizer.js';
import { prepareLmWeights } from '../../src/engine/lm/weights.js';
import { probeBackend, startBackend, stopBackend } from '../backends/harness.js';
import { expectation, fixtureWeights, SAMPLE_TEXT } from './fixtures.js';

const probe = await probeBackend('webgpu');
if (!probe.ok) {
  console.warn(`[lm webgpu] SKIPPED: ${probe.reason}`);
  describe.skip(`lm on webgpu — skipped: ${probe.reason}`, () => {
    it('needs an adapter', () => {});
  });
} else {
  describe('lm on webgpu equals transformers', () => {
    beforeAll(async () => void (await startBackend('webgpu')));
    afterAll(async () => stopBackend('webgpu'));

    // Two models cover every op (biases, head_dim ≠ hidden / heads, GQA, RoPE; LayerNorm, gelu_new,
    // Conv1D); the cpu and wasm suites run all of them. Shader compilation makes the first one slow.
    for (const model of ['llama-untied', 'gpt2'] as const) {
      it(`${model}: logits and per-token losses within 1e-4`, async () => {
        const exp = await expectation(model);
        const { config, weights } = await fixtureWeights(model);
        const prepared = prepareLmWeights(config, weights);
        const tokens = tf.tensor2d(exp.tokens, undefined, 'int32');
        for (const w of [weights, prepared]) {
          const logits = lmLogits(config, w, tokens);
          const values = await logits.data();
          const [, t, v] = logits.shape;
          let worst = 0;
          exp.logitPositions.forEach((p, i) => {
            for (let b = 0; b < 2; b++) for (let j = 0; j < v; j++) worst = Math.max(worst, Math.abs(values[(b * t + p) * v + j]! - exp.logits[b]![i]![j]!));
          });
          expect(worst).toBeLessThan(1e-4);
          logits.dispose();
        }
        tokens.dispose();
        disposeLmWeights(weights);
        disposeLmWeights(prepared.tensors);
      });
    }

    it('scores the sample text in blocks (tiny buffers) to transformers’ windowed loss', async () => {
      const exp = (await expectation('llama-bytes')).text!;
      const { config, weights } = await fixtureWeights('llama-bytes');
      const ids = byteTokenizer().encode(await readFile(SAMPLE_TEXT, 'utf8'));
      const before = tf.memory().numTensors;
      const score = await scoreTokens(config, weights, ids, { context: exp.context, maxTensorBytes: 4096 });
      expect(tf.memory().numTensors).toBe(before);
      expect(Math.abs(score.nll - exp.nll) / exp.nll).toBeLessThan(1e-5);
      disposeLmWeights(weights);
    });
  });
}
