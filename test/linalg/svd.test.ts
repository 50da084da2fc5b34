/**
 * exactSvd against torch.linalg.svd (test/fixtures/svd-reference.json, from
 * scripts/svd-reference.py), orthonormal factors and exact reconstruction on every shape class,
 * randomizedSvd within 5% of the optimal rank-r error, the truncatedSvd switch, the error
 * catalogue, and algebraic properties under fast-check. Accuracy figures and timings are printed,
 * not asserted beyond the acceptance bounds.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isMergeLabError } from '../../src/engine/errors.js';
import { createRandom } from '../../src/engine/random.js';
import {
  EXACT_SVD_MAX_MIN_DIM,
  exactSvd,
  frobeniusError,
  randomizedSvd,
  reconstruct,
  truncatedSvd,
  type Svd,
} from '../../src/engine/linalg/svd.js';

interface ReferenceCase {
  name: string;
  m: number;
  n: number;
  a: number[];
  s: number[];
}
const reference = JSON.parse(readFileSync(new URL('../fixtures/svd-reference.json', import.meta.url), 'utf8')) as { cases: ReferenceCase[] };

// Built without the code under test: seeded Gaussians, orthonormal factors by Gram–Schmidt twice.
function gaussian(count: number, seed: number): Float64Array {
  const random = createRandom(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return out;
}

/** m × k (k ≤ m) with orthonormal columns, row-major. */
function orthonormalColumns(m: number, k: number, seed: number): Float64Array {
  const q = gaussian(m * k, seed);
  for (let c = 0; c < k; c++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let d = 0;
        for (let i = 0; i < m; i++) d += q[i * k + c]! * q[i * k + p]!;
        for (let i = 0; i < m; i++) q[i * k + c]! -= d * q[i * k + p]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += q[i * k + c]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) q[i * k + c]! /= norm;
  }
  return q;
}

/** U·diag(s)·Vᵀ (m × n) with random orthonormal U (m × k), V (n × k), k = s.length. */
function fromSpectrum(m: number, n: number, s: readonly number[], seed: number): Float64Array {
  const k = s.length;
  const u = orthonormalColumns(m, k, seed);
  const v = orthonormalColumns(n, k, seed + 1);
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let x = 0;
      for (let c = 0; c < k; c++) x += u[i * k + c]! * s[c]! * v[j * k + c]!;
      a[i * n + j] = x;
    }
  }
  return a;
}

