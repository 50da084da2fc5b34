/**
 * Writes safetensors files. The header is computed from the tensor specs before any data exists,
 * so a merge can stream tensors to disk (or to a download) one at a time in plan order.
 */
import { tensorEntryProblem } from './tensor-entry.js';
import { MergeLabError } from '../errors.js';
import { DTYPES, DTYPE_SIZES, encodeInto, isDType, numel } from './dtypes.js';
import { memorySink } from './sources.js';
import type { ByteSink, DType } from './types.js';

/** What the header needs to know about a tensor before its data exists. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** A tensor with its data: float32 values (encoded to `dtype`) or raw little-endian bytes. */
export interface TensorWithData extends TensorSpec {
  readonly data: Float32Array | Uint8Array;
}

/** A header laid out for a list of specs. */
export interface SafetensorsLayout {
  /** The 8-byte length followed by the space-padded JSON header. */
  readonly prefix: Uint8Array;
  /** Data offsets of each spec, relative to the end of the prefix, in spec order. */
  readonly offsets: readonly (readonly [number, number])[];
  /** Bytes of tensor data in all. */
  readonly dataSize: number;
  /** Size of the whole file: prefix + data. */
  readonly fileSize: number;
}

/**
 * Lays out a header for `specs` in the given order (data offsets follow that order), with
 * `__metadata__` first as the Python writer does, padded with spaces so the data starts at a
 * multiple of 8. Rejects duplicate names (DUPLICATE_TENSOR), unknown dtypes (UNKNOWN_DTYPE), bad
 * shapes or names (TENSOR_ENTRY_INVALID) and non-string metadata (METADATA_INVALID).
 */
export function layoutSafetensors(specs: readonly TensorSpec[], metadata?: Readonly<Record<string, string>>, fileName = 'output'): SafetensorsLayout {
  // No prototype: a tensor named "__proto__" (or "constructor") is an ordinary key here.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new MergeLabError('METADATA_INVALID', `Metadata "${k}" for ${fileName} must be a string, got ${typeof v}.`);
      }
    }
    header['__metadata__'] = metadata;
  }
  const seen = new Set<string>();
  const offsets: [number, number][] = [];
  let at = 0;
  for (const s of specs) {
    if (seen.has(s.name)) throw new MergeLabError('DUPLICATE_TENSOR', `Tensor "${s.name}" is listed twice for ${fileName}; names must be unique.`);
    if (s.name === '__metadata__') throw new MergeLabError('TENSOR_ENTRY_INVALID', `"__metadata__" is reserved in safetensors and cannot name a tensor.`);
    seen.add(s.name);
    if (!isDType(s.dtype)) throw new MergeLabError('UNKNOWN_DTYPE', `Tensor "${s.name}" has dtype "${s.dtype}"; supported: ${DTYPES.join(', ')}.`);
    if (!s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new MergeLabError('TENSOR_ENTRY_INVALID', `Tensor "${s.name}" has shape [${s.shape.join(', ')}]; dimensions must be non-negative integers.`);
    }
    const problem = tensorEntryProblem(s.name, s.shape);
    if (problem) throw new MergeLabError('TENSOR_ENTRY_INVALID', `Tensor ${JSON.stringify(s.name)} cannot be written to ${fileName}: ${problem}.`);
    const bytes = numel(s.shape) * DTYPE_SIZES[s.dtype];
    offsets.push([at, at + bytes]);
    header[s.name] = { dtype: s.dtype, shape: [...s.shape], data_offsets: [at, at + bytes] };
    at += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const prefix = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  return { prefix, offsets, dataSize: at, fileSize: prefix.byteLength + at };
}

/** Streams one safetensors file to a sink; tensors must be written in spec order. */
export interface SafetensorsWriter {
  /** Name of the sink, for messages. */
  readonly name: string;
  readonly layout: SafetensorsLayout;
  /** Names still to be written, in order (a new list each time: for messages). */
  readonly remaining: readonly string[];
  /** How many are still to be written (constant time, for the per-tensor path). */
  readonly remainingCount: number;
  /**
   * Writes the next tensor. `data` is float32 values (encoded to the declared dtype with torch's
   * rounding) or already-encoded little-endian bytes (Uint8Array) of exactly the declared size.
   */
  writeTensor(name: string, data: Float32Array | Uint8Array): Promise<void>;
  /**
   * Writes the next tensor from consecutive float32 parts as they are produced (a merge's blocks),
   * so the whole tensor is never held; they must add up to its size exactly.
   */
  writeTensorParts(name: string, parts: AsyncIterable<Float32Array>): Promise<void>;
  /** Checks every tensor was written, then closes the sink. */
  finish(): Promise<void>;
  /** Drops the output (the sink deletes its partial file). Safe to call more than once. */
  abort(): Promise<void>;
}

// Large tensors are encoded and written in pieces so a bf16 output never needs a second full copy.
const CHUNK_ELEMENTS = 1 << 20;

/**
 * Starts a safetensors file on `sink`: lays out and writes the header right away (so header
 * problems surface before any merging), then expects `writeTensor` calls in `specs` order.
 * A failed write aborts the sink.
 */
