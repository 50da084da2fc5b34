/** Pairwise cosine of task vectors, by hand and by its properties. */
import { describe, expect, it } from 'vitest';
import { accumulateGram, cosineMatrix, emptyGram, pairwiseCosine } from '../../src/engine/diagnostics/task-similarity.js';

const f = (...x: number[]) => Float32Array.from(x);

describe('pairwiseCosine', () => {
  it('hand-worked: 45°, opposite, zero vector', () => {
    const c = pairwiseCosine([f(1, 0, 0), f(1, 1, 0), f(-2, 0, 0), f(0, 0, 0)]);
    expect(c[0]![1]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(c[0]![2]).toBeCloseTo(-1, 12);
    expect(c[1]![2]).toBeCloseTo(-Math.SQRT1_2, 12);
    // A zero task vector has no direction: 0 everywhere, its diagonal too.
    expect(c[3]).toEqual([0, 0, 0, 0]);
    expect(c[0]![3]).toBe(0);
  });
  it('is symmetric with a unit diagonal, within [−1, 1]', () => {
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const vs = Array.from({ length: 5 }, () => Float32Array.from({ length: 300 }, rnd));
    const c = pairwiseCosine(vs);
    for (let i = 0; i < 5; i++) {
      expect(c[i]![i]).toBe(1);
      for (let j = 0; j < 5; j++) {
        expect(c[i]![j]).toBe(c[j]![i]);
        expect(Math.abs(c[i]![j]!)).toBeLessThanOrEqual(1);
      }
    }
    // A positive multiple points the same way.
    const scaled = pairwiseCosine([vs[0]!, vs[0]!.map((x) => 3 * x)]);
    expect(scaled[0]![1]).toBeCloseTo(1, 6);
  });
  it('pools tensors as one flattened vector: Gram sums give the cosine of the concatenation', () => {
    const a1 = f(1, 2);
    const a2 = f(3);
    const b1 = f(-1, 0);
    const b2 = f(2);
    const g = emptyGram(2);
    accumulateGram(g, 2, [a1, b1], [0, 1]);
    accumulateGram(g, 2, [a2, b2], [0, 1]);
    expect(cosineMatrix(g, 2)[0]![1]).toBeCloseTo(pairwiseCosine([f(1, 2, 3), f(-1, 0, 2)])[0]![1]!, 12);
    // A model absent from a tensor (slot 1 only) adds only its own norm.
    accumulateGram(g, 2, [f(5)], [1]);
    expect(g[3]).toBe(1 + 4 + 25);
  });
});
