/**
 * Tensor element types of the safetensors format: byte sizes, decoding stored little-endian bytes
 * to float32, and encoding float32 back to a storage dtype with the same rounding torch uses
 * (round to nearest, ties to even). Pure functions: runs in Node, the browser and workers.
 */
import { MergeLabError } from '../errors.js';
import type { DType } from './types.js';

/** Bytes per element of each dtype. */
export const DTYPE_SIZES: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};

/** Every dtype this engine reads, in the order safetensors documents them. */
export const DTYPES: readonly DType[] = Object.keys(DTYPE_SIZES) as DType[];

/** Whether a header's dtype string is one we can read. */
export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

/** Bytes per element of `dtype`. */
export function dtypeSize(dtype: DType): number {
  return DTYPE_SIZES[dtype];
}

/** Number of elements of a shape (1 for a scalar `[]`). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// Typed-array views read host byte order; every mainstream host is little-endian, but when one is
// not we fall back to DataView so the file's little-endian bytes are still read correctly.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A view of `bytes` whose byteOffset is a multiple of `align` (copies only when misaligned). */
function aligned(bytes: Uint8Array, align: number): Uint8Array {
  return bytes.byteOffset % align === 0 ? bytes : bytes.slice();
}

function checkLength(dtype: DType, bytes: Uint8Array): number {
  const size = DTYPE_SIZES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new MergeLabError(
      'SIZE_MISMATCH',
      `${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each).`,
    );
  }
  return bytes.byteLength / size;
}

// ---------------------------------------------------------------------------------------------
// Decoding

let f16Table: Float32Array | undefined;
let e4m3Table: Float32Array | undefined;
let e5m2Table: Float32Array | undefined;

/** Value of a half-precision bit pattern (exact: every f16 is a float32). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1024 + man) * 2 ** (exp - 25);
}

/** Value of a bfloat16 bit pattern (the top half of a float32). */
export function bfloat16BitsToNumber(b: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = (b & 0xffff) << 16;
  return f[0]!;
}

/** Value of a float8 e4m3fn byte (torch.float8_e4m3fn: no infinities, S.1111.111 is NaN). */
export function float8E4M3ToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const man = b & 7;
  if (exp === 0xf && man === 7) return NaN;
  if (exp === 0) return sign * man * 2 ** -9;
  return sign * (8 + man) * 2 ** (exp - 10);
}

/** Value of a float8 e5m2 byte (IEEE-like: has infinities and NaNs). */
export function float8E5M2ToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 2) & 0x1f;
  const man = b & 3;
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  if (exp === 0) return sign * man * 2 ** -16;
  return sign * (4 + man) * 2 ** (exp - 17);
}

function buildTable(count: number, f: (bits: number) => number): Float32Array {
  const t = new Float32Array(count);
  for (let i = 0; i < count; i++) t[i] = f(i);
  return t;
}

function lookup16(src: Uint16Array, table: Float32Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

/**
 * Decodes `bytes` (little-endian elements of `dtype`, row-major) to float32. Integers convert to
 * the nearest float32 (I64 via float64, so values beyond 2^53 may round twice); BOOL gives 0 or 1.
 * `bytes` may start at any offset: misaligned input is copied before being viewed. The result never
 * shares memory with `bytes` unless `bytesAreOwned` says the caller hands them over (then F32 data
 * is viewed in place rather than copied: one tensor-sized allocation saved per read).
 */
export function decodeToFloat32(dtype: DType, bytes: Uint8Array, bytesAreOwned = false): Float32Array {
  const n = checkLength(dtype, bytes);
  const size = DTYPE_SIZES[dtype];
  if (!HOST_LITTLE_ENDIAN && size > 1) return decodeWithDataView(dtype, bytes, n);
  switch (dtype) {
    case 'F32': {
      const b = aligned(bytes, 4);
      const view = new Float32Array(b.buffer, b.byteOffset, n);
      return bytesAreOwned || b !== bytes ? view : view.slice();
    }
    case 'F64':
      return Float32Array.from(viewOf(Float64Array, bytes, n));
    case 'F16':
      return lookup16(viewOf(Uint16Array, bytes, n), (f16Table ??= buildTable(65536, float16BitsToNumber)));
    case 'BF16': {
      const src = viewOf(Uint16Array, bytes, n);
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
      return out;
    }
    case 'I64': {
      const src = viewOf(Int32Array, bytes, n * 2);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[2 * i + 1]! * 4294967296 + (src[2 * i]! >>> 0);
      return out;
    }
    case 'I32':
      return Float32Array.from(viewOf(Int32Array, bytes, n));
    case 'I16':
      return Float32Array.from(viewOf(Int16Array, bytes, n));
    case 'I8':
      return Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, n));
    case 'U8':
      return Float32Array.from(bytes);
    case 'BOOL': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
      return out;
    }
    case 'F8_E4M3': {
      const t = (e4m3Table ??= buildTable(256, float8E4M3ToNumber));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[bytes[i]!]!;
      return out;
    }
    case 'F8_E5M2': {
      const t = (e5m2Table ??= buildTable(256, float8E5M2ToNumber));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[bytes[i]!]!;
      return out;
    }
  }
}

