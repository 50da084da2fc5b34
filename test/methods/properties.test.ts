/**
 * Properties of the methods and of their building blocks on random inputs (fast-check), each
 * with the tolerance it holds to.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nthSmallest, stableRankRangeMask, topKAbsMask } from '../../src/engine/linalg/select.js';
import { torchSortOrder, torchSortRangeMask } from '../../src/engine/linalg/torch-sort.js';
import { bernoulliMask } from '../../src/engine/random.js';
import { keptMask, l1RescaleFactor, sparsifyKept, sparsifyMask } from '../../src/engine/methods/sparsify.js';
import { expectClose, runMethod } from './helpers.js';

const f32 = fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true });
/** Values drawn from a few levels, so ties are common. */
const quantized = fc.integer({ min: -3, max: 3 }).map((x) => x / 2);

describe('order statistics with torch tie-breaking', () => {
  const arrays = (max: number) => fc.array(fc.oneof(quantized, quantized, f32), { minLength: 1, maxLength: max });
  const stableOrder = (a: Float32Array, desc: boolean) => [...a.keys()].sort((i, j) => (desc ? a[j]! - a[i]! : a[i]! - a[j]!) || i - j);
  it('nthSmallest equals sorting', () => {
    fc.assert(
      fc.property(arrays(60), fc.nat(), (xs, k0) => {
        const a = Float32Array.from(xs);
        const k = k0 % a.length;
        // == rather than Object.is: −0 and +0 are the same order statistic.
        expect(nthSmallest(a, k) === [...a].sort((x, y) => x - y)[k]).toBe(true);
      }),
    );
  });
  it('torchSortOrder sorts, and is stable up to 16 elements (libstdc++ insertion sort)', () => {
    fc.assert(
      fc.property(arrays(300), fc.boolean(), (xs, desc) => {
        const a = Float32Array.from(xs);
        const order = torchSortOrder(a, desc);
        expect([...order].sort((x, y) => x - y)).toEqual([...a.keys()]);
        for (let p = 1; p < order.length; p++) {
          const prev = a[order[p - 1]!]!;
          const cur = a[order[p]!]!;
          expect(desc ? prev >= cur : prev <= cur).toBe(true);
        }
        if (a.length <= 16) expect(Array.from(order)).toEqual(stableOrder(a, desc));
      }),
    );
  });
  it('torchSortRangeMask (following only the ranges that hold a cut) keeps what the full torch order keeps', () => {
    const ties = fc.array(fc.integer({ min: -4, max: 4 }).map((v) => v / 4), { minLength: 1, maxLength: 600 });
    fc.assert(
      fc.property(ties, fc.nat(), fc.nat(), fc.boolean(), (xs, p, q, desc) => {
        const a = Float32Array.from(xs);
        const lo = p % (a.length + 1);
        const hi = lo + (q % (a.length - lo + 1));
        const order = torchSortOrder(a, desc);
        const want = new Uint8Array(a.length);
        for (let pos = lo; pos < hi; pos++) want[order[pos]!] = 1;
        expect(Array.from(torchSortRangeMask(a, desc, lo, hi))).toEqual(Array.from(want));
      }),
      { numRuns: 300 },
    );
  });
  it('topKAbsMask keeps what torch.argsort(|x|, descending)[:k] keeps', () => {
    fc.assert(
      fc.property(arrays(200), fc.nat(), (xs, k0) => {
        const x = Float32Array.from(xs);
        const k = k0 % (x.length + 1);
        const order = torchSortOrder(x.map(Math.abs), true);
        const want = new Uint8Array(x.length);
        for (const i of order.slice(0, k)) want[i] = 1;
        expect(Array.from(topKAbsMask(x, k))).toEqual(Array.from(want));
      }),
    );
  });
  it('stableRankRangeMask keeps what torch.sort(|x|).indices[lo:hi] keeps', () => {
    fc.assert(
      fc.property(arrays(200), fc.nat(), fc.nat(), fc.boolean(), (xs, p, q, abs) => {
        const a = Float32Array.from(xs);
        const lo = p % (a.length + 1);
        const hi = lo + (q % (a.length - lo + 1));
        const order = torchSortOrder(abs ? a.map(Math.abs) : a, false);
        const want = new Uint8Array(a.length);
        for (let pos = lo; pos < hi; pos++) want[order[pos]!] = 1;
        expect(Array.from(stableRankRangeMask(a, lo, hi, abs))).toEqual(Array.from(want));
      }),
    );
  });
});

