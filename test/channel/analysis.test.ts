/**
 * What Channel Merging reports without data: storage by hand, pairwise sign conflicts within and
 * across groups worked by hand, and the K sweep over checkpoints (reconstruction error 0 at K = T,
 * the plain mean's error at K = 1, conflicts split by grouping, every K from one clustering pass).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { channelMerge, channelSweep } from '../../src/engine/methods/channel/channel-merge.js';
import { pairConflictRates, pairConflicts } from '../../src/engine/methods/channel/conflicts.js';
import { taskWeights } from '../../src/engine/methods/channel/lookup.js';
import { checkpointSource } from '../../src/engine/methods/channel/source.js';
import { channelStorage } from '../../src/engine/methods/channel/storage.js';
import { toyCheckpoint } from '../merge/helpers.js';

describe('storage', () => {
  it('counts K copies and one index byte per task and channel, against T experts', () => {
    // [8, 4] has 8 channels, [8] and [] one each; 32 + 8 + 1 = 41 weights.
    // A bias that follows its weight is 8 channels (one per element): 5 × 8 more index bytes.
    const s = channelStorage([{ shape: [8, 4] }, { shape: [8] }, { shape: [] }], 5, 2, { routerParams: 10 });
    expect(s).toEqual({
      tasks: 5,
      K: 2,
      groupParams: 82,
      indexEntries: 5 * 10,
      routerParams: 10,
      routerBytes: 40,
      expertParams: 205,
      bytesPerParam: 4,
      packageBytes: 82 * 4 + 50,
      expertBytes: 820,
      ratio: (328 + 50) / 820,
      withRouter: { bytes: 328 + 50 + 40, ratio: (328 + 50 + 40) / 820 },
    });
    expect(channelStorage([{ shape: [8, 4] }, { shape: [8], channels: 8 }], 5, 2).indexEntries).toBe(5 * 16);
    expect(channelStorage([{ shape: [8, 4] }], 4, 2, { bytesPerParam: 2 }).ratio).toBeCloseTo((64 * 2 + 32) / (128 * 2), 12);
  });
});

describe('pairwise sign conflicts', () => {
  it('splits pairs of nonzero entries by whether the two tasks share a group (worked by hand)', () => {
    const vectors = [Float32Array.from([1, -1, 0, 2]), Float32Array.from([2, 1, 3, 0]), Float32Array.from([-1, -1, 1, -1])];
    // Channel 0: {t0, t1} and {t2}; channel 1: {t0} and {t1, t2}.
    const table = Uint8Array.from([0, 0, 0, 1, 1, 1]);
    // Entry 0 (+,+,−): within (0,1) agrees; across (0,2), (1,2) conflict.
    // Entry 1 (−,+,−): within (0,1) conflicts; across (0,2) agrees, (1,2) conflicts.
    // Entry 2 (0,+,+): only (1,2), within, agrees. Entry 3 (+,0,−): (0,2), across, conflicts.
    const counts = pairConflicts(vectors, table, [2, 2]);
    expect(counts).toEqual({ withinPairs: 3, withinConflicts: 1, acrossPairs: 5, acrossConflicts: 4 });
    expect(pairConflictRates(counts)).toEqual({ within: 1 / 3, across: 4 / 5, all: 5 / 8, withinPairs: 3, acrossPairs: 5 });
  });

  it('has no within rate when every task is alone, no across rate when all share one group', () => {
    const v = [Float32Array.from([1]), Float32Array.from([-1])];
    expect(pairConflictRates(pairConflicts(v, Uint8Array.from([0, 1]), [1]))).toMatchObject({ within: null, across: 1, all: 1 });
    expect(pairConflictRates(pairConflicts(v, Uint8Array.from([0, 0]), [1]))).toMatchObject({ within: 1, across: null, all: 1 });
  });
});

describe('K sweep over checkpoints without data', () => {
  const TASKS = ['p', 'q', 'r', 's'];
  const LAYOUT = [
    { name: 'w', shape: [5, 3] },
    { name: 'b', shape: [5] },
  ];
  async function source() {
    let seed = 99;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const fill = () => LAYOUT.map((t) => ({ ...t, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, rand) }));
    const ckpts = new Map([['base', await toyCheckpoint('base', fill())]]);
    for (const t of TASKS) ckpts.set(t, await toyCheckpoint(t, fill()));
    return { ckpts, src: checkpointSource(ckpts, 'base', TASKS) };
  }

  it('reports storage, reconstruction error and conflicts for every K', async () => {
    const { ckpts, src } = await source();
    const before = tf.memory().numTensors;
    const sweep = await channelSweep(src, {});
    expect(tf.memory().numTensors).toBe(before);
    expect(sweep.points.map((p) => p.K)).toEqual([1, 2, 3, 4]);
    expect(sweep.method).toEqual({ id: 'average', params: {}, singletons: 'expert' });
    expect(sweep.points.map((p) => p.storage.groupParams)).toEqual([20, 40, 60, 80]);
    // K = T: every task looks up its own expert.
    expect(sweep.points[3]!.reconstruction).toEqual([0, 0, 0, 0]);
    expect(sweep.points[3]!.conflicts.within).toBeNull();
    expect(sweep.points[0]!.conflicts.across).toBeNull();
    // Same pairs whatever the grouping: the overall rate does not move with K for a raw-τ view.
    for (const p of sweep.points) expect(p.conflicts.all).toBeCloseTo(sweep.points[0]!.conflicts.all!, 12);
    // K = 1 with average: W_t is the mean of the experts; the error is ‖mean − θt‖ / ‖θt − θ0‖.
    const vals = async (k: string) => Promise.all(LAYOUT.map((t) => ckpts.get(k)!.readFloat32(t.name)));
    const base = await vals('base');
    const experts = await Promise.all(TASKS.map(vals));
    TASKS.forEach((_, t) => {
      let err = 0;
      let norm = 0;
      LAYOUT.forEach((_, i) => {
        for (let j = 0; j < base[i]!.length; j++) {
          const mean = experts.reduce((s, e) => s + e[i]![j]!, 0) / TASKS.length;
          err += (mean - experts[t]![i]![j]!) ** 2;
          norm += (experts[t]![i]![j]! - base[i]![j]!) ** 2;
        }
      });
      expect(sweep.points[0]!.reconstruction[t]).toBeCloseTo(Math.sqrt(err / norm), 6);
    });
    // Every K agrees with a direct merge at that K.
    for (const K of [2, 3]) {
      const model = await channelMerge(src, { K });
      const direct = TASKS.map((task, t) => {
        const w = taskWeights(model, task);
        let err = 0;
        let norm = 0;
        LAYOUT.forEach((l, i) => {
          for (let j = 0; j < base[i]!.length; j++) {
            err += (w[l.name]![j]! - experts[t]![i]![j]!) ** 2;
            norm += (experts[t]![i]![j]! - base[i]![j]!) ** 2;
          }
        });
        return Math.sqrt(err / norm);
      });
      // The sweep's norms use τ rounded to float32, as the merge does; here they are float64.
      sweep.points[K - 1]!.reconstruction.forEach((r, t) => expect(r).toBeCloseTo(direct[t]!, 7));
    }
  });

  it('with TIES, sees conflicts in the trimmed vectors and sweeps only the Ks asked for', async () => {
    const { src } = await source();
    const sweep = await channelSweep(src, { Ks: [1, 4], method: { id: 'ties', params: { density: 0.4 } }, similarity: 'trimmed' });
    expect(sweep.points.map((p) => p.K)).toEqual([1, 4]);
    expect(sweep.similarity).toBe('trimmed');
    // A 40 % trim leaves fewer pairs of nonzero entries than the 4·3/2 · 20 of the raw vectors.
    expect(sweep.points[0]!.conflicts.withinPairs).toBeLessThan(6 * 20);
    expect(sweep.points[1]!.reconstruction).toEqual([0, 0, 0, 0]);
    await expect(channelSweep(src, { Ks: [0] })).rejects.toMatchObject({ code: 'PARAMETER_OUT_OF_RANGE' });
  });

  it('maps one tensor’s groups at every K when asked', async () => {
    const { src } = await source();
    const sweep = await channelSweep(src, { assignmentTensor: 'w' });
    for (const p of sweep.points) {
      const a = p.assignment!;
      expect(a).toMatchObject({ tensor: 'w', K: p.K, channels: 5, tasks: TASKS });
      for (const g of a.groups) expect(new Set(g).size).toBe(p.K);
      expect(a.partitions.reduce((n, x) => n + x.channels, 0)).toBe(5);
    }
    expect(sweep.points[0]!.assignment!.together).toEqual(TASKS.map(() => TASKS.map(() => 1)));
    await expect(channelSweep(src, { assignmentTensor: 'nope' })).rejects.toMatchObject({ code: 'TENSOR_NOT_FOUND', message: expect.stringMatching(/"nope".*w, b/) });
  });
});
