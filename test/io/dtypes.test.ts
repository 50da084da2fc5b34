/**
 * dtype decoding and encoding. The F16/BF16/F8 encoders are checked against a brute-force
 * reference: the nearest representable value found by search over all bit patterns, ties to the
 * even pattern, overflow past the largest finite value as far as the next (virtual) step.
 * Tolerance: bit-exact.
 */
import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToNumber,
  decodeToFloat32,
  encodeFromFloat32,
  float16BitsToNumber,
  float8E4M3ToNumber,
  float8E5M2ToNumber,
  numberToBfloat16Bits,
  numberToFloat16Bits,
  numberToFloat8E4M3,
  numberToFloat8E5M2,
} from '../../src/engine/io/dtypes.js';
import { fromBits, randomFloats } from './helpers.js';

interface Format {
  name: string;
  decode: (bits: number) => number;
  encode: (x: number) => number;
  signBit: number;
  maxFinite: number;
  /** Pattern that overflow produces (infinity, or NaN for e4m3fn). */
  overflow: number;
}

const FORMATS: Format[] = [
  { name: 'F16', decode: float16BitsToNumber, encode: numberToFloat16Bits, signBit: 0x8000, maxFinite: 0x7bff, overflow: 0x7c00 },
  { name: 'BF16', decode: bfloat16BitsToNumber, encode: numberToBfloat16Bits, signBit: 0x8000, maxFinite: 0x7f7f, overflow: 0x7f80 },
  { name: 'F8_E4M3', decode: float8E4M3ToNumber, encode: numberToFloat8E4M3, signBit: 0x80, maxFinite: 0x7e, overflow: 0x7f },
  { name: 'F8_E5M2', decode: float8E5M2ToNumber, encode: numberToFloat8E5M2, signBit: 0x80, maxFinite: 0x7b, overflow: 0x7c },
];

/** Reference rounding by search: positive patterns 0..maxFinite are ordered by value. */
function reference(fmt: Format, x: number): number {
  const v = Math.fround(x);
  const sign = v < 0 || Object.is(v, -0) ? fmt.signBit : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | fmt.overflow;
  const top = fmt.decode(fmt.maxFinite);
  const virtualNext = top + (top - fmt.decode(fmt.maxFinite - 1));
  const val = (b: number) => (b > fmt.maxFinite ? virtualNext : fmt.decode(b));
  let lo = 0;
  let hi = fmt.maxFinite + 1;
  // largest pattern with value <= a
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (val(mid) <= a) lo = mid;
    else hi = mid;
  }
  if (val(lo) === a) return sign | lo;
  const up = lo + 1;
  // 2a vs lo+up is exact in float64, unlike the two differences.
  const twice = 2 * a;
  const mid = val(lo) + val(up);
  const pick = twice < mid ? lo : twice > mid ? up : lo % 2 === 0 ? lo : up;
  return sign | (pick > fmt.maxFinite ? fmt.overflow : pick);
}

const EDGE = [
  0, -0, 1, -1, 0.1, -0.1, 1 / 3, 65504, 65519.99, 65520, 65536, -65520, 448, 464, 465, 479, 480, 57344, 61440, 61441,
  2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 2 ** -14 - 2 ** -25, 2 ** -6, 2 ** -9, 2 ** -10, 3 * 2 ** -11, 2 ** -16, 2 ** -17,
  1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -4, 1 + 3 * 2 ** -4,
  3.4028234663852886e38, -3.4028234663852886e38, 3.3961776e38, 1.401298464324817e-45, 1.1754943508222875e-38, 1e-40,
  Infinity, -Infinity, 1e-8, 1e8, 2 ** 127 * 1.9921875, 2 ** 127 * 1.99609375,
];

