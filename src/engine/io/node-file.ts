/**
 * Node-only file source and sink (node:fs). Browser code must never import this module; the
 * browser-safe equivalents are in sources.ts.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MergeLabError } from '../errors.js';
import type { ByteSink, ByteSource } from './types.js';
import type { RandomAccessSink } from '../merge/placed-output.js';

// One FileHandle.read is capped well below Node's buffer limits; bigger reads are split.
/** Bytes of small writes a file sink gathers before writing them together. */
const SINK_BUFFER = 4 << 20;
const MAX_READ = 1 << 30;

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  // Node's messages already start with the code ("EISDIR: illegal operation…").
  const msg = String(err?.message ?? e);
  return err?.code && !msg.startsWith(err.code) ? `${err.code}: ${msg}` : msg;
}

/**
 * Rejects a path that is not a regular file (after symlinks) before anything opens it: opening a
 * FIFO blocks until a writer comes, reading a device never ends. PATH_NOT_FOUND when it is missing.
 */
export async function requireRegularFile(path: string): Promise<void> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new MergeLabError('PATH_NOT_FOUND', `${path} does not exist. Check the path.`);
    throw new MergeLabError('READ_FAILED', `Could not open ${path} (${describe(e)}).`);
  }
  if (!st.isFile()) throw new MergeLabError('NOT_A_FILE', `${path} is ${kindOf(st)}, not a file; give the checkpoint's file or folder.`);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Opens `path` for random-access reads at offsets; nothing is read until asked. Rejects with
 * PATH_NOT_FOUND when the file does not exist. Call `close()` when done.
 */
export async function nodeFileSource(path: string): Promise<ByteSource> {
  await requireRegularFile(path);
  let fh: FileHandle;
  try {
    // Non-blocking: a FIFO put in the file's place after the check must not hang the open.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MergeLabError('PATH_NOT_FOUND', `${path} does not exist. Check the path.`);
    throw new MergeLabError('READ_FAILED', `Could not open ${path} (${describe(e)}).`);
  }
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new MergeLabError('NOT_A_FILE', `${path} is ${kindOf(st)}, not a file; give the checkpoint's file or folder.`);
    size = st.size;
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (e instanceof MergeLabError) throw e;
    throw new MergeLabError('READ_FAILED', `Could not stat ${path} (${describe(e)}).`);
  }
  let closed = false;
  return {
    name: path,
    size,
    async read(offset, length) {
      if (closed) throw new MergeLabError('READ_FAILED', `${path} was already closed.`);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new MergeLabError(
          'READ_FAILED',
          `${path} is ${size} bytes but bytes ${offset}..${offset + length} were requested; the file may be truncated or changed.`,
        );
      }
      const out = new Uint8Array(length);
      let done = 0;
      try {
        while (done < length) {
          // read() may return fewer bytes than asked; keep going until the range is filled.
          const { bytesRead } = await fh.read(out, done, Math.min(MAX_READ, length - done), offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
      } catch (e) {
        throw new MergeLabError('READ_FAILED', `Could not read ${path} at offset ${offset} (${describe(e)}).`);
      }
      if (done !== length) {
        throw new MergeLabError('READ_FAILED', `${path} ended after ${offset + done} bytes while reading ${length} at ${offset}; was it truncated while open?`);
      }
      return out;
    },
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/**
 * A file written under a temporary name, `path.partial-<random>`, which `finish()` renames to
 * `path` and `discard()` deletes, so a failed or cancelled merge never leaves a half-written file
 * under the real name. Creates the parent folder if needed. The sinks below write through it.
 */
async function openPartial(path: string) {
  const partial = `${path}.partial-${randomBytes(6).toString('hex')}`;
  let fh: FileHandle;
  try {
    await mkdir(dirname(path), { recursive: true });
    fh = await open(partial, 'wx');
  } catch (e) {
    throw new MergeLabError('WRITE_FAILED', `Could not create ${partial} (${describe(e)}). Check that the folder is writable.`);
  }
  let state: 'open' | 'closed' | 'aborted' = 'open';
  return {
    checkOpen() {
      if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot write to ${path}: it is already ${state}.`);
    },
    /** All of `bytes`, at `position` (a positional write) or after the last write (null). */
    async writeAll(bytes: Uint8Array, position: number | null): Promise<void> {
      let done = 0;
      try {
        while (done < bytes.byteLength) {
          const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position === null ? null : position + done);
          done += bytesWritten;
        }
      } catch (e) {
        throw new MergeLabError('WRITE_FAILED', `Could not write ${path} (${describe(e)}). Is the disk full?`);
      }
    },
    /** Closes and renames to `path`, once; `last` (a final flush) runs first, and its failure discards the file. */
    async finish(last?: () => Promise<void>): Promise<void> {
      if (state === 'closed') return;
      if (state === 'aborted') throw new MergeLabError('WRITE_FAILED', `Cannot close ${path}: it was aborted.`);
      if (last) {
        try {
          await last();
        } catch (e) {
          await this.discard();
          throw e;
        }
      }
      state = 'closed';
      try {
        await fh.close();
        await rename(partial, path);
      } catch (e) {
        await unlink(partial).catch(() => undefined);
        throw new MergeLabError('WRITE_FAILED', `Could not finish ${path} (${describe(e)}).`);
      }
    },
    async discard(): Promise<void> {
      if (state !== 'open') return;
      state = 'aborted';
      await fh.close().catch(() => undefined);
      await unlink(partial).catch(() => undefined);
    },
  };
}

/** A sink writing to `path` atomically (openPartial), in order. */
export async function nodeFileSink(path: string): Promise<ByteSink> {
  const file = await openPartial(path);
  // Small writes (a checkpoint of 100k tiny tensors makes one per tensor) are gathered into one
  // buffer and written together: a syscall and an await each cost more than the bytes.
  const pending = new Uint8Array(SINK_BUFFER);
  let filled = 0;
  const flush = async () => {
    if (filled === 0) return;
    const n = filled;
    filled = 0;
    await file.writeAll(pending.subarray(0, n), null);
  };
  return {
    name: path,
    async write(chunk) {
      file.checkOpen();
      const big = chunk.byteLength >= pending.byteLength / 4;
      // What was gathered goes first, so the bytes stay in order.
      if (big || filled + chunk.byteLength > pending.byteLength) await flush();
      if (big) return file.writeAll(chunk, null);
      pending.set(chunk, filled);
      filled += chunk.byteLength;
    },
    close: () => file.finish(flush),
    abort: () => file.discard(),
  };
}

/**
 * A sink written at offsets (engine/merge/placed-output.ts), for a merge on several workers that
 * writes each tensor where it belongs as soon as it is merged; atomic as nodeFileSink.
 */
export async function nodePlacedSink(path: string): Promise<RandomAccessSink> {
  const file = await openPartial(path);
  return {
    name: path,
    async writeAt(offset, bytes) {
      file.checkOpen();
      await file.writeAll(bytes, offset);
    },
    close: () => file.finish(),
    abort: () => file.discard(),
  };
}

/** Whether `path` exists and what it is; undefined when it does not exist. */
export async function pathKind(path: string): Promise<'file' | 'directory' | 'other' | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MergeLabError('READ_FAILED', `Could not access ${path} (${describe(e)}).`);
  }
}

/** A JSON file's top-level object, or undefined when the file is missing, unreadable or not a JSON object. */
export async function readJsonFile(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
