/**
 * Channel Merging in the lm-lab service (services/lm-lab-channel.ts) on the byte-level tiny Llama of
 * test/fixtures/lm/llama-bytes with two experts made from it by seeded noise: at K = T with oracle
 * lookup every window is its own expert's (gain 1); with the router each window is scored with the
 * looked-up rows of its largest weight's task, which at K = T is that expert itself (checked
 * window by window against the experts' own scores); at K = 1 with average both tasks look the same
 * rows up (one merged model); the answer gives every window the router's weights; a missing training
 * text is refused naming the expert; no tensor is left.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EngineApi } from '../../src/engine/api/engine-api.js';
import type { LmLabChannelRequest } from '../../src/engine/api/lm-lab-channel-api.js';
import type { LmLabTwinAnswer } from '../../src/engine/api/lm-lab-twin-api.js';
import { CODE, PROSE, engineWithNoisyExperts } from '../lm/noisy-experts.js';

let engine: EngineApi;
beforeAll(async () => {
  engine = await engineWithNoisyExperts();
});

const A = PROSE;
const B = CODE;
const windowsOf = (n: number, size: number) => Array.from({ length: n }, (_, k) => [k * size, k * size + size] as const);
const request = (channel: Partial<NonNullable<LmLabChannelRequest['channel']>>, tasks?: LmLabChannelRequest['tasks']): LmLabChannelRequest => ({
  recipe: { mergeMethod: 'linear', models: [{ model: 'a', parameters: { weight: 1 } }, { model: 'b', parameters: { weight: 1 } }] },
  base: 'base',
  experts: ['a', 'b'],
  tasks: tasks ?? [
    { name: 'a', text: A.slice(5), expert: 'a', windows: windowsOf(3, 30) },
    { name: 'b', text: B.slice(3), expert: 'b', windows: windowsOf(3, 30) },
    { name: 'mixed', text: A.slice(0, 15) + B.slice(0, 15), windows: [[0, 30]] },
  ],
  mode: 'full',
  context: 32,
  probeTokens: 10,
  channel: { K: 2, method: { id: 'average' }, clustering: 'kmeans', training: [{ expert: 'a', text: A }, { expert: 'b', text: B }], windowsPerExpert: 8, router: { architecture: 'small', seed: 0 }, ...channel },
});

describe('lmLab.evaluate with Channel Merging', () => {
  it('at K = T looks each window up as its routed expert; the oracle gives gain 1; the answer gives every window its weights', async () => {
    const before = tf.memory().numTensors;
    const oracle = (await engine.lmLab.evaluate(request({ oracle: true }))) as LmLabTwinAnswer;
    for (const [i, t] of oracle.tasks.slice(0, 2).entries()) {
      expect(t.merged.loss).toBeCloseTo(t.experts[i]!.loss, 5);
      expect(t.gain).toBeCloseTo(1, 4);
    }
    const routed = (await engine.lmLab.evaluate(request({}))) as LmLabTwinAnswer;
    expect(routed.routing!.experts).toEqual(['a', 'b']);
    expect(routed.routing!.tasks.map((t) => t.weights.length)).toEqual([3, 3, 1]);
    for (const t of routed.routing!.tasks) for (const w of t.weights) expect(w[0]! + w[1]!).toBeCloseTo(1, 5);
    // One window at a time: its score is the expert of its largest weight's.
    for (const [i, task] of request({}).tasks.entries()) {
      for (const [j, win] of (task.windows ?? []).entries()) {
        const one = (await engine.lmLab.evaluate(request({}, [{ ...task, windows: [win] }]))) as LmLabTwinAnswer;
        const w = routed.routing!.tasks[i]!.weights[j]!;
        const pick = w[1]! > w[0]! ? 1 : 0;
        expect(one.tasks[0]!.merged.loss, `${task.name} window ${j}`).toBeCloseTo(one.tasks[0]!.experts[pick]!.loss, 5);
        expect(one.routing!.tasks[0]!.weights[0]).toEqual(w);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  it('at K = 1 every task looks the same rows up; a missing training text is refused', async () => {
    const one = (await engine.lmLab.evaluate(request({ K: 1, oracle: true }, [
      { name: 'a', text: A.slice(5), expert: 'a', windows: windowsOf(1, 30) },
      { name: 'a as b', text: A.slice(5), expert: 'b', windows: windowsOf(1, 30) },
    ]))) as LmLabTwinAnswer;
    expect(one.tasks[0]!.merged.loss).toBeCloseTo(one.tasks[1]!.merged.loss, 6);
    expect(one.tasks[0]!.merged.loss).not.toBeCloseTo(one.tasks[0]!.experts[0]!.loss, 4);
    await expect(engine.lmLab.evaluate(request({ training: [{ expert: 'a', text: A }] }))).rejects.toThrow(/training text for every expert; none names "b"/);
  });
});
