/**
 * Arithmetic on 16-bit tensors the way torch 1.13 does it on the CPU, which is how mergekit merges
 * a `dtype: bfloat16` or `float16` recipe. Measured against that torch (see
 * test/half/torch-ops.test.ts and the fixtures under test/fixtures/mergekit-half/), the rules are:
 * - an elementwise op widens both operands to float32, computes once, and rounds the result to the
 *   tensor's dtype (round to nearest, ties to even);
 * - a Python scalar operand (λ, a weight, 1e-8) is first rounded to the tensor's dtype;
 * - a reduction (`sum`, `mean`, `norm`) accumulates in float32 and rounds once at the end.
 *
 * Values live in Float32Arrays that only ever hold numbers representable in the dtype. A store
 * into a Float32Array rounds the double result to float32, which for + − × ÷ and √ of float32
 * inputs equals float32 arithmetic; `roundInPlace` then does torch's conversion.
 */
import type { DType } from '../io/types.js';

export type HalfDType = 'F16' | 'BF16';

export function isHalf(d: DType | undefined): d is HalfDType {
  return d === 'F16' || d === 'BF16';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds every value of `a` to `dtype` in place (torch's `.to(dtype)` from float32); returns `a`. */
export function roundInPlace(dtype: HalfDType, a: Float32Array): Float32Array {
  return dtype === 'BF16' ? roundBf16(a) : roundF16(a);
}

/** One float32 value rounded to `dtype`. */
export function roundNumber(dtype: HalfDType, x: number): number {
  f32[0] = x;
  roundInPlace(dtype, f32);
  return f32[0]!;
}

function roundBf16(a: Float32Array): Float32Array {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    // c10's round_to_nearest_even; NaN becomes the canonical quiet NaN as torch writes it.
    bits[i] = (b & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16;
  }
  return a;
}

/** Smallest float16 normal (2^-14) and the magnitude from which float16 rounds to infinity. */
const F16_MIN_NORMAL = 2 ** -14;
const F16_OVERFLOW = 65520;

function roundF16(a: Float32Array): Float32Array {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const m = Math.abs(x);
    if (!(m < F16_OVERFLOW)) {
      // Infinity stays, overflow becomes infinity, NaN stays NaN (sign kept, as c10 does).
      if (m === m) a[i] = x > 0 ? Infinity : -Infinity;
    } else if (m >= F16_MIN_NORMAL) {
      // 11 significant bits: round the float32 pattern at bit 13, ties to even; a carry into the
      // exponent is the right answer.
      const b = bits[i]!;
      bits[i] = ((b + 0xfff + ((b >>> 13) & 1)) >>> 13) << 13;
    } else {
      // Subnormal float16: a multiple of 2^-24; scaling by a power of two is exact in double.
      a[i] = roundHalfEven(x * 2 ** 24) * 2 ** -24;
    }
  }
  return a;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  // Math.round sends halves up; a half whose upper neighbour is odd goes down instead.
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The float32 bit pattern of a value (for tests and tie checks). */
export function float32BitsOf(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/**
 * Σ |a| in double. torch accumulates in float32 in a blocked order; a double sum rounded to
 * float32 is within that order's error and rounds the same but for a tie at the last bit.
 */
export function wideAbsSum(a: Float32Array, mask?: Uint8Array): number {
  let s = 0;
  if (mask) {
    // A dropped entry adds |x·0|: 0, or NaN for a NaN or ±∞ entry, as the masked tensor's sum would.
    for (let i = 0; i < a.length; i++) s += Math.abs(mask[i] ? a[i]! : a[i]! * 0);
  } else {
    for (let i = 0; i < a.length; i++) s += Math.abs(a[i]!);
  }
  return s;
}

/**
 * Elementwise and reducing ops of one dtype, each rounded as torch rounds it. Arrays are fresh
 * (inputs are never changed) unless the name says `InPlace`.
 */
export interface HalfMath {
  readonly dtype: HalfDType;
  /** A Python float as torch sees it next to a tensor of this dtype. */
  scalar(x: number): number;
  sub(a: Float32Array, b: Float32Array): Float32Array;
  /** a − b written into a (the same values as sub), returning a. */
  subInPlace(a: Float32Array, b: Float32Array): Float32Array;
  add(a: Float32Array, b: Float32Array): Float32Array;
  mul(a: Float32Array, b: Float32Array): Float32Array;
  div(a: Float32Array, b: Float32Array): Float32Array;
  /** Rounds `a` itself to the dtype (after a float32 computation of one's own); returns `a`. */
  roundInPlace(a: Float32Array): Float32Array;
  /** a + s and s − a for a Python number s (rounded to the dtype first). */
  addScalar(a: Float32Array, s: number): Float32Array;
  scalarSub(s: number, a: Float32Array): Float32Array;
  /** Each row of `rowLength` elements of `a` times that row's factor (a [rows, 1] broadcast). */
  mulRows(a: Float32Array, perRow: Float32Array, rowLength: number): Float32Array;
  /** a · s, with `s` already a value of this dtype (see `scalar`). */
  mulScalar(a: Float32Array, s: number): Float32Array;
  divScalar(a: Float32Array, s: number): Float32Array;
  /** Σ over the arrays, element by element, accumulated in float32 in list order (torch's sum(dim=0) of a stack). */
  sumOf(arrays: readonly Float32Array[]): Float32Array;
  /** Σ of a few values of this dtype (weights) as torch sums a small 16-bit tensor: float32, rounded once. */
  sumScalars(values: readonly number[]): number;
  /** Σ |a| over all elements, accumulated wide, rounded once. */
  absSum(a: Float32Array): number;
  /** A sum accumulated wide (as wideAbsSum does) rounded as absSum rounds its own. */
  roundScalarSum(wide: number): number;
  /** Per row of `rowLength`: Σ a·b (the products rounded first, as `(a * b).sum(-1)` does). */
  rowDots(a: Float32Array, b: Float32Array, rowLength: number): Float32Array;
  /** Per row of `rowLength`: ‖a‖₂ (torch.norm(dim=-1)). */
  rowNorms(a: Float32Array, rowLength: number): Float32Array;
}

export function halfMath(dtype: HalfDType): HalfMath {
  const round = (a: Float32Array) => roundInPlace(dtype, a);
  const zip = (a: Float32Array, b: Float32Array, f: (x: number, y: number) => number) => {
    const out = new Float32Array(a.length);
    for (let i = 0; i < out.length; i++) out[i] = f(a[i]!, b[i]!);
    return round(out);
  };
  return {
    dtype,
    scalar: (x) => roundNumber(dtype, x),
    roundInPlace: round,
    addScalar(a, s) {
      const r = roundNumber(dtype, s);
      const out = new Float32Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = a[i]! + r;
      return round(out);
    },
    scalarSub(s, a) {
      const r = roundNumber(dtype, s);
      const out = new Float32Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = r - a[i]!;
      return round(out);
    },
    mulRows(a, perRow, rowLength) {
      const out = new Float32Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = a[i]! * perRow[Math.floor(i / rowLength)]!;
      return round(out);
    },
    sub: (a, b) => zip(a, b, (x, y) => x - y),
    subInPlace: (a, b) => {
      for (let i = 0; i < a.length; i++) a[i] = a[i]! - b[i]!;
      return round(a);
    },
    add: (a, b) => zip(a, b, (x, y) => x + y),
    mul: (a, b) => zip(a, b, (x, y) => x * y),
    div: (a, b) => zip(a, b, (x, y) => x / y),
    mulScalar(a, s) {
      const out = new Float32Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = a[i]! * s;
      return round(out);
    },
    divScalar(a, s) {
      const out = new Float32Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = a[i]! / s;
      return round(out);
    },
    sumOf(arrays) {
      const out = new Float32Array(arrays[0]!.length);
      out.set(arrays[0]!);
      // Each store into `out` rounds to float32: a float32 accumulator, added to in stack order.
      for (let k = 1; k < arrays.length; k++) {
        const a = arrays[k]!;
        for (let i = 0; i < out.length; i++) out[i] = out[i]! + a[i]!;
      }
      return round(out);
    },
    sumScalars(values) {
      // From the first value, not 0: a lone −0 stays −0, as in torch's sum.
      let s = values[0] ?? 0;
      for (let i = 1; i < values.length; i++) s = Math.fround(s + values[i]!);
      return roundNumber(dtype, s);
    },
    absSum(a) {
      return roundNumber(dtype, Math.fround(wideAbsSum(a)));
    },
    roundScalarSum(wide) {
      return roundNumber(dtype, Math.fround(wide));
    },
    rowDots(a, b, rowLength) {
      const rows = rowLength === 0 ? 0 : a.length / rowLength;
      const out = new Float32Array(rows);
      const prod = new Float32Array(rowLength);
      for (let r = 0; r < rows; r++) {
        const at = r * rowLength;
        for (let j = 0; j < rowLength; j++) prod[j] = a[at + j]! * b[at + j]!;
        round(prod);
        let s = 0;
        for (let j = 0; j < rowLength; j++) s += prod[j]!;
        out[r] = s;
      }
      return round(out);
    },
    rowNorms(a, rowLength) {
      const rows = rowLength === 0 ? 0 : a.length / rowLength;
      const out = new Float32Array(rows);
      for (let r = 0; r < rows; r++) {
        const at = r * rowLength;
        let s = 0;
        for (let j = 0; j < rowLength; j++) s += a[at + j]! * a[at + j]!;
        out[r] = Math.sqrt(Math.fround(s));
      }
      return round(out);
    },
  };
}