type TypedCtor<T> = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => T;

function viewOf<T extends { BYTES_PER_ELEMENT: number }>(
  ctor: TypedCtor<T> & { BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
  length: number,
): T {
  const b = aligned(bytes, ctor.BYTES_PER_ELEMENT);
  return new ctor(b.buffer, b.byteOffset, length);
}

function decodeWithDataView(dtype: DType, bytes: Uint8Array, n: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'F32': out[i] = dv.getFloat32(4 * i, true); break;
      case 'F64': out[i] = dv.getFloat64(8 * i, true); break;
      case 'F16': out[i] = float16BitsToNumber(dv.getUint16(2 * i, true)); break;
      case 'BF16': out[i] = bfloat16BitsToNumber(dv.getUint16(2 * i, true)); break;
      case 'I64': out[i] = dv.getInt32(8 * i + 4, true) * 4294967296 + dv.getUint32(8 * i, true); break;
      case 'I32': out[i] = dv.getInt32(4 * i, true); break;
      case 'I16': out[i] = dv.getInt16(2 * i, true); break;
      default: throw new MergeLabError('INTERNAL', `decodeWithDataView called for single-byte dtype ${dtype}.`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of the float32 nearest to `x` (JS numbers are float64). */
function float32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** Round half to even of a non-negative float64 (exact: no scaling happens here). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

interface MiniFloat {
  readonly expBits: number;
  readonly manBits: number;
  /** Bit pattern (without sign) of +infinity, or undefined when the format has none (e4m3fn). */
  readonly inf: number | undefined;
  /** Bit pattern (without sign) used for NaN and, without infinities, for overflow. */
  readonly nan: number;
  /** Largest finite bit pattern (without sign). */
  readonly maxFinite: number;
}

const HALF: MiniFloat = { expBits: 5, manBits: 10, inf: 0x7c00, nan: 0x7e00, maxFinite: 0x7bff };
const E4M3: MiniFloat = { expBits: 4, manBits: 3, inf: undefined, nan: 0x7f, maxFinite: 0x7e };
const E5M2: MiniFloat = { expBits: 5, manBits: 2, inf: 0x7c, nan: 0x7f, maxFinite: 0x7b };

/**
 * Rounds a float32 to a narrower IEEE-style float, ties to even, the way c10's
 * fp16_ieee_from_fp32_value / fp8e4m3fn_from_fp32_value / fp8e5m2_from_fp32_value do: overflow
 * goes to infinity, or to NaN for e4m3fn which has no infinity; NaN keeps its sign.
 */
function toMiniFloat(x: number, fmt: MiniFloat): number {
  const bits = float32Bits(x);
  const signBit = (bits >>> 31) << (fmt.expBits + fmt.manBits);
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return signBit | fmt.nan;
  if (abs === 0x7f800000) return signBit | (fmt.inf ?? fmt.nan);
  const bias = (1 << (fmt.expBits - 1)) - 1;
  let out: number;
  if (abs < (127 + 1 - bias) << 23) {
    // Below the target's smallest normal: a multiple of its subnormal step. Scaling a float32 by a
    // power of two is exact in float64, so one rounding happens, as in C.
    f32[0] = x;
    out = roundHalfEven(Math.abs(f32[0]!) * 2 ** (bias - 1 + fmt.manBits));
  } else {
    const shift = 23 - fmt.manBits;
    const rebased = abs - ((127 - bias) << 23);
    const lsb = (rebased >>> shift) & 1;
    out = Math.floor((rebased + (1 << (shift - 1)) - 1 + lsb) / 2 ** shift);
  }
  if (out > fmt.maxFinite) out = fmt.inf ?? fmt.nan;
  return signBit | out;
}

/** Half-precision bits of `x` rounded like torch's `.to(torch.float16)`. */
export function numberToFloat16Bits(x: number): number {
  return toMiniFloat(x, HALF);
}

/** Bfloat16 bits of `x` rounded like torch's `.to(torch.bfloat16)` (NaN becomes 0x7FC0). */
export function numberToBfloat16Bits(x: number): number {
  const bits = float32Bits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float8 e4m3fn byte of `x` (torch.float8_e4m3fn: overflow and infinities become NaN). */
export function numberToFloat8E4M3(x: number): number {
  return toMiniFloat(x, E4M3);
}

/** float8 e5m2 byte of `x` (overflow becomes infinity). */
export function numberToFloat8E5M2(x: number): number {
  return toMiniFloat(x, E5M2);
}

/** Float to integer the way a C cast does: toward zero; NaN gives 0; out of range saturates. */
function toInt(x: number, min: number, max: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.min(max, Math.max(min, Math.trunc(x)));
}

/**
 * Encodes float32 values as little-endian elements of `dtype`. Floats round to nearest, ties to
 * even (torch's rounding, subnormals and infinities included). Integer dtypes truncate toward
 * zero and saturate (torch leaves out-of-range casts undefined); BOOL stores `x != 0`.
 */
export function encodeFromFloat32(dtype: DType, values: Float32Array): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_SIZES[dtype]);
  encodeInto(dtype, values, out);
  return out;
}

/** Like {@link encodeFromFloat32} but into `out` (its byteLength must be n × dtype size). */
export function encodeInto(dtype: DType, values: Float32Array, out: Uint8Array): void {
  const n = values.length;
  if (out.byteLength !== n * DTYPE_SIZES[dtype]) {
    throw new MergeLabError('INTERNAL', `encodeInto: ${out.byteLength} bytes for ${n} ${dtype} values.`);
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  switch (dtype) {
    case 'F32':
      if (HOST_LITTLE_ENDIAN) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      else for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i]!, true);
      return;
    case 'F64':
      for (let i = 0; i < n; i++) dv.setFloat64(8 * i, values[i]!, true);
      return;
    case 'F16':
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, toMiniFloat(values[i]!, HALF), true);
      return;
    case 'BF16': {
      // Hot path of every bf16 merge output: work on the raw float32 bits without DataView calls.
      const src = new Uint32Array(values.buffer, values.byteOffset, n);
      for (let i = 0; i < n; i++) {
        const bits = src[i]!;
        const h = (bits & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >>> 8;
      }
      return;
    }
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = toMiniFloat(values[i]!, E4M3);
      return;
    case 'F8_E5M2':
      for (let i = 0; i < n; i++) out[i] = toMiniFloat(values[i]!, E5M2);
      return;
    case 'I64':
      for (let i = 0; i < n; i++) {
        const v = toInt(values[i]!, -(2 ** 63), 2 ** 63 - 1024);
        dv.setBigInt64(8 * i, BigInt(v), true);
      }
      return;
    case 'I32':
      for (let i = 0; i < n; i++) dv.setInt32(4 * i, toInt(values[i]!, -(2 ** 31), 2 ** 31 - 1), true);
      return;
    case 'I16':
      for (let i = 0; i < n; i++) dv.setInt16(2 * i, toInt(values[i]!, -32768, 32767), true);
      return;
    case 'I8':
      for (let i = 0; i < n; i++) dv.setInt8(i, toInt(values[i]!, -128, 127));
      return;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = toInt(values[i]!, 0, 255);
      return;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0;
      return;
  }
}
