/**
 * The trims' selections against the sort-based path they replace: every kept set equals the one
 * the literal model of torch's sort (pairs of floats moved together, torch-sort-reference.ts) gives
 * for the same positions, on random arrays full of ties, with −0, ±∞ and NaNs of several payloads
 * and signs; and the selections only read their input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskFromOrder, stableRankRangeMask, topKAbsMask, zeroOutsideTopKAbs } from '../../src/engine/linalg/select.js';
import { torchAbsSortOrder, torchSortOrder, torchSortRangeMask, torchTopKAbsTieMask } from '../../src/engine/linalg/torch-sort.js';
import { referenceSortOrder } from './torch-sort-reference.js';

/** NaNs with other payloads and a sign, which torch holds equal to each other and above +∞. */
const NANS = [NaN, bitsToFloat(0xffc00000), bitsToFloat(0x7f800001), bitsToFloat(0x7fc00abc)];

function bitsToFloat(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0]!;
}

/** Few distinct values (ties everywhere), some special ones, and now and then any float. */
const entry = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -4, max: 4 }).map((v) => v / 4) },
  { weight: 1, arbitrary: fc.constantFrom(-0, Infinity, -Infinity, ...NANS) },
  { weight: 2, arbitrary: fc.float({ min: -4, max: 4, noNaN: true }) },
);
const arrays = (max: number) => fc.array(entry, { minLength: 1, maxLength: max }).map((xs) => Float32Array.from(xs));
/** A range [lo, hi) of positions of an array of n. */
const range = (n: number, p: number, q: number): [number, number] => {
  const lo = p % (n + 1);
  return [lo, lo + (q % (n - lo + 1))];
};
const abs = (a: Float32Array) => a.map(Math.abs);
const bytes = (a: Float32Array) => Array.from(new Uint8Array(a.buffer.slice(0)));

