/**
 * A merge's weights written at their places, in any order: the files, shards and header are laid
 * out from the plan before any tensor exists (exactly as the streaming writers lay them out:
 * planShards, layoutSafetensors), so each tensor's bytes have a known offset and a pool of workers
 * can write every tensor the moment it is merged, instead of holding finished tensors until the
 * ones before them are done. The bytes of every file are those the streaming writers give. The
 * host gives files that take writes at offsets (RandomAccessSink: a file on disk in the CLI).
 */
import { MergeLabError } from '../errors.js';
import { DTYPE_SIZES, encodeInto, numel } from '../io/dtypes.js';
import { INDEX_FILE_NAME, planShards, serializeShardIndex } from '../io/sharded.js';
import { layoutSafetensors, type TensorSpec } from '../io/safetensors-writer.js';
import type { TensorOutput } from './run-merge.js';

/** A file written at offsets; nothing is left under its name unless it is closed. */
export interface RandomAccessSink {
  readonly name: string;
  writeAt(offset: number, bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** A TensorOutput whose tensors may be written in any order, several at once. */
export interface PlacedOutput extends TensorOutput {
  readonly anyOrder: true;
  writeTensorParts(name: string, parts: AsyncIterable<Float32Array>): Promise<void>;
  /** Checks every tensor was written whole, closes the files and writes the shard index (more than one shard). */
  finish(): Promise<void>;
  abort(): Promise<void>;
}

/** Values encoded a chunk at a time, as the streaming writer does (the bytes do not depend on it). */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * The sharded output of createShardedWriter (same shards, names, headers, index), written at places.
 * Every file is opened (and its header written) before the first tensor.
 */
export async function createPlacedOutput(
  openSink: (fileName: string) => Promise<RandomAccessSink>,
  specs: readonly TensorSpec[],
  options: { maxShardSize: number; metadata?: Readonly<Record<string, string>>; prefix?: string },
): Promise<PlacedOutput> {
  const plan = planShards(specs, options.maxShardSize, options.prefix);
  const sinks: RandomAccessSink[] = [];
  /** Where each tensor goes: its file, first byte, byte length, dtype; and how many bytes it has got. */
  const places = new Map<string, { sink: RandomAccessSink; at: number; bytes: number; spec: TensorSpec; written: number }>();
  let state: 'open' | 'finished' | 'aborted' = 'open';
  const abort = async () => {
    if (state === 'aborted') return;
    state = 'aborted';
    await Promise.allSettled(sinks.map((s) => s.abort()));
  };
  try {
    for (const shard of plan.shards) {
      const sink = await openSink(shard.fileName);
      sinks.push(sink);
      const layout = layoutSafetensors(shard.tensors, options.metadata, sink.name);
      await sink.writeAt(0, layout.prefix);
      shard.tensors.forEach((spec, i) => {
        const [begin, end] = layout.offsets[i]!;
        places.set(spec.name, { sink, at: layout.prefix.byteLength + begin, bytes: end - begin, spec, written: 0 });
      });
    }
  } catch (e) {
    await abort();
    throw e;
  }

  const placeOf = (name: string) => {
    if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot write "${name}": the output is already ${state}.`);
    const p = places.get(name);
    if (!p) throw new MergeLabError('TENSOR_NOT_FOUND', `"${name}" is not among the tensors planned for this output.`);
    if (p.written > 0) throw new MergeLabError('WRITE_FAILED', `"${name}" is written twice.`);
    return p;
  };
  const put = async (p: NonNullable<ReturnType<typeof places.get>>, data: Float32Array | Uint8Array) => {
    const size = DTYPE_SIZES[p.spec.dtype];
    const total = data instanceof Float32Array ? data.length * size : data.byteLength;
    if (p.written + total > p.bytes) throw new MergeLabError('SIZE_MISMATCH', `"${p.spec.name}" got more than its ${numel(p.spec.shape)} values (${p.spec.dtype} [${p.spec.shape.join(', ')}]).`);
    if (data instanceof Uint8Array) {
      await p.sink.writeAt(p.at + p.written, data);
      p.written += data.byteLength;
      return;
    }
    for (let i = 0; i < data.length; i += CHUNK_ELEMENTS) {
      const part = data.subarray(i, Math.min(data.length, i + CHUNK_ELEMENTS));
      const out = new Uint8Array(part.length * size);
      encodeInto(p.spec.dtype, part, out);
      await p.sink.writeAt(p.at + p.written, out);
      p.written += out.byteLength;
    }
  };
  const complete = (p: NonNullable<ReturnType<typeof places.get>>) => {
    if (p.written !== p.bytes) throw new MergeLabError('SIZE_MISMATCH', `"${p.spec.name}" got ${p.written} of its ${p.bytes} bytes (${p.spec.dtype} [${p.spec.shape.join(', ')}]).`);
  };
  const guarded = async (write: () => Promise<void>) => {
    try {
      await write();
    } catch (e) {
      await abort();
      throw e;
    }
  };

  return {
    anyOrder: true,
    writeTensor: (name, data) =>
      guarded(async () => {
        const p = placeOf(name);
        await put(p, data);
        complete(p);
      }),
    writeTensorParts: (name, parts) =>
      guarded(async () => {
        const p = placeOf(name);
        for await (const part of parts) await put(p, part);
        complete(p);
      }),
    finish: () =>
      guarded(async () => {
        if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot finish: the output is already ${state}.`);
        const missing = [...places.values()].filter((p) => p.written !== p.bytes).map((p) => p.spec.name);
        if (missing.length > 0) throw new MergeLabError('WRITE_FAILED', `The output is incomplete: ${missing.length} tensors not written (first: "${missing[0]}").`);
        for (const s of sinks) await s.close();
        if (plan.shards.length > 1) {
          const index = await openSink(INDEX_FILE_NAME);
          sinks.push(index);
          await index.writeAt(0, new TextEncoder().encode(serializeShardIndex(plan.index)));
          await index.close();
        }
        state = 'finished';
      }),
    abort,
  };
}
