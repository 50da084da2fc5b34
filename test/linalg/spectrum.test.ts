/**
 * The spectrum chart's numbers: hand-worked values, the edge cases (empty, all zero, one value),
 * the error catalogue, and the properties the chart relies on under fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMergeLabError } from '../../src/engine/errors.js';
import { effectiveRank, energyCurve, rankForEnergy, subspaceInterference, summarizeSpectrum } from '../../src/engine/linalg/spectrum.js';
import { exactSvd } from '../../src/engine/linalg/svd.js';
import { createRandom } from '../../src/engine/random.js';

function expectCode(f: () => unknown, code: string, mentions: string): void {
  try {
    f();
  } catch (e) {
    expect(isMergeLabError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    expect((e as Error).message).toContain(mentions);
    return;
  }
  throw new Error(`expected a ${code} error`);
}

describe('energyCurve and rankForEnergy', () => {
  it('match values worked by hand', () => {
    // σ² = 16, 9, 0 of 25.
    expect(Array.from(energyCurve([4, 3, 0]))).toEqual([16 / 25, 1, 1]);
    expect(rankForEnergy([4, 3, 0], 0.64)).toBe(1);
    expect(rankForEnergy([4, 3, 0], 0.65)).toBe(2);
    expect(rankForEnergy([4, 3, 0], 1)).toBe(2);
    expect(rankForEnergy([1, 1, 1, 1], 0.9)).toBe(4);
    expect(rankForEnergy([1, 1, 1, 1], 0.5)).toBe(2);
  });

  it('give zeros for an empty or all-zero spectrum', () => {
    expect(Array.from(energyCurve([]))).toEqual([]);
    expect(Array.from(energyCurve([0, 0]))).toEqual([0, 0]);
    expect(rankForEnergy([], 0.9)).toBe(0);
    expect(rankForEnergy([0, 0, 0], 0.9)).toBe(0);
  });

  it('end at exactly 1, also for values whose squares would overflow or underflow', () => {
    expect(Array.from(energyCurve([3e200, 4e200]))).toEqual([9 / 25, 1]);
    expect(Array.from(energyCurve([4e-200, 3e-200]))).toEqual([16 / 25, 1]);
    const s = Array.from({ length: 1000 }, (_, i) => 1 / (i + 1));
    const e = energyCurve(s);
    expect(e[e.length - 1]).toBe(1);
    expect(rankForEnergy(s, 1)).toBe(1000);
  });
});

describe('effectiveRank', () => {
  it('matches values worked by hand', () => {
    expect(effectiveRank([5])).toBe(1);
    expect(effectiveRank([5, 0, 0])).toBe(1);
    expect(effectiveRank([2, 2, 2, 2])).toBeCloseTo(4, 12);
    // p = ½, ¼, ¼: H = ½ ln 2 + ½ ln 4 = 1.5 ln 2, exp H = 2^1.5.
    expect(effectiveRank([2, 1, 1])).toBeCloseTo(2 ** 1.5, 12);
    expect(effectiveRank([])).toBe(0);
    expect(effectiveRank([0, 0])).toBe(0);
  });
});

describe('subspaceInterference', () => {
  it('is 1 for the same subspace, 0 for orthogonal ones, cos² in between', () => {
    // Columns of 3 × 2 bases, row-major.
    const e12 = Float64Array.from([1, 0, 0, 1, 0, 0]);
    const e21 = Float64Array.from([0, 1, 1, 0, 0, 0]);
    expect(subspaceInterference(e12, e21, 3, 2, 2, 2)).toBeCloseTo(1, 15);
    expect(subspaceInterference(e12, e21, 3, 2, 2, 1)).toBe(0);
    const e3 = Float64Array.from([0, 0, 1]);
    expect(subspaceInterference(e12, e3, 3, 2, 1, 1)).toBe(0);
    const diagonal = Float64Array.from([Math.SQRT1_2, Math.SQRT1_2, 0]);
    expect(subspaceInterference(e12, diagonal, 3, 2, 1, 1)).toBeCloseTo(0.5, 15);
  });

  it('is 1 for the U of a matrix and of its negation, and in [0, 1] between two tasks', () => {
    const random = createRandom(3);
    const m = 30;
    const a = Float64Array.from({ length: m * 12 }, () => random() - 0.5);
    const b = Float64Array.from({ length: m * 12 }, () => random() - 0.5);
    const ua = exactSvd(a, m, 12).u;
    const uNeg = exactSvd(a.map((x) => -x), m, 12).u;
    const ub = exactSvd(b, m, 12).u;
    for (const r of [1, 4, 12]) {
      expect(subspaceInterference(ua, uNeg, m, 12, 12, r)).toBeCloseTo(1, 10);
      const x = subspaceInterference(ua, ub, m, 12, 12, r);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(1);
    }
  });
});

describe('summarizeSpectrum', () => {
  it('collects the chart series as plain arrays', () => {
    const summary = summarizeSpectrum(Float64Array.from([4, 3, 0]));
    expect(summary).toEqual({ singularValues: [4, 3, 0], energy: [16 / 25, 1, 1], rank90: 2, effectiveRank: summary.effectiveRank });
    expect(summary.effectiveRank).toBeCloseTo(Math.exp(-(4 / 7) * Math.log(4 / 7) - (3 / 7) * Math.log(3 / 7)), 12);
    expect(Array.isArray(summary.energy)).toBe(true);
    expect(summarizeSpectrum([])).toEqual({ singularValues: [], energy: [], rank90: 0, effectiveRank: 0 });
  });
});

describe('argument errors', () => {
  const u = new Float64Array(6);
  const cases: [string, () => unknown, string, string][] = [
    ['negative σ', () => energyCurve([1, -1]), 'PARAMETER_INVALID', 'singular value 1 is -1'],
    ['NaN σ', () => effectiveRank([NaN]), 'PARAMETER_INVALID', 'singular value 0 is NaN'],
    ['infinite σ', () => summarizeSpectrum([Infinity]), 'PARAMETER_INVALID', 'Infinity'],
    ['share 0', () => rankForEnergy([1], 0), 'PARAMETER_INVALID', 'share is 0'],
    ['share above 1', () => rankForEnergy([1], 1.5), 'PARAMETER_INVALID', '(0, 1]'],
    ['r above k', () => subspaceInterference(u, u, 3, 2, 2, 3), 'PARAMETER_INVALID', 'r ≤ 2'],
    ['r 0', () => subspaceInterference(u, u, 3, 2, 2, 0), 'PARAMETER_INVALID', 'r is 0'],
    ['basis of the wrong size', () => subspaceInterference(u, new Float64Array(5), 3, 2, 2, 1), 'SHAPE_MISMATCH', 'm × kj = 6'],
  ];
  for (const [name, f, code, mentions] of cases) it(`${name} → ${code}`, () => expectCode(f, code, mentions));
});

describe('properties (fast-check)', () => {
  const spectrum = fc.array(
    fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e-6, noNaN: true })),
    { minLength: 1, maxLength: 40 },
  );
  const nonzero = (s: number[]) => s.filter((x) => x > 0).length;

  it('energy is nondecreasing, within [0, 1], and ends at exactly 1 (unless all zero)', () => {
    fc.assert(
      fc.property(spectrum, (s) => {
        const e = energyCurve(s);
        for (let i = 0; i < e.length; i++) {
          expect(e[i]!).toBeGreaterThanOrEqual(i > 0 ? e[i - 1]! : 0);
          expect(e[i]!).toBeLessThanOrEqual(1);
        }
        expect(e[e.length - 1]).toBe(nonzero(s) > 0 ? 1 : 0);
      }),
    );
  });

  it('1 ≤ effectiveRank ≤ number of nonzero σ', () => {
    fc.assert(
      fc.property(spectrum, (s) => {
        const r = effectiveRank(s);
        if (nonzero(s) === 0) expect(r).toBe(0);
        else {
          expect(r).toBeGreaterThanOrEqual(1);
          expect(r).toBeLessThanOrEqual(nonzero(s));
        }
      }),
    );
  });

  it('rankForEnergy is monotone in share and its rank holds that share', () => {
    const share = fc.double({ min: 1e-9, max: 1, noNaN: true });
    fc.assert(
      fc.property(spectrum, share, share, (s, x, y) => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        const rLo = rankForEnergy(s, lo);
        const rHi = rankForEnergy(s, hi);
        expect(rLo).toBeLessThanOrEqual(rHi);
        if (nonzero(s) > 0) {
          const e = energyCurve(s);
          expect(e[rHi - 1]!).toBeGreaterThanOrEqual(hi);
          if (rHi > 1) expect(e[rHi - 2]!).toBeLessThan(hi);
        } else expect(rHi).toBe(0);
      }),
    );
  });

  it('the summary agrees with the separate functions and scales out', () => {
    fc.assert(
      fc.property(spectrum, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (s, c) => {
        const summary = summarizeSpectrum(s);
        expect(summary.energy).toEqual(Array.from(energyCurve(s)));
        expect(summary.rank90).toBe(rankForEnergy(s, 0.9));
        expect(summary.effectiveRank).toBe(effectiveRank(s));
        // Scale-free: multiplying every σ by c keeps the effective rank (while c·σ stays normal).
        const scaled = s.map((x) => x * c);
        if (scaled.every((x, i) => s[i] === 0 || x >= 2.3e-308)) expect(effectiveRank(scaled)).toBeCloseTo(summary.effectiveRank, 6);
      }),
    );
  });
});