export async function createSafetensorsWriter(
  sink: ByteSink,
  specs: readonly TensorSpec[],
  metadata?: Readonly<Record<string, string>>,
): Promise<SafetensorsWriter> {
  const layout = layoutSafetensors(specs, metadata, sink.name);
  let next = 0;
  let state: 'open' | 'finished' | 'aborted' = 'open';

  const abort = async () => {
    if (state === 'aborted') return;
    state = 'aborted';
    await sink.abort();
  };
  const guarded = async (write: () => Promise<void>) => {
    try {
      await write();
    } catch (e) {
      await abort().catch(() => undefined);
      throw e;
    }
  };

  await guarded(() => sink.write(layout.prefix));

  /** The spec `name` must be (the next in order), with its byte size and element size. */
  const nextSpec = (name: string) => {
    if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot write "${name}" to ${sink.name}: the writer is already ${state}.`);
    const spec = specs[next];
    if (!spec || spec.name !== name) {
      const known = specs.some((s) => s.name === name);
      if (!known) throw new MergeLabError('TENSOR_NOT_FOUND', `"${name}" is not among the tensors declared for ${sink.name}.`);
      throw new MergeLabError('WRITE_FAILED', `Tensors must be written to ${sink.name} in declared order: expected ${spec ? `"${spec.name}"` : 'no more tensors'}, got "${name}".`);
    }
    const [begin, end] = layout.offsets[next]!;
    return { spec, bytes: end - begin, size: DTYPE_SIZES[spec.dtype] };
  };
  /** float32 values encoded to the spec's dtype, a chunk at a time. */
  const writeValues = async (spec: TensorSpec, data: Float32Array) => {
    const size = DTYPE_SIZES[spec.dtype];
    for (let i = 0; i < data.length; i += CHUNK_ELEMENTS) {
      const part = data.subarray(i, Math.min(data.length, i + CHUNK_ELEMENTS));
      const out = new Uint8Array(part.length * size);
      encodeInto(spec.dtype, part, out);
      await sink.write(out);
    }
  };

  return {
    name: sink.name,
    layout,
    get remaining() {
      return specs.slice(next).map((s) => s.name);
    },
    get remainingCount() {
      return specs.length - next;
    },
    async writeTensor(name, data) {
      const { spec, bytes, size } = nextSpec(name);
      if (data instanceof Float32Array) {
        if (data.length * size !== bytes) {
          throw new MergeLabError('SIZE_MISMATCH', `"${name}" for ${sink.name} has ${data.length} values but shape [${spec.shape.join(', ')}] needs ${bytes / size}.`);
        }
        await guarded(() => writeValues(spec, data));
      } else {
        if (data.byteLength !== bytes) {
          throw new MergeLabError('SIZE_MISMATCH', `"${name}" for ${sink.name} has ${data.byteLength} bytes but ${spec.dtype} [${spec.shape.join(', ')}] needs ${bytes}.`);
        }
        if (bytes > 0) await guarded(() => sink.write(data));
      }
      next++;
    },
    async writeTensorParts(name, parts) {
      const { spec, bytes, size } = nextSpec(name);
      await guarded(async () => {
        let values = 0;
        for await (const part of parts) {
          values += part.length;
          // Checked before writing: a part past the end would spill into the next tensor's bytes.
          if (values * size > bytes) break;
          await writeValues(spec, part);
        }
        if (values * size !== bytes) {
          const got = values * size > bytes ? `more than ${bytes / size}` : String(values);
          throw new MergeLabError('SIZE_MISMATCH', `"${name}" for ${sink.name} came in parts of ${got} values in all but shape [${spec.shape.join(', ')}] needs ${bytes / size}.`);
        }
      });
      next++;
    },
    async finish() {
      if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot finish ${sink.name}: the writer is already ${state}.`);
      if (next < specs.length) {
        const missing = specs.slice(next).map((s) => s.name);
        const shown = missing.slice(0, 5).map((n) => `"${n}"`).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
        throw new MergeLabError('WRITE_FAILED', `${sink.name} is incomplete: ${shown} not written yet.`);
      }
      await guarded(() => sink.close());
      state = 'finished';
    },
    abort,
  };
}

/**
 * The whole file in memory, synchronously (tests, small browser downloads). Float32 data is
 * encoded to each tensor's dtype; Uint8Array data is taken as raw bytes.
 */
export function serializeSafetensors(tensors: readonly TensorWithData[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const layout = layoutSafetensors(tensors, metadata);
  const out = new Uint8Array(layout.fileSize);
  out.set(layout.prefix, 0);
  const base = layout.prefix.byteLength;
  tensors.forEach((t, i) => {
    const [begin, end] = layout.offsets[i]!;
    const dest = out.subarray(base + begin, base + end);
    if (t.data instanceof Float32Array) {
      if (t.data.length * DTYPE_SIZES[t.dtype] !== dest.byteLength) {
        throw new MergeLabError('SIZE_MISMATCH', `"${t.name}" has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${dest.byteLength / DTYPE_SIZES[t.dtype]}.`);
      }
      encodeInto(t.dtype, t.data, dest);
    } else {
      if (t.data.byteLength !== dest.byteLength) {
        throw new MergeLabError('SIZE_MISMATCH', `"${t.name}" has ${t.data.byteLength} bytes but ${t.dtype} [${t.shape.join(', ')}] needs ${dest.byteLength}.`);
      }
      dest.set(t.data);
    }
  });
  return out;
}

/** Like {@link serializeSafetensors} but through the streaming writer into a memory sink. */
export async function writeSafetensorsToMemory(tensors: readonly TensorWithData[], metadata?: Readonly<Record<string, string>>): Promise<Uint8Array> {
  const sink = memorySink('memory');
  const w = await createSafetensorsWriter(sink, tensors, metadata);
  for (const t of tensors) await w.writeTensor(t.name, t.data);
  await w.finish();
  return sink.bytes();
}
