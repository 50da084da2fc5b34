/**
 * The 16-bit rounding the mergekit arithmetic rests on: roundInPlace must equal the file encoder's
 * conversion (c10's round-to-nearest-even, checked against torch by the io tests) for every float32,
 * subnormals, overflow, ties and NaN included; and the op helpers round once per op.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeToFloat32, encodeFromFloat32 } from '../../src/engine/io/dtypes.js';
import { float32BitsOf, halfMath, roundInPlace, roundNumber, type HalfDType } from '../../src/engine/half/half-math.js';

const viaFile = (d: HalfDType, x: Float32Array) => decodeToFloat32(d, encodeFromFloat32(d, x));
const fromBits = (bits: number[]) => new Float32Array(new Uint32Array(bits).buffer);
const sameBits = (a: Float32Array, b: Float32Array) => [...a].map(float32BitsOf).join() === [...b].map(float32BitsOf).join();

describe('roundInPlace', () => {
  for (const d of ['BF16', 'F16'] as const) {
    it(`${d}: equals the file encoder's rounding for any float32 bit pattern`, () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 64 }), (bits) => {
          const x = fromBits(bits);
          const want = viaFile(d, x);
          const got = roundInPlace(d, x.slice());
          // NaN payloads aside (both give a NaN), every value matches bit for bit.
          return [...got].every((g, i) => (Number.isNaN(want[i]!) ? Number.isNaN(g) : float32BitsOf(g) === float32BitsOf(want[i]!)));
        }),
        { numRuns: 400 },
      );
    });
  }

  it('ties go to even, halfway cases at the float16 subnormal and overflow edges included', () => {
    // bf16: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 → 1 (even); 1 + 3·2^-8 → 1 + 2^-6.
    expect([...roundInPlace('BF16', Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8))]).toEqual([1, 1 + 2 ** -6]);
    // f16: 2^-25 is half the smallest subnormal → 0; 3·2^-25 → 2·2^-24; 65519 → 65504; 65520 → ∞.
    expect([...roundInPlace('F16', Float32Array.of(2 ** -25, 3 * 2 ** -25, 65519, 65520, -65520))]).toEqual([0, 2 ** -23, 65504, Infinity, -Infinity]);
    expect(sameBits(roundInPlace('F16', Float32Array.of(-0)), Float32Array.of(-0))).toBe(true);
  });
});

describe('halfMath: one rounding per op, scalars rounded first', () => {
  it('a · 0.3 uses 0.3 rounded to the dtype (torch 1.13 wraps the scalar in the tensor dtype)', () => {
    const h = halfMath('BF16');
    const a = roundInPlace('BF16', Float32Array.of(0.0123, -1.7, 3.3));
    const got = h.mulScalar(a, h.scalar(0.3));
    const s = roundNumber('BF16', 0.3);
    expect(s).not.toBe(Math.fround(0.3));
    expect([...got]).toEqual([...a].map((v) => roundNumber('BF16', Math.fround(v * s))));
  });

  it('sumOf accumulates in float32 and rounds once, not after every addition', () => {
    const h = halfMath('BF16');
    // 256 + 1 + 1: rounding after each step would stay at 256 (bf16 has 8 significant bits).
    const parts = [256, 1, 1].map((v) => Float32Array.of(v));
    expect(h.sumOf(parts)[0]).toBe(258);
    expect(h.add(h.add(parts[0]!, parts[1]!), parts[2]!)[0]).toBe(256);
  });
});
