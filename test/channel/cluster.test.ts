/**
 * Channel Merging's grouping: average linkage worked by hand, ties broken by task order, canonical
 * labels, the zero-row convention, and properties over random rows (exactly K groups, canonical
 * numbering, nested partitions, the same answer every time); k-means (the default) on rows worked by
 * hand, against every partition of small random sets, seeded and independent of the order Ks are
 * asked in; and which biases follow their weight's rows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  agglomerate,
  channelCosines,
  clusterChannels,
  dendrogramsFromCosines,
  groupTable,
  outputChannelOwner,
  type ChannelDendrograms,
  type ClusterInput,
} from '../../src/engine/methods/channel/cluster.js';

const linkage = (input: ClusterInput) => clusterChannels(input, { method: 'average_linkage' });
const dendrograms = (input: ClusterInput) => dendrogramsFromCosines(channelCosines(input), input.vectors.length, input.channels ?? (input.shape.length >= 2 ? input.shape[0]! : 1));

/** Dendrogram of one channel from a symmetric distance list {"ab": d}. */
function fromDistances(T: number, d: Record<string, number>): ChannelDendrograms {
  const m = new Float64Array(T * T);
  for (const [k, v] of Object.entries(d)) {
    const a = Number(k[0]);
    const b = Number(k[1]);
    m[a * T + b] = v;
    m[b * T + a] = v;
  }
  const merges = new Uint8Array((T - 1) * 2);
  agglomerate(m, T, merges);
  return { tasks: T, channels: 1, merges };
}

const labels = (d: ChannelDendrograms, K: number) => Array.from(groupTable(d, K));

describe('average-linkage agglomeration', () => {
  it('merges by the mean distance over member pairs (worked by hand)', () => {
    // (0,1) at 0.1 first. Then d({0,1},2) = (0.25 + 0.9)/2 = 0.575, d({0,1},3) = (0.5 + 0.5)/2 = 0.5,
    // d(2,3) = 0.3: average linkage joins 2 and 3 (single linkage would take 0.25 and join {0,1} with 2).
    const d = fromDistances(4, { '01': 0.1, '02': 0.25, '03': 0.5, '12': 0.9, '13': 0.5, '23': 0.3 });
    expect(Array.from(d.merges)).toEqual([0, 1, 2, 3, 0, 2]);
    expect(labels(d, 1)).toEqual([0, 0, 0, 0]);
    expect(labels(d, 2)).toEqual([0, 0, 1, 1]);
    expect(labels(d, 3)).toEqual([0, 0, 1, 2]);
    expect(labels(d, 4)).toEqual([0, 1, 2, 3]);
  });

  it('breaks equal distances by the lowest task indices', () => {
    const d = fromDistances(4, { '01': 0.5, '02': 0.5, '03': 0.5, '12': 0.5, '13': 0.5, '23': 0.5 });
    expect(Array.from(d.merges)).toEqual([0, 1, 0, 2, 0, 3]);
    expect(labels(d, 2)).toEqual([0, 0, 0, 1]);
    // (1,3) and (0,2) tie at 0.2: the pair led by task 0 wins.
    const e = fromDistances(4, { '01': 0.9, '02': 0.2, '03': 0.9, '12': 0.9, '13': 0.2, '23': 0.9 });
    expect(Array.from(e.merges.subarray(0, 4))).toEqual([0, 2, 1, 3]);
  });

  it('numbers groups by their lowest task, so task 0 is always group 0', () => {
    const d = fromDistances(4, { '01': 0.9, '02': 0.9, '03': 0.1, '12': 0.1, '13': 0.9, '23': 0.9 });
    expect(labels(d, 2)).toEqual([0, 1, 1, 0]);
  });

  it('rejects K outside 1..T', () => {
    const d = fromDistances(3, { '01': 0.1, '02': 0.2, '12': 0.3 });
    for (const K of [0, 4, 1.5]) expect(() => groupTable(d, K, 'tensor x')).toThrow(expect.objectContaining({ code: 'PARAMETER_OUT_OF_RANGE' }));
  });
});