/** max |XᵀX − I| for X rows × k row-major. */
function orthonormalityError(x: Float64Array, rows: number, k: number): number {
  let worst = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      let d = 0;
      for (let i = 0; i < rows; i++) d += x[i * k + a]! * x[i * k + b]!;
      worst = Math.max(worst, Math.abs(d - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

function transposed(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = a[i * n + j]!;
  return out;
}

function frobenius(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! ** 2;
  return Math.sqrt(s);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

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

/** The checks every decomposition must pass: shapes, σ order, orthonormality, reconstruction. */
function expectValidSvd(a: ArrayLike<number>, svd: Svd, m: number, n: number): void {
  const k = Math.min(m, n);
  expect([svd.m, svd.n, svd.k]).toEqual([m, n, k]);
  expect(svd.u.length).toBe(m * k);
  expect(svd.v.length).toBe(n * k);
  for (let i = 0; i < k; i++) {
    expect(svd.s[i]!).toBeGreaterThanOrEqual(0);
    if (i > 0) expect(svd.s[i]!).toBeLessThanOrEqual(svd.s[i - 1]!);
  }
  expect(orthonormalityError(svd.u, m, k)).toBeLessThan(1e-8);
  expect(orthonormalityError(svd.v, n, k)).toBeLessThan(1e-8);
  expect(maxAbsDiff(reconstruct(svd), a)).toBeLessThanOrEqual(1e-12 * Math.max(1, frobenius(a)));
}

const summary: string[] = [];
afterAll(() => {
  if (summary.length) console.log(`svd accuracy:\n  ${summary.join('\n  ')}`);
});

describe('exactSvd against torch.linalg.svd', () => {
  it(`matches torch's singular values within 1e-4·σ1 on ${reference.cases.length} fixture matrices`, () => {
    let worst = 0;
    let worstCase = '';
    for (const c of reference.cases) {
      const svd = exactSvd(c.a, c.m, c.n);
      expect(svd.k).toBe(c.s.length);
      const scale = Math.max(c.s[0]!, Number.MIN_VALUE);
      for (let i = 0; i < svd.k; i++) {
        const diff = Math.abs(svd.s[i]! - c.s[i]!) / scale;
        expect(diff, `${c.name}: σ${i + 1}`).toBeLessThanOrEqual(1e-4);
        if (diff > worst) [worst, worstCase] = [diff, c.name];
      }
      expectValidSvd(c.a, svd, c.m, c.n);
    }
    summary.push(`exactSvd vs torch: worst |Δσ|/σ1 = ${worst.toExponential(2)} (${worstCase || 'all exact'})`);
  });

  it('finds the exact rank of the rank-deficient fixtures (zeros at rounding level)', () => {
    for (const c of reference.cases.filter((x) => /^rank|^zero/.test(x.name))) {
      const svd = exactSvd(c.a, c.m, c.n);
      const rank = c.s.filter((x) => x > 1e-10 * Math.max(c.s[0]!, 1)).length;
      for (let i = rank; i < svd.k; i++) expect(svd.s[i]!).toBeLessThan(1e-12 * Math.max(c.s[0]!, 1));
    }
  });
});

describe('exactSvd factors', () => {
  const shapes: [string, number, number, (m: number, n: number) => Float64Array][] = [
    ['1 × 1', 1, 1, (m, n) => gaussian(m * n, 1)],
    ['1 × n', 1, 9, (m, n) => gaussian(m * n, 2)],
    ['m × 1', 9, 1, (m, n) => gaussian(m * n, 3)],
    ['square', 23, 23, (m, n) => gaussian(m * n, 4)],
    ['tall', 50, 7, (m, n) => gaussian(m * n, 5)],
    ['wide', 7, 50, (m, n) => gaussian(m * n, 6)],
    ['zero', 5, 8, (m, n) => new Float64Array(m * n)],
    ['zero 1 × 1', 1, 1, () => new Float64Array(1)],
    ['one nonzero entry', 6, 4, (m, n) => Float64Array.from({ length: m * n }, (_, i) => (i === 9 ? -2.5 : 0))],
    ['rank 2 square', 12, 12, (m, n) => fromSpectrum(m, n, [5, 2], 7)],
    ['rank 3 tall', 30, 10, (m, n) => fromSpectrum(m, n, [4, 3, 1e-3], 8)],
    ['rank 1 wide', 4, 30, (m, n) => fromSpectrum(m, n, [1], 9)],
    ['repeated σ', 10, 10, (m, n) => fromSpectrum(m, n, [2, 2, 2, 1, 1, 1, 1, 0.5, 0.5, 0.5], 10)],
    ['geometric decay to 1e-14', 20, 20, (m, n) => fromSpectrum(m, n, Array.from({ length: 20 }, (_, i) => 10 ** (-14 * i / 19)), 11)],
    ['huge entries', 6, 5, (m, n) => gaussian(m * n, 12).map((x) => x * 1e200)],
    ['tiny entries', 6, 5, (m, n) => gaussian(m * n, 13).map((x) => x * 1e-200)],
    ['identical rows', 5, 6, (m, n) => Float64Array.from({ length: m * n }, (_, i) => (i % n) + 1)],
    // 32 equal rows once drove a cheaply updated row norm below zero.
    ['all ones', 40, 40, (m, n) => new Float64Array(m * n).fill(1)],
    ['Hilbert (σ down to 1e−20)', 60, 60, (m, n) => Float64Array.from({ length: m * n }, (_, t) => 1 / (Math.floor(t / n) + (t % n) + 1))],
  ];
  for (const [name, m, n, make] of shapes) {
    it(`${name} (${m} × ${n}): orthonormal U and V to 1e-8, exact reconstruction`, () => {
      const a = make(m, n);
      const svd = exactSvd(a, m, n);
      if (name.includes('entries')) {
        // Relative to the largest entry: squares of 1e-200 underflow in the test's own norms.
        const k = svd.k;
        expect(orthonormalityError(svd.u, m, k)).toBeLessThan(1e-8);
        expect(orthonormalityError(svd.v, n, k)).toBeLessThan(1e-8);
        expect(maxAbsDiff(reconstruct(svd), a) / Math.max(...a.map(Math.abs))).toBeLessThan(1e-12);
        expect(svd.s[0]!).toBeGreaterThan(0);
      } else expectValidSvd(a, svd, m, n);
    });
  }

  it('gives σ exactly for a zero matrix and a diagonal one', () => {
    expect(Array.from(exactSvd(new Float64Array(12), 3, 4).s)).toEqual([0, 0, 0]);
    const d = exactSvd([0, 0, 0, 0, -3, 0, 0, 0, 0, 0, 0, 2], 3, 4);
    expect(Array.from(d.s)).toEqual([3, 2, 0]);
  });

  it('accepts Float32Array and plain arrays alike', () => {
    const a = gaussian(6 * 4, 14);
    const f32 = Float32Array.from(a);
    expect(Array.from(exactSvd(f32, 6, 4).s)).toEqual(Array.from(exactSvd(Array.from(f32), 6, 4).s));
  });

  it('reconstruct and frobeniusError agree with each other for every rank, and a rank above k means all', () => {
    const m = 9;
    const n = 6;
    const a = gaussian(m * n, 15);
    const svd = exactSvd(a, m, n);
    for (let r = 0; r <= svd.k; r++) {
      const rec = reconstruct(svd, r);
      const direct = Math.sqrt(a.reduce((acc, x, i) => acc + (x - rec[i]!) ** 2, 0));
      expect(frobeniusError(a, svd, r)).toBeCloseTo(direct, 12);
      // Eckart–Young: the rank-r error is the root of the tail of σ².
      const tail = Math.sqrt(Array.from(svd.s).slice(r).reduce((acc, x) => acc + x * x, 0));
      expect(frobeniusError(a, svd, r)).toBeCloseTo(tail, 10);
    }
    expect(reconstruct(svd, 0).every((x) => x === 0)).toBe(true);
    expect(reconstruct(svd, 100)).toEqual(reconstruct(svd));
  });
});

describe('randomizedSvd against the optimal truncation', () => {
  /** A matrix and, when it is built from a known spectrum, that spectrum: its optimal rank-r error is then the root of its tail (Eckart–Young), no exact SVD needed. */
  type Family = (m: number, n: number, seed: number) => { a: Float64Array; spectrum?: number[] };
  const spectral = (m: number, n: number, spectrum: number[], seed: number) => ({ a: fromSpectrum(m, n, spectrum, seed), spectrum });
  const families: [string, Family][] = [
    ['random Gaussian', (m, n, seed) => ({ a: gaussian(m * n, seed) })],
    [
      'low rank + noise',
      (m, n, seed) => {
        const k = Math.min(12, m, n);
        const signal = fromSpectrum(m, n, Array.from({ length: k }, (_, i) => 20 - i), seed);
        const noise = gaussian(m * n, seed + 7);
        return { a: signal.map((x, i) => x + 0.05 * noise[i]!) };
      },
    ],
    [
      'ill-conditioned (σ from 1 to 1e−8, geometric)',
      (m, n, seed) => {
        const k = Math.min(m, n);
        return spectral(m, n, Array.from({ length: k }, (_, i) => 10 ** (-8 * i / Math.max(1, k - 1))), seed);
      },
    ],
    ['ill-conditioned (σi = 0.6^i, numerically singular)', (m, n, seed) => spectral(m, n, Array.from({ length: Math.min(m, n) }, (_, i) => 0.6 ** i), seed)],
  ];
  const shapes: [number, number, number][] = [
    [1024, 64, 8],
    [10, 1024, 3],
    [300, 200, 8],
    [300, 200, 20],
    [400, 90, 8],
    [90, 400, 8],
  ];
  for (const [family, make] of families) {
    it(`${family}: rank-r error ≤ 1.05 × optimal on ${shapes.length} shapes`, () => {
      let worst = 0;
      let where = '';
      for (const [m, n, rank] of shapes) {
        const { a, spectrum } = make(m, n, m * 7 + n);
        const optimal = spectrum ? Math.sqrt(spectrum.slice(rank).reduce((acc, x) => acc + x * x, 0)) : frobeniusError(a, exactSvd(a, m, n), rank);
        const svd = randomizedSvd(a, m, n, { rank });
        expect(svd.k).toBe(rank);
        expect(orthonormalityError(svd.u, m, rank)).toBeLessThan(1e-8);
        expect(orthonormalityError(svd.v, n, rank)).toBeLessThan(1e-8);
        const error = frobeniusError(a, svd, rank);
        const ratio = error / optimal;
        expect(error, `${m} × ${n} rank ${rank}`).toBeLessThanOrEqual(1.05 * optimal + 1e-12 * frobenius(a));
        if (ratio > worst) [worst, where] = [ratio, `${m} × ${n} rank ${rank}`];
      }
      summary.push(`randomizedSvd, ${family}: worst error / optimal = 1 + ${(worst - 1).toExponential(1)} (${where})`);
    });
  }

  it('is deterministic for a seed, and a different seed gives a different sketch', () => {
    const a = gaussian(120 * 80, 16);
    const one = randomizedSvd(a, 120, 80, { rank: 5, seed: 3 });
    expect(randomizedSvd(a, 120, 80, { rank: 5, seed: 3 })).toEqual(one);
    const other = randomizedSvd(a, 120, 80, { rank: 5, seed: 4, powerIterations: 0 });
    expect(Array.from(other.s)).not.toEqual(Array.from(one.s));
  });

  it('handles zero, rank-deficient, 1 × n and m × 1 matrices', () => {
    const zero = randomizedSvd(new Float64Array(40 * 30), 40, 30, { rank: 4, oversample: 2 });
    expect(Array.from(zero.s)).toEqual([0, 0, 0, 0]);
    expect(orthonormalityError(zero.u, 40, 4)).toBeLessThan(1e-12);
    expect(orthonormalityError(zero.v, 30, 4)).toBeLessThan(1e-12);
    const lowRank = fromSpectrum(60, 50, [3, 2], 17);
    const svd = randomizedSvd(lowRank, 60, 50, { rank: 5, oversample: 3 });
    expect(svd.s[0]!).toBeCloseTo(3, 12);
    expect(svd.s[1]!).toBeCloseTo(2, 12);
    expect(svd.s[2]!).toBeLessThan(1e-12);
    expect(frobeniusError(lowRank, svd)).toBeLessThan(1e-12);
    expect(orthonormalityError(svd.u, 60, 5)).toBeLessThan(1e-8);
    for (const [m, n] of [[1, 20], [20, 1]] as const) {
      const a = gaussian(m * n, 18);
      const r = randomizedSvd(a, m, n, { rank: 3 });
      expect(r.k).toBe(1);
      expect(r.s[0]!).toBeCloseTo(frobenius(a), 12);
      expect(frobeniusError(a, r)).toBeLessThan(1e-12);
    }
  });
});

describe('truncatedSvd', () => {
  it('is the truncated exact SVD for small matrices and for rank + oversample ≥ min(m, n)', () => {
    const cases: [number, number, number][] = [
      [EXACT_SVD_MAX_MIN_DIM, 300, 4],
      [100, 100, 90],
      [30, 12, 20],
    ];
    for (const [m, n, rank] of cases) {
      const a = gaussian(m * n, m + n);
      const exact = exactSvd(a, m, n);
      const t = truncatedSvd(a, m, n, { rank });
      const k = Math.min(rank, m, n);
      expect(t.k).toBe(k);
      expect(Array.from(t.s)).toEqual(Array.from(exact.s.slice(0, k)));
      expect(frobeniusError(a, t)).toBeCloseTo(frobeniusError(a, exact, k), 10);
    }
  });

  it('is randomizedSvd with the same options above the threshold', () => {
    const m = EXACT_SVD_MAX_MIN_DIM + 16;
    const a = gaussian(m * 150, 19);
    const o = { rank: 6, seed: 2, powerIterations: 2 };
    expect(truncatedSvd(a, m, 150, o)).toEqual(randomizedSvd(a, m, 150, o));
  });
});

describe('argument errors', () => {
  const a = [1, 2, 3, 4, 5, 6];
  const cases: [string, () => unknown, string, string][] = [
    ['length ≠ m·n', () => exactSvd(a, 2, 2), 'SHAPE_MISMATCH', '6 values'],
    ['non-integer m', () => exactSvd(a, 1.5, 4), 'PARAMETER_INVALID', 'positive integers'],
    ['zero n', () => exactSvd([], 2, 0), 'PARAMETER_INVALID', 'positive integers'],
    ['NaN entry', () => exactSvd([1, NaN, 3, 4, 5, 6], 2, 3), 'PARAMETER_INVALID', 'entry (0, 1) is NaN'],
    ['infinite entry', () => randomizedSvd([1, 2, 3, 4, 5, -Infinity], 2, 3, { rank: 1 }), 'PARAMETER_INVALID', 'entry (1, 2) is -Infinity'],
    ['rank 0', () => randomizedSvd(a, 2, 3, { rank: 0 }), 'PARAMETER_INVALID', 'rank is 0'],
    ['fractional rank', () => truncatedSvd(a, 2, 3, { rank: 1.5 }), 'PARAMETER_INVALID', 'rank is 1.5'],
    ['negative oversample', () => randomizedSvd(a, 2, 3, { rank: 1, oversample: -1 }), 'PARAMETER_INVALID', 'oversample'],
    ['NaN powerIterations', () => randomizedSvd(a, 2, 3, { rank: 1, powerIterations: NaN }), 'PARAMETER_INVALID', 'powerIterations'],
    ['fractional seed', () => randomizedSvd(a, 2, 3, { rank: 1, seed: 0.5 }), 'PARAMETER_INVALID', 'seed'],
    ['reconstruct rank −1', () => reconstruct(exactSvd(a, 2, 3), -1), 'PARAMETER_INVALID', 'rank is -1'],
    ['frobeniusError of another shape', () => frobeniusError([1, 2, 3, 4], exactSvd(a, 2, 3)), 'SHAPE_MISMATCH', '4 values'],
    ['inconsistent Svd', () => reconstruct({ ...exactSvd(a, 2, 3), k: 3 }), 'SHAPE_MISMATCH', 'do not fit'],
  ];
  for (const [name, f, code, mentions] of cases) it(`${name} → ${code}`, () => expectCode(f, code, mentions));
});

describe('properties (fast-check)', () => {
  const entry = fc.oneof(
    fc.integer({ min: -3, max: 3 }),
    fc.double({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true }),
  );
  const matrix = fc
    .record({ m: fc.integer({ min: 1, max: 7 }), n: fc.integer({ min: 1, max: 7 }) })
    .chain(({ m, n }) => fc.record({ m: fc.constant(m), n: fc.constant(n), a: fc.array(entry, { minLength: m * n, maxLength: m * n }) }));

  it('σ is descending and ≥ 0, U and V are orthonormal, and U·Σ·Vᵀ = A', () => {
    fc.assert(fc.property(matrix, ({ m, n, a }) => expectValidSvd(a, exactSvd(a, m, n), m, n)));
  });

  it('‖A‖_F² = Σσ²', () => {
    fc.assert(
      fc.property(matrix, ({ m, n, a }) => {
        const s = exactSvd(a, m, n).s;
        const sum = s.reduce((acc, x) => acc + x * x, 0);
        const norm2 = frobenius(a) ** 2;
        expect(Math.abs(sum - norm2)).toBeLessThanOrEqual(1e-12 * Math.max(norm2, Number.MIN_VALUE));
      }),
    );
  });

  it('scaling A by c scales σ by |c|', () => {
    fc.assert(
      // Normal c only: a subnormal c·a keeps a few bits, and no algorithm can get its σ to 1e−12.
      fc.property(matrix, fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e3, noNaN: true }), fc.double({ min: -1e3, max: -1e-6, noNaN: true })), ({ m, n, a }, c) => {
        const s = exactSvd(a, m, n).s;
        const sc = exactSvd(a.map((x) => x * c), m, n).s;
        for (let i = 0; i < s.length; i++) expect(Math.abs(sc[i]! - Math.abs(c) * s[i]!)).toBeLessThanOrEqual(1e-12 * Math.abs(c) * (s[0]! + 1e-300));
      }),
    );
  });

  it('transposing A keeps σ and swaps U and V (up to sign, for separated σ)', () => {
    fc.assert(
      fc.property(matrix, ({ m, n, a }) => {
        const svd = exactSvd(a, m, n);
        const t = exactSvd(transposed(a, m, n), n, m);
        const k = svd.k;
        for (let i = 0; i < k; i++) expect(Math.abs(t.s[i]! - svd.s[i]!)).toBeLessThanOrEqual(1e-12 * (svd.s[0]! + 1e-300));
        for (let c = 0; c < k; c++) {
          const gap = Math.min(c > 0 ? svd.s[c - 1]! - svd.s[c]! : Infinity, c + 1 < k ? svd.s[c]! - svd.s[c + 1]! : svd.s[c]!);
          if (gap <= 1e-6 * svd.s[0]!) continue;
          let du = 0;
          let dv = 0;
          for (let i = 0; i < m; i++) du += t.v[i * k + c]! * svd.u[i * k + c]!;
          for (let j = 0; j < n; j++) dv += t.u[j * k + c]! * svd.v[j * k + c]!;
          expect(Math.abs(Math.abs(du) - 1)).toBeLessThan(1e-8);
          expect(Math.abs(Math.abs(dv) - 1)).toBeLessThan(1e-8);
        }
      }),
    );
  });

  it('low-rank integer matrices up to 40 × 40: valid factors and exact reconstruction, exact and randomized', () => {
    const lowRank = fc
      .record({ m: fc.integer({ min: 1, max: 40 }), n: fc.integer({ min: 1, max: 40 }), r: fc.integer({ min: 0, max: 4 }), seed: fc.integer() })
      .map(({ m, n, r, seed }) => {
        const random = createRandom(seed);
        const x = Array.from({ length: m * r }, () => Math.floor(random() * 3) - 1);
        const y = Array.from({ length: r * n }, () => Math.floor(random() * 3) - 1);
        const a = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let c = 0; c < r; c++) a[i * n + j]! += x[i * r + c]! * y[c * n + j]!;
        return { m, n, a };
      });
    fc.assert(
      fc.property(lowRank, ({ m, n, a }) => {
        expectValidSvd(a, exactSvd(a, m, n), m, n);
        // Rank ≤ 4 < 6: the randomized factors reproduce A as well.
        const r = randomizedSvd(a, m, n, { rank: Math.min(m, n, 6), oversample: 2 });
        expect(orthonormalityError(r.u, m, r.k)).toBeLessThan(1e-8);
        expect(orthonormalityError(r.v, n, r.k)).toBeLessThan(1e-8);
        expect(maxAbsDiff(reconstruct(r), a)).toBeLessThanOrEqual(1e-12 * Math.max(1, frobenius(a)));
      }),
      { numRuns: 150 },
    );
  });

  it('the rank-r error of truncatedSvd is Eckart–Young optimal on small matrices', () => {
    fc.assert(
      fc.property(matrix, fc.integer({ min: 1, max: 7 }), ({ m, n, a }, rank) => {
        const t = truncatedSvd(a, m, n, { rank });
        const s = exactSvd(a, m, n).s;
        const tail = Math.sqrt(s.slice(t.k).reduce((acc, x) => acc + x * x, 0));
        expect(Math.abs(frobeniusError(a, t) - tail)).toBeLessThanOrEqual(1e-9 * (frobenius(a) + 1e-300));
      }),
    );
  });
});

describe('timings (printed, not asserted)', () => {
  it('exactSvd 64 × 1024 and randomizedSvd rank 8 / 64 on 512 × 512', () => {
    const random = createRandom(5);
    const big = Float32Array.from({ length: 512 * 512 }, () => random() - 0.5);
    const wide = big.subarray(0, 64 * 1024);
    const time = (f: () => unknown) => {
      const t0 = performance.now();
      f();
      return `${(performance.now() - t0).toFixed(0)} ms`;
    };
    const lines = [
      `exactSvd 64 × 1024: ${time(() => exactSvd(wide, 64, 1024))}`,
      `randomizedSvd 512² rank 8: ${time(() => randomizedSvd(big, 512, 512, { rank: 8 }))}`,
      `randomizedSvd 512² rank 64: ${time(() => randomizedSvd(big, 512, 512, { rank: 64 }))}`,
    ];
    console.log(`svd timings: ${lines.join('; ')}`);
  });
});