describe('sparsification', () => {
  const args = { shape: [0], seed: 3, stream: 0, tensorName: 't', model: 'm', warn: () => {} };
  it("magnitude keeps ⌊d·n⌋ entries, the largest |τ| first, in torch's order among ties", () => {
    fc.assert(
      fc.property(fc.array(quantized, { minLength: 2, maxLength: 40 }), fc.double({ min: 0.05, max: 0.99, noNaN: true }), (xs, d) => {
        const tau = Float32Array.from(xs);
        const k = Math.floor(d * tau.length);
        fc.pre(k > 0);
        const mask = sparsifyMask(tau, { ...args, kind: 'magnitude', density: d, shape: [tau.length] })!;
        const order = torchSortOrder(tau.map(Math.abs), true);
        const want = new Uint8Array(tau.length);
        for (const i of order.slice(0, k)) want[i] = 1;
        expect(Array.from(mask)).toEqual(Array.from(want));
        expect(mask.reduce((s, v) => s + v, 0)).toBe(k);
      }),
    );
  });
  it('a kept sort order (live recompute) keeps the same entries with the same rescale as a fresh trim', () => {
    fc.assert(
      fc.property(
        fc.array(quantized, { minLength: 4, maxLength: 60 }),
        fc.double({ min: 0.05, max: 0.99, noNaN: true }),
        fc.constantFrom('magnitude' as const, 'magnitude_outliers' as const),
        (xs, d, kind) => {
          const tau = Float32Array.from(xs);
          fc.pre(Math.floor(d * tau.length) > 0);
          const a = { ...args, kind, density: d, gamma: 0.1, shape: [tau.length] };
          const fresh = sparsifyKept(tau, a)!;
          const cache = new Map<string, Int32Array>();
          const cached = sparsifyKept(tau, { ...a, orderCache: cache, cacheKey: 't\u0000m' })!;
          // (Breadcrumbs with γ·n < 1 keeps nothing: a mask, no order needed.)
          if (kind === 'magnitude') expect('rank' in cached, 'the cached trim is a rank range').toBe(true);
          const size = cache.size;
          expect(size).toBeLessThanOrEqual(1);
          expect(Array.from(keptMask(cached))).toEqual(Array.from(keptMask(fresh)));
          expect(l1RescaleFactor(tau, cached)).toBe(l1RescaleFactor(tau, keptMask(fresh)));
          // A second density reuses the kept ranks.
          const d2 = d / 2;
          if (Math.floor(d2 * tau.length) > 0) {
            const again = sparsifyKept(tau, { ...a, density: d2, orderCache: cache, cacheKey: 't\u0000m' })!;
            expect(Array.from(keptMask(again))).toEqual(Array.from(sparsifyMask(tau, { ...a, density: d2 })!));
          }
          expect(cache.size, 'a second density reuses the kept ranks').toBe(size);
        },
      ),
    );
  });
  it('random (DARE) keeps about density of the entries', () => {
    const n = 200_000;
    for (const d of [0.1, 0.5, 0.9]) {
      const kept = bernoulliMask(11, 2, d, n).reduce((s, v) => s + v, 0);
      // Binomial standard deviation √(n·d·(1−d)) ≤ 224; allow 5σ.
      expect(Math.abs(kept - d * n)).toBeLessThan(5 * Math.sqrt(n * d * (1 - d)));
    }
  });
  it('different streams and seeds give different masks, the same ones give the same', () => {
    const a = bernoulliMask(1, 0, 0.5, 1000);
    expect(Array.from(bernoulliMask(1, 0, 0.5, 1000))).toEqual(Array.from(a));
    expect(Array.from(bernoulliMask(1, 1, 0.5, 1000))).not.toEqual(Array.from(a));
    expect(Array.from(bernoulliMask(2, 0, 0.5, 1000))).not.toEqual(Array.from(a));
  });
  it('rescale restores the L1 norm', () => {
    fc.assert(
      fc.property(fc.array(f32, { minLength: 20, maxLength: 200 }), (xs) => {
        const tau = Float32Array.from(xs);
        const mask = bernoulliMask(5, 0, 0.5, tau.length);
        const f = l1RescaleFactor(tau, mask);
        const l1 = tau.reduce((s, v) => s + Math.abs(v), 0);
        const kept = tau.reduce((s, v, i) => s + (mask[i] ? Math.abs(v) : 0), 0);
        fc.pre(kept > 1e-3);
        expect(Math.abs(kept * f - l1)).toBeLessThanOrEqual(1e-5 * Math.max(1, l1));
      }),
    );
  });
  it('DELLA keeps high-magnitude entries more often than low ones, about density overall', () => {
    const rows = 200;
    const cols = 100;
    const tau = Float32Array.from({ length: rows * cols }, (_, i) => (i % cols) + 1);
    const mask = sparsifyMask(tau, { ...args, kind: 'della_magprune', density: 0.5, epsilon: 0.2, shape: [rows, cols] })!;
    let low = 0;
    let high = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < 10; c++) low += mask[r * cols + c]!;
      for (let c = 90; c < 100; c++) high += mask[r * cols + c]!;
    }
    // Keep probability ≈ 0.3 + 0.4·rank: about 0.32 for the lowest tenth, 0.68 for the highest.
    expect(low / 2000).toBeGreaterThan(0.27);
    expect(low / 2000).toBeLessThan(0.37);
    expect(high / 2000).toBeGreaterThan(0.63);
    expect(high / 2000).toBeLessThan(0.73);
    const kept = mask.reduce((s, v) => s + v, 0) / tau.length;
    expect(Math.abs(kept - 0.5)).toBeLessThan(0.02);
  });
});