describe('torch sort order read through the index array', () => {
  it('torchSortOrder and torchAbsSortOrder are the literal model of std::sort over (value, index) pairs', () => {
    fc.assert(
      fc.property(arrays(400), fc.boolean(), (a, desc) => {
        expect(Array.from(torchSortOrder(a, desc))).toEqual(Array.from(referenceSortOrder(a, desc)));
        expect(Array.from(torchAbsSortOrder(a, desc))).toEqual(Array.from(referenceSortOrder(abs(a), desc)));
      }),
      { numRuns: 300 },
    );
  });

  it('torchSortRangeMask keeps what positions [lo, hi) of the full order keep, and only reads its input', () => {
    fc.assert(
      fc.property(arrays(600), fc.nat(), fc.nat(), fc.boolean(), fc.boolean(), (a, p, q, desc, onAbs) => {
        const [lo, hi] = range(a.length, p, q);
        const before = bytes(a);
        const want = maskFromOrder(referenceSortOrder(onAbs ? abs(a) : a, desc), lo, hi);
        expect(Array.from(torchSortRangeMask(a, desc, lo, hi, onAbs))).toEqual(Array.from(want));
        expect(bytes(a)).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the trims by selection', () => {
  it('topKAbsMask keeps torch.argsort(|x|, descending)[:k]', () => {
    fc.assert(
      fc.property(arrays(300), fc.nat(), (x, k0) => {
        const k = k0 % (x.length + 1);
        const before = bytes(x);
        expect(Array.from(topKAbsMask(x, k))).toEqual(Array.from(maskFromOrder(referenceSortOrder(abs(x), true), 0, k)));
        expect(bytes(x)).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('zeroOutsideTopKAbs leaves x as x times topKAbsMask(x, k): the same signed zeros and NaNs, kept entries untouched', () => {
    const check = (x: Float32Array, k: number) => {
      const mask = topKAbsMask(x, k);
      const want = x.map((v, i) => (mask[i] ? v : v * 0));
      const got = x.slice();
      zeroOutsideTopKAbs(got, k);
      expect(Array.from(got)).toEqual(Array.from(want));
    };
    fc.assert(
      fc.property(arrays(300), fc.nat(), (x, k0) => check(x, k0 % (x.length + 1))),
      { numRuns: 300 },
    );
    // Past the radix histogram, with and without ties at the cut.
    for (const quantized of [true, false]) {
      let s = quantized ? 7 : 11;
      const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
      const x = Float32Array.from({ length: 5000 }, () => (quantized ? Math.round(next() * 40) / 8 : next()));
      for (const k of [1, 1500, 2500, 4999]) check(x, k);
    }
  });

  it('stableRankRangeMask keeps torch.sort(x).indices[lo:hi], of |x| too', () => {
    fc.assert(
      fc.property(arrays(300), fc.nat(), fc.nat(), fc.boolean(), (a, p, q, onAbs) => {
        const [lo, hi] = range(a.length, p, q);
        const before = bytes(a);
        const want = maskFromOrder(referenceSortOrder(onAbs ? abs(a) : a, false), lo, hi);
        expect(Array.from(stableRankRangeMask(a, lo, hi, onAbs))).toEqual(Array.from(want));
        expect(bytes(a)).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('past the radix histogram (over 2,048 entries), with and without ties at the cut', () => {
    // Quantized entries: most cuts fall inside a tie group (torch's order decides); spread ones: none do.
    const big = fc.tuple(fc.integer({ min: 2049, max: 6000 }), fc.integer({ min: 1, max: 2 ** 20 }), fc.boolean(), fc.nat(), fc.nat());
    fc.assert(
      fc.property(big, ([n, seed, quantized, p, q]) => {
        let s = seed;
        const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
        const x = Float32Array.from({ length: n }, () => (quantized ? Math.round(next() * 40) / 8 : next()));
        const [lo, hi] = range(n, p, q);
        const absOrder = referenceSortOrder(abs(x), true);
        expect(Array.from(topKAbsMask(x, hi))).toEqual(Array.from(maskFromOrder(absOrder, 0, hi)));
        const ascending = referenceSortOrder(abs(x), false);
        expect(Array.from(stableRankRangeMask(x, lo, hi, true))).toEqual(Array.from(maskFromOrder(ascending, lo, hi)));
      }),
      { numRuns: 12 },
    );
  });

  it('the tie selection (keys carried, tied entries followed by ordinal) keeps what the index sort keeps, heapsort fallback included', () => {
    // Structured arrays (runs, organ pipes, sawtooths, square roots) drive median-of-three
    // quicksort past its depth limit: checked by counting, these reach the heapsort 42 times.
    const patterns: ((n: number, i: number) => number)[] = [
      (_, i) => i % 7,
      (n, i) => (i < n / 2 ? i : n - i) % 9,
      (_, i) => (i * 7919) % 13,
      (n, i) => n - i,
      (_, i) => i,
      (n, i) => (i % 2 ? i : n - i),
      (_, i) => Math.floor(Math.sqrt(i)),
      (_, i) => (i ^ (i >> 3)) % 11,
    ];
    let checked = 0;
    for (let n = 17; n < 3000; n = Math.ceil(n * 1.13)) {
      for (const f of patterns) {
        const x = Float32Array.from({ length: n }, (_, i) => (f(n, i) - 3) / 4);
        const magnitudes = abs(x);
        const order = referenceSortOrder(magnitudes, true);
        for (const k of [1, Math.floor(n / 3), Math.floor(n / 2), n - 1]) {
          const at = magnitudes[order[k - 1]!]!;
          const threshold = new Uint32Array(Float32Array.of(at).buffer)[0]!;
          const tied = magnitudes.filter((v) => v === at).length;
          expect(Array.from(torchTopKAbsTieMask(x, k, threshold, tied)), `n ${n}, k ${k}`).toEqual(Array.from(maskFromOrder(order, 0, k)));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});