describe('cosine distances of task-vector rows', () => {
  it('groups rows by direction, not size; opposite rows are farthest apart', () => {
    // Channel 0: task 1 = 3 × task 0, task 2 = −task 0. Channel 1: task 2 = task 0 / 2, task 1 orthogonal.
    const vectors = [
      Float32Array.from([1, 2, 1, 0]),
      Float32Array.from([3, 6, 0, 1]),
      Float32Array.from([-1, -2, 0.5, 0]),
    ];
    const d = linkage({ tensorName: 't', shape: [2, 2], vectors });
    expect(Array.from(d.table(2))).toEqual([
      // task 0: channels 0, 1
      0, 0,
      // task 1
      0, 1,
      // task 2
      1, 0,
    ]);
  });

  it('puts zero rows together (distance 0) and at distance 1 from the rest', () => {
    // Tasks 1 and 2 leave the channel untouched; tasks 0 and 3 point in opposite directions (distance 2).
    const vectors = [Float32Array.from([1, 0]), Float32Array.from([0, 0]), Float32Array.from([0, 0]), Float32Array.from([-1, 0])];
    const input = { tensorName: 'b', shape: [2], vectors };
    expect(linkage(input).channels).toBe(1);
    expect(Array.from(dendrograms(input).merges.subarray(0, 2))).toEqual([1, 2]);
    // Then {1,2} is at distance 1 from both 0 and 3, below d(0,3) = 2: task 0 joins first.
    expect(Array.from(linkage(input).table(2))).toEqual([0, 0, 0, 1]);
  });

  it('treats ≥ 2-D tensors as rows of shape[0], vectors as one channel unless told one per element', () => {
    const v = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    expect(clusterChannels({ tensorName: 'w', shape: [3, 2, 2], vectors: [v(12), v(12)] }).channels).toBe(3);
    expect(clusterChannels({ tensorName: 'b', shape: [12], vectors: [v(12), v(12)] }).channels).toBe(1);
    expect(clusterChannels({ tensorName: 'b', shape: [12], vectors: [v(12), v(12)], channels: 12 }).channels).toBe(12);
    expect(clusterChannels({ tensorName: 's', shape: [], vectors: [v(1), v(1)] }).channels).toBe(1);
  });

  it('rejects vectors of the wrong length and too many tasks, naming the tensor', () => {
    expect(() => clusterChannels({ tensorName: 'w', shape: [2, 2], vectors: [new Float32Array(4), new Float32Array(3)] })).toThrow(/Tensor w/);
    const many = Array.from({ length: 256 }, () => new Float32Array(1));
    expect(() => clusterChannels({ tensorName: 'w', shape: [1], vectors: many })).toThrow(expect.objectContaining({ code: 'TOO_MANY_MODELS' }));
  });
});