describe('float decoders', () => {
  it('decode known bit patterns', () => {
    expect(float16BitsToNumber(0x3c00)).toBe(1);
    expect(float16BitsToNumber(0xc000)).toBe(-2);
    expect(float16BitsToNumber(0x7bff)).toBe(65504);
    expect(float16BitsToNumber(0x0001)).toBe(2 ** -24);
    expect(float16BitsToNumber(0x0400)).toBe(2 ** -14);
    expect(float16BitsToNumber(0x7c00)).toBe(Infinity);
    expect(float16BitsToNumber(0xfc00)).toBe(-Infinity);
    expect(float16BitsToNumber(0x7e00)).toBeNaN();
    expect(Object.is(float16BitsToNumber(0x8000), -0)).toBe(true);
    expect(bfloat16BitsToNumber(0x3f80)).toBe(1);
    expect(bfloat16BitsToNumber(0x4049)).toBe(3.140625);
    expect(bfloat16BitsToNumber(0x7f80)).toBe(Infinity);
    expect(bfloat16BitsToNumber(0x0001)).toBe(2 ** -133);
    expect(float8E4M3ToNumber(0x7e)).toBe(448);
    expect(float8E4M3ToNumber(0x7f)).toBeNaN();
    expect(float8E4M3ToNumber(0xff)).toBeNaN();
    expect(float8E4M3ToNumber(0x78)).toBe(256); // e4m3fn: exponent 15 is a normal binade
    expect(float8E4M3ToNumber(0x01)).toBe(2 ** -9);
    expect(float8E4M3ToNumber(0x08)).toBe(2 ** -6);
    expect(float8E4M3ToNumber(0x38)).toBe(1);
    expect(float8E5M2ToNumber(0x3c)).toBe(1);
    expect(float8E5M2ToNumber(0x7b)).toBe(57344);
    expect(float8E5M2ToNumber(0x7c)).toBe(Infinity);
    expect(float8E5M2ToNumber(0xfc)).toBe(-Infinity);
    expect(float8E5M2ToNumber(0x7d)).toBeNaN();
    expect(float8E5M2ToNumber(0x01)).toBe(2 ** -16);
  });

  it('decodeToFloat32 agrees with the scalar decoders on every F16 and BF16 pattern', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const bytes = new Uint8Array(all.buffer);
    const f16 = decodeToFloat32('F16', bytes);
    const bf16 = decodeToFloat32('BF16', bytes);
    const wrong: string[] = [];
    for (let i = 0; i < 65536; i++) {
      if (!(Object.is(f16[i], Math.fround(float16BitsToNumber(i))) || (Number.isNaN(f16[i]) && Number.isNaN(float16BitsToNumber(i))))) wrong.push(`F16 0x${i.toString(16)}`);
      if (!(Object.is(bf16[i], bfloat16BitsToNumber(i)) || (Number.isNaN(bf16[i]) && Number.isNaN(bfloat16BitsToNumber(i))))) wrong.push(`BF16 0x${i.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('decodes every integer dtype exactly, including I64 beyond 2^32 and negatives', () => {
    const i64 = new BigInt64Array([0n, -1n, 2n ** 40n + 3n, -(2n ** 33n), 123456789n]);
    expect(Array.from(decodeToFloat32('I64', new Uint8Array(i64.buffer)))).toEqual([0, -1, 2 ** 40, -(2 ** 33), Math.fround(123456789)]);
    expect(Array.from(decodeToFloat32('I32', new Uint8Array(new Int32Array([-5, 7, 2 ** 31 - 1]).buffer)))).toEqual([-5, 7, 2 ** 31]);
    expect(Array.from(decodeToFloat32('I16', new Uint8Array(new Int16Array([-32768, 32767]).buffer)))).toEqual([-32768, 32767]);
    expect(Array.from(decodeToFloat32('I8', new Uint8Array([0x80, 0x7f, 0xff])))).toEqual([-128, 127, -1]);
    expect(Array.from(decodeToFloat32('U8', new Uint8Array([0, 200, 255])))).toEqual([0, 200, 255]);
    expect(Array.from(decodeToFloat32('BOOL', new Uint8Array([0, 1, 0])))).toEqual([0, 1, 0]);
    expect(Array.from(decodeToFloat32('F64', new Uint8Array(new Float64Array([1.5, -2.25, 1e300]).buffer)))).toEqual([1.5, -2.25, Infinity]);
  });

  it('reads misaligned input (copying before viewing) and never aliases the input', () => {
    const values = new Float32Array([1.5, -2, 3.25]);
    const buf = new Uint8Array(13);
    buf.set(new Uint8Array(values.buffer), 1);
    const view = buf.subarray(1);
    expect(Array.from(decodeToFloat32('F32', view))).toEqual([1.5, -2, 3.25]);
    const aligned = new Uint8Array(values.buffer);
    const out = decodeToFloat32('F32', aligned);
    out[0] = 99;
    expect(values[0]).toBe(1.5);
    const f64 = new Uint8Array(17);
    f64.set(new Uint8Array(new Float64Array([0.5, 7]).buffer), 1);
    expect(Array.from(decodeToFloat32('F64', f64.subarray(1)))).toEqual([0.5, 7]);
  });

  it('rejects a byte count that is not a whole number of elements', () => {
    expect(() => decodeToFloat32('F32', new Uint8Array(6))).toThrow(/whole number/);
  });
});

describe.each(FORMATS)('$name encoding (round to nearest even, like torch)', (fmt) => {
  it('matches the reference on edge cases', () => {
    for (const x of EDGE) {
      for (const s of [x, -x]) expect(fmt.encode(s), `${fmt.name}(${s})`).toBe(reference(fmt, s));
    }
  });

  it('matches the reference on random bit patterns and random values', () => {
    const patterns = new Uint32Array(20000);
    let s = 12345;
    for (let i = 0; i < patterns.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      patterns[i] = (s ^ (s >>> 7) ^ Math.imul(i, 2654435761)) >>> 0;
    }
    const values = [...new Float32Array(patterns.buffer), ...randomFloats(20000, 7)];
    const wrong = values.filter((x) => !Number.isNaN(x) && fmt.encode(x) !== reference(fmt, x)).map((x) => `${fmt.name}(${x}) = ${fmt.encode(x)}, not ${reference(fmt, x)}`);
    expect(wrong).toEqual([]);
  });

  it('round-trips every finite pattern exactly', () => {
    const wrong: number[] = [];
    for (let b = 0; b <= fmt.maxFinite; b++) {
      if (fmt.encode(fmt.decode(b)) !== b) wrong.push(b);
      if (fmt.encode(-fmt.decode(b)) !== (b | fmt.signBit)) wrong.push(b | fmt.signBit);
    }
    expect(wrong).toEqual([]);
  });

  it('maps NaN to NaN', () => {
    expect(Number.isNaN(fmt.decode(fmt.encode(NaN)))).toBe(true);
  });
});

describe('encodeFromFloat32', () => {
  it('uses torch NaN patterns: F16 0x7E00 keeps the sign, BF16 0x7FC0 does not', () => {
    const nanNeg = fromBits([0xffc00000]);
    expect(numberToFloat16Bits(nanNeg[0]!)).toBe(0xfe00);
    expect(numberToBfloat16Bits(nanNeg[0]!)).toBe(0x7fc0);
    const bytes = encodeFromFloat32('BF16', fromBits([0x7fc00000, 0x7f800001]));
    expect(Array.from(new Uint16Array(bytes.buffer))).toEqual([0x7fc0, 0x7fc0]);
  });

  it('encodes bulk F16/BF16/F8 the same as the scalar functions', () => {
    const v = new Float32Array([...randomFloats(5000, 3), ...EDGE]);
    const f16 = new Uint16Array(encodeFromFloat32('F16', v).buffer);
    const bf16 = new Uint16Array(encodeFromFloat32('BF16', v).buffer);
    const e4 = encodeFromFloat32('F8_E4M3', v);
    const e5 = encodeFromFloat32('F8_E5M2', v);
    const wrong: string[] = [];
    v.forEach((x, i) => {
      if (f16[i] !== numberToFloat16Bits(x)) wrong.push(`F16(${x})`);
      if (bf16[i] !== numberToBfloat16Bits(x)) wrong.push(`BF16(${x})`);
      if (e4[i] !== numberToFloat8E4M3(x)) wrong.push(`F8_E4M3(${x})`);
      if (e5[i] !== numberToFloat8E5M2(x)) wrong.push(`F8_E5M2(${x})`);
    });
    expect(wrong).toEqual([]);
  });

  it('encodes integers by truncating toward zero and saturating; BOOL as x != 0', () => {
    const v = new Float32Array([1.9, -1.9, 300, -300, NaN, 0]);
    expect(Array.from(new Int8Array(encodeFromFloat32('I8', v).buffer))).toEqual([1, -1, 127, -128, 0, 0]);
    expect(Array.from(encodeFromFloat32('U8', v))).toEqual([1, 0, 255, 0, 0, 0]);
    expect(Array.from(new Int16Array(encodeFromFloat32('I16', v).buffer))).toEqual([1, -1, 300, -300, 0, 0]);
    expect(Array.from(new Int32Array(encodeFromFloat32('I32', v).buffer))).toEqual([1, -1, 300, -300, 0, 0]);
    expect(Array.from(new BigInt64Array(encodeFromFloat32('I64', new Float32Array([-3e9, 3e9, 1e30])).buffer))).toEqual([
      -3000000000n, 3000000000n, 2n ** 63n - 1024n,
    ]);
    expect(Array.from(encodeFromFloat32('BOOL', v))).toEqual([1, 1, 1, 1, 1, 0]);
  });
});