describe('method properties', () => {
  const vec = (n: number) => fc.array(f32, { minLength: n, maxLength: n });
  it('TIES with density 1 and one model equals task arithmetic', () => {
    fc.assert(
      fc.property(vec(12), vec(12), fc.double({ min: 0.1, max: 2, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), (b, x, w, lambda) => {
        const models = [{ isBase: true, values: b }, { values: x, params: { weight: w } }];
        const ties = runMethod('ties', { shape: [3, 4], models, global: { lambda } }).values;
        // normalize (TIES default) divides by w where the model kept its sign, i.e. everywhere τ ≠ 0.
        const ta = runMethod('task_arithmetic', { shape: [3, 4], models, global: { lambda, normalize: true } }).values;
        expectClose(ties, ta, 1e-5);
      }),
      { numRuns: 40 },
    );
  });
  it('linear of identical models is that model', () => {
    fc.assert(
      fc.property(vec(8), fc.array(fc.double({ min: 0.1, max: 3, noNaN: true }), { minLength: 2, maxLength: 4 }), (x, ws) => {
        const { values } = runMethod('linear', { shape: [8], models: ws.map((w) => ({ values: x, params: { weight: w } })) });
        expectClose(values, x, 1e-5);
      }),
      { numRuns: 40 },
    );
  });
  it('slerp at t = 0 and t = 1 gives the endpoints', () => {
    fc.assert(
      fc.property(vec(6), vec(6), (a, b) => {
        const models = [{ isBase: true, values: a }, { values: b }];
        expectClose(runMethod('slerp', { shape: [6], models, global: { t: 0 } }).values, a, 1e-5);
        expectClose(runMethod('slerp', { shape: [6], models, global: { t: 1 } }).values, b, 1e-5);
      }),
      { numRuns: 40 },
    );
  });
  it('DARE with rescale keeps about density of each task vector and its L1 norm', () => {
    const n = 20_000;
    const tau = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.01);
    const { values } = runMethod('dare_linear', {
      shape: [n],
      models: [{ isBase: true, values: new Float32Array(n) }, { values: tau, params: { weight: 1, density: 0.3 } }],
    });
    const kept = values.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0);
    expect(Math.abs(kept / n - 0.3)).toBeLessThan(0.015);
    const l1 = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + Math.abs(v), 0);
    expect(Math.abs(l1(values) / l1(tau) - 1)).toBeLessThan(1e-4);
  });
  it('random methods give the same bytes for the same seed, other bytes for another', () => {
    const n = 64;
    const models = [
      { isBase: true, values: new Float32Array(n) },
      { values: Float32Array.from({ length: n }, (_, i) => Math.cos(i)), params: { weight: 1, density: 0.5 } },
      { values: Float32Array.from({ length: n }, (_, i) => Math.sin(i)), params: { weight: 0.5, density: 0.5 } },
    ];
    for (const id of ['dare_ties', 'dare_linear', 'della', 'della_linear']) {
      const a = runMethod(id, { shape: [8, 8], models, seed: 1 }).values;
      expect(Array.from(runMethod(id, { shape: [8, 8], models, seed: 1 }).values)).toEqual(Array.from(a));
      expect(Array.from(runMethod(id, { shape: [8, 8], models, seed: 2 }).values)).not.toEqual(Array.from(a));
    }
  });
});
