/**
 * Browser-safe byte sources and sinks: bytes in memory, a `Blob`/`File` read slice by slice, and a
 * sink that collects chunks (for downloads and tests). Node file versions live in node-file.ts.
 */
import { MergeLabError, isMergeLabError } from '../errors.js';
import type { ByteSink, ByteSource } from './types.js';

function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new MergeLabError('READ_FAILED', `Invalid read of ${length} bytes at offset ${offset} from ${name}.`);
  }
  if (offset + length > size) {
    throw new MergeLabError(
      'READ_FAILED',
      `${name} is ${size} bytes but bytes ${offset}..${offset + length} were requested; the file may be truncated or changed while open.`,
    );
  }
}

/** A source over bytes already in memory. Reads return copies, so callers may modify them. */
export function memorySource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      // Uint8Array's slice copies; a Node Buffer's own slice would return a view of the caller's bytes.
      return Uint8Array.prototype.slice.call(bytes, offset, offset + length);
    },
  };
}

/**
 * A source over a `Blob` or `File` (a dropped file): each read slices the blob, so only the bytes
 * asked for are ever loaded. `name` defaults to the File's name.
 */
export function blobSource(blob: Blob, name?: string): ByteSource {
  const label = name ?? (blob as Partial<File>).name ?? 'blob';
  return {
    name: label,
    size: blob.size,
    async read(offset, length) {
      checkRange(label, blob.size, offset, length);
      let buf: ArrayBuffer;
      try {
        buf = await blob.slice(offset, offset + length).arrayBuffer();
      } catch (e) {
        throw new MergeLabError('READ_FAILED', `Could not read ${label}: ${(e as Error).message}. Re-select the file and try again.`);
      }
      if (buf.byteLength !== length) {
        throw new MergeLabError('READ_FAILED', `Short read from ${label}: got ${buf.byteLength} of ${length} bytes; the file may have changed.`);
      }
      return new Uint8Array(buf);
    },
  };
}

/** A sink that keeps everything in memory; read it back with `bytes()` or `blob()` after close. */
export interface MemorySink extends ByteSink {
  /** Bytes written so far, as one array. */
  bytes(): Uint8Array;
  /** Bytes written so far, as a Blob (no extra copy of the chunks). */
  blob(type?: string): Blob;
  readonly closed: boolean;
  readonly aborted: boolean;
  /** Bytes written so far. */
  readonly size: number;
}

/** A sink collecting chunks in memory (browser downloads, tests). Chunks are copied on write. */
export function memorySink(name: string): MemorySink {
  let chunks: Uint8Array[] = [];
  let size = 0;
  let closed = false;
  let aborted = false;
  return {
    name,
    get closed() { return closed; },
    get aborted() { return aborted; },
    get size() { return size; },
    async write(chunk) {
      if (closed || aborted) {
        throw new MergeLabError('WRITE_FAILED', `Cannot write to ${name}: it is already ${aborted ? 'aborted' : 'closed'}.`);
      }
      chunks.push(chunk.slice());
      size += chunk.byteLength;
    },
    async close() {
      if (aborted) throw new MergeLabError('WRITE_FAILED', `Cannot close ${name}: it was aborted.`);
      closed = true;
    },
    async abort() {
      aborted = true;
      chunks = [];
      size = 0;
    },
    bytes() {
      const out = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      return out;
    },
    blob(type = 'application/octet-stream') {
      return new Blob(chunks as BlobPart[], { type });
    },
  };
}

/**
 * Reads through `source`, turning any failure that is not already a MergeLabError into READ_FAILED
 * naming the file: a custom source's bare Error must not reach the user.
 */
export async function readChecked(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await source.read(offset, length);
  } catch (e) {
    if (isMergeLabError(e)) throw e;
    throw new MergeLabError('READ_FAILED', `Could not read ${length} bytes at offset ${offset} of ${source.name}: ${(e as Error)?.message ?? e}.`);
  }
  if (bytes.byteLength !== length) {
    throw new MergeLabError('READ_FAILED', `Short read from ${source.name}: got ${bytes.byteLength} of ${length} bytes at offset ${offset}.`);
  }
  return bytes;
}
