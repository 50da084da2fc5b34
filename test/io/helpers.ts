/** Shared helpers for the io tests: hand-built safetensors bytes and a source that counts reads. */
import { expect } from 'vitest';
import { isMergeLabError, type ErrorCode } from '../../src/engine/errors.js';
import { memorySource } from '../../src/engine/io/sources.js';
import type { ByteSource } from '../../src/engine/io/types.js';

/**
 * A safetensors file built by hand, so broken ones can be made: `header` is JSON text or a value
 * to stringify (or raw bytes); `data` is the data area or its length (filled with a pattern).
 * `declaredLength` overrides the 8-byte header length.
 */
export function rawFile(header: unknown, data: Uint8Array | number = 0, declaredLength?: bigint): Uint8Array {
  const headerBytes =
    header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? Uint8Array.from({ length: data }, (_, i) => (i * 37 + 11) & 0xff) : data;
  const out = new Uint8Array(8 + headerBytes.byteLength + body.byteLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  out.set(body, 8 + headerBytes.byteLength);
  return out;
}

/** A header entry. */
export function entry(dtype: string, shape: unknown, begin: unknown, end: unknown): Record<string, unknown> {
  return { dtype, shape, data_offsets: [begin, end] };
}

/** A source that records every read, to prove only the needed bytes are touched. */
export interface CountingSource extends ByteSource {
  readonly reads: { offset: number; length: number }[];
  readonly bytesRead: number;
  reset(): void;
}

export function countingSource(name: string, bytes: Uint8Array): CountingSource {
  const inner = memorySource(name, bytes);
  const reads: { offset: number; length: number }[] = [];
  return {
    name,
    size: inner.size,
    reads,
    get bytesRead() {
      return reads.reduce((s, r) => s + r.length, 0);
    },
    reset() {
      reads.length = 0;
    },
    read(offset, length) {
      reads.push({ offset, length });
      return inner.read(offset, length);
    },
  };
}

/** Awaits `p` and checks it rejects with a MergeLabError of `code` whose message mentions `mentions`. */
export async function expectCode(p: Promise<unknown> | (() => unknown), code: ErrorCode, ...mentions: string[]): Promise<Error> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ${code} error`).toBeDefined();
  if (!isMergeLabError(err)) throw err;
  expect(err.code, err.message).toBe(code);
  for (const m of mentions) expect(err.message).toContain(m);
  return err;
}

/** Deterministic pseudo-random float32 values (xorshift), covering several magnitudes. */
export function randomFloats(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() - 0.5) * 10 ** Math.floor(next() * 10 - 5);
  return out;
}

/** Float32 values with the given bit patterns. */
export function fromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}
