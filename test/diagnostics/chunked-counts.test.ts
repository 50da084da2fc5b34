/**
 * The chunked paths of the diagnostics give the one-pass numbers exactly: electionCounts equals
 * signConflictCounts(electionVectors(·)) and accumulateGram equals a plain loop per pair, on
 * vectors longer than a chunk and not a multiple of it, with NaN, ±0 and every trim form (a mask,
 * kept ranks, no trim, outside the TIES family).
 */
import { describe, expect, it } from 'vitest';
import { electionCounts, electionVectors, signConflictCounts, type ElectionInput } from '../../src/engine/diagnostics/sign-conflict.js';
import { accumulateGram, emptyGram } from '../../src/engine/diagnostics/task-similarity.js';
import { findMethod } from '../../src/engine/methods/catalog.js';
import { l1RescaleFactor, sparsifyMask } from '../../src/engine/methods/sparsify.js';
import { createRandom } from '../../src/engine/random.js';

const N = 3 * 4096 + 1234;

function taus(seed: number, m: number): Float32Array[] {
  const r = createRandom(seed);
  return Array.from({ length: m }, (_, i) => {
    // Magnitudes over twelve decades: double sums of them round, so their order shows.
    const t = Float32Array.from({ length: N }, () => (r() < 0.1 ? 0 : (r() - 0.5) * 10 ** (12 * r() - 8)));
    // One model's NaN (a rescaled model's factor is then NaN, and its whole u) and ±∞.
    if (i === 0) t[5] = Number.NaN;
    if (i === 2) [t[3 * 4096 + 7], t[3 * 4096 + 9]] = [Infinity, -Infinity];
    t[4097] = -0;
    t[N - 1] = 1e-40;
    return t;
  });
}

function input(method: string, vectors: Float32Array[], density: number, orderCache?: Map<string, Int32Array>): ElectionInput {
  return {
    method,
    tensorName: 't',
    shape: [N],
    taus: vectors.map((tau, i) => ({ model: `m${i}`, tau, params: { weight: i === 1 ? 0.7 : 1, density } })),
    global: {},
    seed: 11,
    warn: () => undefined,
    ...(orderCache ? { orderCache, cacheKey: (model: string) => `t\u0000${model}` } : {}),
  };
}

describe('electionCounts', () => {
  it.each([
    ['ties', 0.3, false],
    ['ties', 0.3, true],
    ['ties', 1, false],
    ['dare_ties', 0.4, false],
    ['breadcrumbs_ties', 0.5, true],
    ['della', 0.5, false],
    ['task_arithmetic', 1, false],
  ] as const)('%s at density %s (kept ranks: %s) counts what the whole vectors count', (method, density, ranks) => {
    const vectors = taus(density * 100 + method.length, 4);
    const a = input(method, vectors, density, ranks ? new Map() : undefined);
    const whole = electionVectors(a);
    const chunked = electionCounts(a);
    expect(chunked.election).toBe(whole.election);
    expect(chunked.counts).toEqual(signConflictCounts(whole.vectors, whole.election));
    expect(chunked.counts.contested).toBeGreaterThan(0);
    // The vectors themselves against u written out plainly: the trim's mask, then τ · factor · w
    // each rounded to float32, dropped entries +0.
    const tv = findMethod(method)!.taskVectors!;
    if (tv.consensus && tv.sparsification) {
      a.taus.forEach(({ model, tau, params }, stream) => {
        const args = { kind: tv.sparsification!, density, gamma: 0.01, epsilon: 0.15, shape: [N], seed: 11, stream, tensorName: 't', model, warn: () => undefined };
        const mask = sparsifyMask(tau, args);
        const factor = mask && tv.rescaleDefault ? l1RescaleFactor(tau, mask) : 1;
        const w = Math.fround(params.weight as number);
        const plain = new Float32Array(N);
        for (let e = 0; e < N; e++) plain[e] = !mask ? tau[e]! * w : mask[e] ? Math.fround(tau[e]! * factor) * w : 0;
        expect(Array.from(new Uint32Array(whole.vectors[stream]!.buffer)), `${method} ${model}`).toEqual(Array.from(new Uint32Array(plain.buffer)));
      });
    }
  });
  it('with no task vector counts nothing', () => {
    expect(electionCounts(input('ties', [], 0.5)).counts).toEqual({ contested: 0, conflicts: 0, mass: 0, dropped: 0 });
  });
});

describe('accumulateGram', () => {
  it('sums each pair in entry order, as a plain loop does, into the models\' slots', () => {
    const vectors = taus(3, 4).map((t) => t.map((x) => (Number.isNaN(x) ? 0.5 : x)));
    const slots = [2, 0, 3, 1];
    const g = accumulateGram(emptyGram(5), 5, vectors, slots);
    const want = emptyGram(5);
    for (let a = 0; a < 4; a++) {
      for (let b = a; b < 4; b++) {
        let s = 0;
        for (let e = 0; e < N; e++) s += vectors[a]![e]! * vectors[b]![e]!;
        want[slots[a]! * 5 + slots[b]!]! += s;
        if (a !== b) want[slots[b]! * 5 + slots[a]!]! += s;
      }
    }
    expect(Array.from(g)).toEqual(Array.from(want));
  });
});
