/**
 * WebAssembly SIMD kernels for the dense products of the randomized SVD (svd.ts), built by
 * scripts/build-linalg-kernels.ts: float64 arithmetic in f64x2 pairs, no fused multiply-adds, so
 * the same inputs give the same bits on every engine and machine; about three times the speed of
 * the same loops in JavaScript here. Each computation gets its own memory (KernelHeap), dropped
 * with it: WebAssembly memory never shrinks, and one large factorisation would otherwise keep its
 * size for the life of the worker.
 */
import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

interface KernelExports {
  dots_f32(a: number, m: number, n: number, x: number, l: number, out: number, stride: number): void;
  dots_f64(a: number, m: number, n: number, x: number, l: number, out: number, stride: number): void;
  axpys_f32(x: number, stride: number, l: number, a: number, m: number, n: number, out: number, chunk: number): void;
  axpys_f64(x: number, stride: number, l: number, a: number, m: number, n: number, out: number, chunk: number): void;
  dot(p: number, q: number, len: number): number;
  axpy(d: number, src: number, dst: number, len: number): void;
  rot(p: number, q: number, len: number, c: number, s: number): void;
}

let compiled: WebAssembly.Module | undefined;

function kernelModule(): WebAssembly.Module {
  if (!compiled) {
    const text = atob(KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

const PAGE = 65536;
/** Columns of the output a product keeps in cache at a time (axpys): 88 rows × 256 doubles ≈ 180 KiB. */
const COLUMN_CHUNK = 256;
/**
 * Rows of A per kernel call. V8 first runs a module on its baseline compiler and moves a function
 * to the optimised code only on a later call: one call over a whole large matrix would run on the
 * baseline code (about a third of the speed) to its end.
 */
const ROWS_PER_CALL = 64;

/** Rounds up to a multiple of `k`. */
export function roundUp(x: number, k: number): number {
  return Math.ceil(x / k) * k;
}

/** A region of a KernelHeap: its byte address and a typed view. */
export interface Region<T extends Float32Array | Float64Array> {
  readonly at: number;
  readonly view: T;
}

/**
 * One computation's memory and the kernels over it. Regions are carved in order (16-byte aligned)
 * from a memory sized once for all of them (`bytes`).
 */
export class KernelHeap {
  private readonly memory: WebAssembly.Memory;
  private readonly k: KernelExports;
  private top = 0;

  constructor(bytes: number) {
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / PAGE)) });
    this.k = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } }).exports as unknown as KernelExports;
  }

  f64(length: number): Region<Float64Array> {
    const at = this.carve(length * 8);
    return { at, view: new Float64Array(this.memory.buffer, at, length) };
  }

  f32(length: number): Region<Float32Array> {
    const at = this.carve(length * 4);
    return { at, view: new Float32Array(this.memory.buffer, at, length) };
  }

  private carve(bytes: number): number {
    const at = this.top;
    this.top = roundUp(at + bytes, 16);
    if (this.top > this.memory.buffer.byteLength) throw new RangeError(`KernelHeap: ${this.top} bytes asked of ${this.memory.buffer.byteLength}`);
    return at;
  }

  /** Σ p[i]·q[i] over len doubles at byte addresses p and q. */
  dot(p: number, q: number, len: number): number {
    return this.k.dot(p, q, len);
  }

  /** dst[i] −= d·src[i] over len doubles at byte addresses. */
  axpy(d: number, src: number, dst: number, len: number): void {
    this.k.axpy(d, src, dst, len);
  }

  /**
   * out (l × m) = rows x (l × n) against the rows of A (m × n): out[c][i] = A_i · x_c. Needs
   * m % 4 = 0, n % 4 = 0, l % 2 = 0 (pad with zeros).
   */
  dots(a: Region<Float32Array | Float64Array>, m: number, n: number, x: Region<Float64Array>, l: number, out: Region<Float64Array>): void {
    const f = a.view instanceof Float32Array ? this.k.dots_f32 : this.k.dots_f64;
    const size = a.view.BYTES_PER_ELEMENT;
    for (let i = 0; i < m; i += ROWS_PER_CALL) f(a.at + i * n * size, Math.min(ROWS_PER_CALL, m - i), n, x.at, l, out.at + i * 8, m);
  }

  /**
   * out (l × n) += x (l × m) · A (m × n). Needs m % 2 = 0, n % 2 = 0, l % 4 = 0 (pad with zeros).
   */
  axpys(x: Region<Float64Array>, l: number, a: Region<Float32Array | Float64Array>, m: number, n: number, out: Region<Float64Array>): void {
    const f = a.view instanceof Float32Array ? this.k.axpys_f32 : this.k.axpys_f64;
    const size = a.view.BYTES_PER_ELEMENT;
    for (let i = 0; i < m; i += ROWS_PER_CALL) f(x.at + i * 8, m, l, a.at + i * n * size, Math.min(ROWS_PER_CALL, m - i), n, out.at, COLUMN_CHUNK);
  }
}
