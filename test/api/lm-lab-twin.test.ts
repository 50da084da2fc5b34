/**
 * Twin-Merging in the lm-lab service (services/lm-lab-twin.ts): the byte-level tiny Llama of
 * test/fixtures/lm/llama-bytes as the base and two experts made from it by seeded noise. With
 * oracle routing at full rank each window is its own expert's, so the merge scores as the expert
 * and the gain is 1; the answer says how each window was routed (rows of weights summing to 1,
 * one-hot under the oracle for windows with an expert, the router's for those without); a probe's
 * routing is its full answer's; a request without a training text for an expert is refused naming
 * it; the router trains on at most LM_TWIN_TRAINING_WINDOWS windows of each text by default, a
 * quarter held out; no tensor is left.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EngineApi } from '../../src/engine/api/engine-api.js';
import type { LmLabTwinAnswer, LmLabTwinRequest as LmLabRequest } from '../../src/engine/api/lm-lab-twin-api.js';
import { LM_TWIN_TRAINING_WINDOWS } from '../../src/engine/api/services/lm-lab-twin.js';
import { byteTokenizer } from '../../src/engine/lm/tokenizer.js';
import { contextWindows } from '../../src/engine/routed/lm-twin.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { CODE, PROSE, engineWithNoisyExperts } from '../lm/noisy-experts.js';

let engine: EngineApi;
beforeAll(async () => {
  engine = await engineWithNoisyExperts();
});

const A = PROSE;
const B = CODE;
const shared: Recipe = { mergeMethod: 'task_arithmetic', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'b', parameters: { weight: 1 } }], parameters: { lambda: 0.5 } };
const windowsOf = (n: number, size: number) => Array.from({ length: n }, (_, k) => [k * size, k * size + size] as const);
const request = (twin: Partial<NonNullable<LmLabRequest['twin']>>, mode: LmLabRequest['mode'] = 'full'): LmLabRequest => ({
  recipe: shared,
  base: 'base',
  experts: ['a', 'b'],
  tasks: [
    { name: 'a', text: A.slice(5), expert: 'a', windows: windowsOf(3, 30) },
    { name: 'b', text: B.slice(3), expert: 'b', windows: windowsOf(3, 30) },
    { name: 'mixed', text: A.slice(0, 15) + B.slice(0, 15), windows: [[0, 30]] },
  ],
  mode,
  context: 32,
  probeTokens: 10,
  twin: { rank: 32, training: [{ expert: 'a', text: A }, { expert: 'b', text: B }], windowsPerExpert: 8, router: { architecture: 'small', seed: 0 }, ...twin },
});

describe('lmLab.evaluate with Twin-Merging', () => {
  it('oracle routing at full rank scores each domain as its expert; the answer gives every window its weights', async () => {
    const before = tf.memory().numTensors;
    const a = (await engine.lmLab.evaluate(request({ oracle: true }))) as LmLabTwinAnswer;
    for (const [i, t] of a.tasks.slice(0, 2).entries()) {
      expect(t.merged.loss).toBeCloseTo(t.experts[i]!.loss, 4);
      expect(t.gain).toBeCloseTo(1, 3);
    }
    const routing = a.routing!;
    expect(routing.experts).toEqual(['a', 'b']);
    expect(routing.tasks.map((t) => [t.name, t.weights.length])).toEqual([['a', 3], ['b', 3], ['mixed', 1]]);
    expect(routing.tasks[0]!.weights.every((w) => w[0] === 1 && w[1] === 0)).toBe(true);
    expect(routing.tasks[1]!.weights.every((w) => w[0] === 0 && w[1] === 1)).toBe(true);
    const mixed = routing.tasks[2]!.weights[0]!;
    expect(mixed[0]! + mixed[1]!).toBeCloseTo(1, 5);
    expect(routing.router.samples.training + routing.router.samples.heldOut).toBe(16);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("the router's weights sum to 1 on every window; a probe is routed as its full answer", async () => {
    const before = tf.memory().numTensors;
    const full = (await engine.lmLab.evaluate(request({}))) as LmLabTwinAnswer;
    const probe = (await engine.lmLab.evaluate(request({}, 'probe'))) as LmLabTwinAnswer;
    for (const t of full.routing!.tasks) for (const w of t.weights) expect(w.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
    expect(probe.routing!.tasks[0]!.weights[0]).toEqual(full.routing!.tasks[0]!.weights[0]);
    expect(probe.tasks[0]!.tokens).toBe(10);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trains the router on at most LM_TWIN_TRAINING_WINDOWS windows of each training text by default, a quarter held out', async () => {
    const { windowsPerExpert: _n, ...twin } = request({}).twin!;
    const asked: LmLabRequest = { ...request({}), twin: { ...twin, training: [{ expert: 'a', text: A.repeat(4) }, { expert: 'b', text: B }] } };
    const a = (await engine.lmLab.evaluate(asked)) as LmLabTwinAnswer;
    const windows = [contextWindows(byteTokenizer().encode(A.repeat(4)), 32).length, contextWindows(byteTokenizer().encode(B), 32).length];
    expect(windows[0]).toBeGreaterThan(LM_TWIN_TRAINING_WINDOWS);
    const { training, heldOut } = a.routing!.router.samples;
    expect(training + heldOut).toBe(LM_TWIN_TRAINING_WINDOWS + windows[1]!);
    expect(heldOut).toBe(Math.floor(LM_TWIN_TRAINING_WINDOWS / 4) + Math.floor(windows[1]! / 4));
  });

  it('refuses a router without a training text for an expert, naming it', async () => {
    await expect(engine.lmLab.evaluate(request({ training: [{ expert: 'a', text: A }] }))).rejects.toThrow(/"b"/);
  });
});