describe('properties over random rows', () => {
  const arb = fc
    .record({ T: fc.integer({ min: 1, max: 7 }), C: fc.integer({ min: 1, max: 4 }), W: fc.integer({ min: 1, max: 5 }), seed: fc.integer() })
    .map(({ T, C, W, seed }) => {
      let s = seed >>> 0;
      const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
      // Some entries exactly zero and some rows repeated, so ties and zero rows occur.
      const vectors = Array.from({ length: T }, () => Float32Array.from({ length: C * W }, () => (Math.abs(next()) < 0.2 ? 0 : Math.round(next() * 4) / 4)));
      return { T, C, W, vectors };
    });

  it('gives exactly K canonical, nested groups per channel, the same on every run', () => {
    fc.assert(
      fc.property(arb, ({ T, C, W, vectors }) => {
        const d = dendrograms({ tensorName: 'p', shape: [C, W], vectors });
        const again = dendrograms({ tensorName: 'p', shape: [C, W], vectors: vectors.map((v) => Float32Array.from(v)) });
        expect(Array.from(again.merges)).toEqual(Array.from(d.merges));
        let finer: Uint8Array | undefined;
        for (let K = T; K >= 1; K--) {
          const table = groupTable(d, K);
          for (let c = 0; c < C; c++) {
            const row = Array.from({ length: T }, (_, t) => table[t * C + c]!);
            expect(new Set(row).size).toBe(K);
            // Canonical: labels appear in increasing order of first use.
            let seen = -1;
            for (const l of row) {
              expect(l).toBeLessThanOrEqual(seen + 1);
              seen = Math.max(seen, l);
            }
            // Nested: tasks together at K stay together at K − 1.
            if (finer) for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) if (finer[i * C + c] === finer[j * C + c]) expect(table[i * C + c]).toBe(table[j * C + c]);
          }
          finer = table;
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** Sum over rows of the squared distance of each unit row (zero rows stay zero) to its group's mean: k-means' objective. */
function inertia(vectors: readonly Float32Array[], labels: readonly number[]): number {
  const unit = vectors.map((v) => {
    const n = Math.hypot(...v);
    return Array.from(v, (x) => (n > 0 ? x / n : 0));
  });
  let sum = 0;
  for (const g of new Set(labels)) {
    const members = unit.filter((_, t) => labels[t] === g);
    const mean = members[0]!.map((_, j) => members.reduce((s, m) => s + m[j]!, 0) / members.length);
    for (const m of members) sum += m.reduce((s, x, j) => s + (x - mean[j]!) ** 2, 0);
  }
  return sum;
}

/** Every partition of T items into exactly K groups, as canonical labels. */
function partitions(T: number, K: number): number[][] {
  const out: number[][] = [];
  const walk = (labels: number[], used: number) => {
    if (labels.length === T) {
      if (used === K) out.push([...labels]);
      return;
    }
    for (let g = 0; g <= Math.min(used, K - 1); g++) walk([...labels, g], Math.max(used, g + 1));
  };
  walk([], 0);
  return out;
}

describe('k-means of task-vector rows (the default grouping)', () => {
  it('groups rows by direction, not size (worked by hand)', () => {
    // Channel 0: tasks 0, 1 point along x (1 is 5 × 0), tasks 2, 3 along y; K = 2 splits them so.
    // Channel 1: task 3 opposes tasks 0-2, which agree: at K = 2 it is alone.
    const vectors = [
      Float32Array.from([1, 0.1, 1, 1]),
      Float32Array.from([5, 0, 2, 2.2]),
      Float32Array.from([0, 1, 0.5, 0.4]),
      Float32Array.from([0.1, 2, -1, -1]),
    ];
    const c = clusterChannels({ tensorName: 'w', shape: [2, 2], vectors });
    expect(c.method).toBe('kmeans');
    const t = c.table(2);
    expect([0, 1, 2, 3].map((task) => t[task * 2])).toEqual([0, 0, 1, 1]);
    expect([0, 1, 2, 3].map((task) => t[task * 2 + 1])).toEqual([0, 0, 0, 1]);
    expect(Array.from(c.table(1))).toEqual(new Array(8).fill(0));
    expect([0, 1, 2, 3].map((task) => c.table(4)[task * 2])).toEqual([0, 1, 2, 3]);
  });

  it('puts zero rows together and apart from the rows that moved', () => {
    const vectors = [Float32Array.from([1, 0]), Float32Array.from([0, 0]), Float32Array.from([0, 0]), Float32Array.from([0.9, 0.1])];
    expect(Array.from(clusterChannels({ tensorName: 'w', shape: [1, 2], vectors }).table(2))).toEqual([0, 1, 1, 0]);
  });

  it('finds the best partition of small random sets, as an exhaustive search does', () => {
    let best = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.record({ T: fc.integer({ min: 3, max: 6 }), W: fc.integer({ min: 2, max: 4 }), seed: fc.integer() }), ({ T, W, seed }) => {
        let s = seed >>> 0;
        const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
        const vectors = Array.from({ length: T }, () => Float32Array.from({ length: W }, next));
        for (let K = 2; K < T; K++) {
          const labels = Array.from(clusterChannels({ tensorName: 'r', shape: [1, W], vectors }).table(K));
          const optimum = Math.min(...partitions(T, K).map((p) => inertia(vectors, p)));
          const got = inertia(vectors, labels);
          // Never below the optimum (it is the optimum's objective), and at it in nearly every case.
          expect(got).toBeGreaterThanOrEqual(optimum - 1e-9);
          runs++;
          if (got <= optimum + 1e-9) best++;
        }
      }),
      { numRuns: 150, seed: 19 },
    );
    expect(best / runs).toBeGreaterThanOrEqual(0.95);
  });

  it('is seeded: the same seed gives the same tables, whichever K is asked first', () => {
    const arb = fc.record({ T: fc.integer({ min: 2, max: 7 }), C: fc.integer({ min: 1, max: 4 }), W: fc.integer({ min: 1, max: 5 }), seed: fc.integer() });
    fc.assert(
      fc.property(arb, ({ T, C, W, seed }) => {
        let s = seed >>> 0;
        const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
        const vectors = Array.from({ length: T }, () => Float32Array.from({ length: C * W }, () => (Math.abs(next()) < 0.2 ? 0 : Math.round(next() * 4) / 4)));
        const a = clusterChannels({ tensorName: 'p', shape: [C, W], vectors }, { seed: 7 });
        const b = clusterChannels({ tensorName: 'p', shape: [C, W], vectors: vectors.map((v) => Float32Array.from(v)) }, { seed: 7 });
        const down = Array.from({ length: T }, (_, i) => Array.from(a.table(T - i)));
        const up = Array.from({ length: T }, (_, i) => Array.from(b.table(i + 1))).reverse();
        expect(up).toEqual(down);
        for (let K = 1; K <= T; K++) {
          const table = a.table(K);
          for (let c = 0; c < C; c++) {
            const row = Array.from({ length: T }, (_, t) => table[t * C + c]!);
            expect(new Set(row).size).toBe(K);
            let seen = -1;
            for (const l of row) {
              expect(l).toBeLessThanOrEqual(seen + 1);
              seen = Math.max(seen, l);
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('rejects K outside 1..T and an unknown method', () => {
    const c = clusterChannels({ tensorName: 'w', shape: [1, 2], vectors: [Float32Array.from([1, 0]), Float32Array.from([0, 1])] });
    for (const K of [0, 3, 1.5]) expect(() => c.table(K)).toThrow(expect.objectContaining({ code: 'PARAMETER_OUT_OF_RANGE' }));
    expect(() => clusterChannels({ tensorName: 'w', shape: [1], vectors: [new Float32Array(1)] }, { method: 'ward' as never })).toThrow(expect.objectContaining({ code: 'PARAMETER_INVALID' }));
  });
});

describe('which 1-D tensors follow a weight\'s rows', () => {
  const shapes: Record<string, number[]> = { 'l.weight': [4, 3], 'l.bias': [4], 'c.weight': [3, 4], 'c.bias': [4], 'norm.weight': [4], 'w.bias': [4] };
  const shapeOf = (n: string) => shapes[n];
  it('X.bias follows X.weight when the weight has as many rows as the bias has elements', () => {
    expect(outputChannelOwner('l.bias', [4], shapeOf)).toBe('l.weight');
    // GPT-2's Conv1D stores [in, out]: its rows are not the bias's channels.
    expect(outputChannelOwner('c.bias', [4], shapeOf)).toBeUndefined();
    expect(outputChannelOwner('norm.weight', [4], shapeOf)).toBeUndefined();
    expect(outputChannelOwner('w.bias', [4], shapeOf)).toBeUndefined();
    expect(outputChannelOwner('l.weight', [4, 3], shapeOf)).toBeUndefined();
  });
});
