/**
 * The LM demo's training step (scripts/lm-demo/trainer.ts) on a tiny model, on wasm as
 * `npm run demo:train:lm` runs it: the same seed gives the same float16 bytes, another seed other
 * bytes, and the loss goes down; the wasm product wrapper computes what tfjs' kernel does and is
 * removed afterwards.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { readLmConfig } from '../../src/engine/lm/index.js';
import { registerGradients } from '../../scripts/lm-demo/gradients.js';
import { ReplaySampler, WindowSampler, initialWeights, llamaConfigJson, textLoss, toFloat16, train, asTensors } from '../../scripts/lm-demo/trainer.js';
import { plainWasmMatMul } from '../../scripts/lm-demo/wasm-matmul.js';

const CONTEXT = 16;
const config = readLmConfig(llamaConfigJson({ hiddenSize: 16, intermediateSize: 24, layers: 2, heads: 2, kvHeads: 1, context: CONTEXT }), 'tiny config.json');
const text = new TextEncoder().encode('Toda persona tiene derecho a la vida, a la libertad y a la seguridad de su persona. '.repeat(8));
const validation = new TextEncoder().encode('Nadie estará sometido a esclavitud ni a servidumbre. ');
const schedule = { steps: 4, rows: 3, learningRate: 1e-2, warmup: 1, finalLearningRate: 1e-3, evaluateEvery: 2, patience: 5 };

async function run(seed: number): Promise<{ bytes: Uint8Array; log: readonly { validation: number }[]; start: number }> {
  const restore = plainWasmMatMul();
  try {
    const start = initialWeights(config, seed);
    const startTensors = asTensors(config, start);
    const startLoss = await textLoss(config, startTensors, validation, CONTEXT);
    tf.dispose([...startTensors.values()]);
    const result = await train(config, start, new WindowSampler([text], CONTEXT, seed + 1), schedule, (w) => textLoss(config, w, validation, CONTEXT));
    return { bytes: (await toFloat16(config, result.weights, 'tiny.safetensors')).bytes, log: result.log, start: startLoss };
  } finally {
    restore();
  }
}

describe('LM demo training', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
    await registerGradients();
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gives the same bytes for the same seed, other bytes for another, and lowers the loss', async () => {
    const before = tf.memory().numTensors;
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(Buffer.from(a.bytes).equals(Buffer.from(c.bytes))).toBe(false);
    expect(a.log.at(-1)!.validation).toBeLessThan(a.start);
    // Variables, optimizer slots and activations are all released.
    expect(tf.memory().numTensors).toBe(before);
  });

  it("wraps wasm's transposed products exactly and removes the wrapper", () => {
    const original = tf.getKernel('BatchMatMul', 'wasm');
    const a = tf.randomNormal([5, 7], 0, 1, 'float32', 1);
    const b = tf.randomNormal([3, 7], 0, 1, 'float32', 2);
    const plain = tf.matMul(a, b, false, true);
    const restore = plainWasmMatMul();
    expect(tf.getKernel('BatchMatMul', 'wasm')).not.toBe(original);
    const wrapped = tf.matMul(a, b, false, true);
    const wrappedA = tf.matMul(b, a, false, true);
    restore();
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(original);
    const gap = (x: tf.Tensor, y: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]!);
    expect(gap(plain, wrapped)).toBeLessThan(1e-5);
    expect(tf.tidy(() => gap(tf.transpose(plain), wrappedA))).toBeLessThan(1e-5);
    tf.dispose([a, b, plain, wrapped, wrappedA]);
  });

  it('replays the other domains in the last rows of each expert batch, the same rows for the same seed', () => {
    const own = new Uint8Array(64).fill(1);
    const others = [new Uint8Array(64).fill(2), new Uint8Array(64).fill(3), new Uint8Array(64).fill(4)];
    const rowsOf = (seed: number) => {
      const sampler = new ReplaySampler(own, others, 2, 8, seed);
      return Array.from({ length: 20 }, () => {
        const w = sampler.next(5);
        return Array.from({ length: 5 }, (_, r) => w[r * 9]!);
      });
    };
    const batches = rowsOf(3);
    for (const rows of batches) {
      expect(rows.slice(0, 3)).toEqual([1, 1, 1]);
      for (const r of rows.slice(3)) expect([2, 3, 4]).toContain(r);
    }
    // Every other domain is drawn, not only the first.
    expect(new Set(batches.flatMap((r) => r.slice(3)))).toEqual(new Set([2, 3, 4]));
    expect(rowsOf(3)).toEqual(batches);
  });
});
