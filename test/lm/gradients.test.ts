/** lmLogits is differentiable in every weight on cpu and wasm (wasm lacks gather's gradient kernel: embedding.ts). */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; training code imports them the same way.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lmLogits } from '../../src/engine/lm/forward.js';
import { disposeLmWeights } from '../../src/engine/lm/load.js';
import { startBackend, stopBackend } from '../backends/harness.js';
import { fixtureWeights } from './fixtures.js';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`gradients on ${backend}`, () => {
    if (backend !== 'cpu') {
      beforeAll(async () => void (await startBackend(backend)));
      afterAll(async () => stopBackend(backend));
    }
    for (const model of ['llama-tied', 'gpt2'] as const) {
      it(`${model}: every weight gets a finite, non-zero gradient, and no tensor is left over`, async () => {
        const { config, weights } = await fixtureWeights(model);
        const variables = new Map([...weights].map(([name, t]) => [name, tf.variable(t, true, `${model}/${backend}/${name}`)]));
        disposeLmWeights(weights);
        const before = tf.memory().numTensors;
        const tokens = tf.tensor2d([[1, 5, 9, 2, 7, 3]], undefined, 'int32');
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
          const logits = lmLogits(config, variables, tokens);
          return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.reshape(tokens, [1, 6]), config.vocabSize)), -1))) as tf.Scalar;
        }));
        expect(Number.isFinite(await value.data().then((d) => d[0]!))).toBe(true);
        for (const name of variables.keys()) {
          const g = grads[`${model}/${backend}/${name}`];
          expect(g, name).toBeDefined();
          const normTensor = tf.norm(g!);
          const norm = (await normTensor.data())[0]!;
          normTensor.dispose();
          expect(Number.isFinite(norm) && norm > 0, `${name}: |grad| = ${norm}`).toBe(true);
        }
        tf.dispose([value, tokens, ...Object.values(grads)]);
        expect(tf.memory().numTensors).toBe(before);
        for (const v of variables.values()) v.dispose();
      });
    }
  });
}
