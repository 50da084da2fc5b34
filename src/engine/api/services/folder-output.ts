/**
 * The files of one merge written into a folder the page was given (File System Access API), all or
 * nothing: each file is written through a writable stream, which the browser keeps aside until it
 * is closed; they are closed only once every one is written (commit), and on a failure the open
 * ones are aborted and the ones this merge created removed (rollback), so the folder keeps what it
 * had. Weights go through ByteSinks (the streaming writers'), small writes gathered into 4 MiB.
 */
import { MergeLabError } from '../../errors.js';
import type { ByteSink } from '../../io/types.js';
import type { OutputFolder, OutputWritable } from '../engine-api.js';

/** Writes of at most this many bytes are gathered: a write call costs more than its bytes. */
const GATHER_BYTES = 4 << 20;

export interface FolderFiles {
  /** A sink writing file `name`; its close() flushes, the file is closed by commit(). */
  sink(name: string): Promise<ByteSink>;
  /** File `name` with these bytes (closed by commit()). */
  write(name: string, bytes: Uint8Array): Promise<void>;
  /** The files opened, in order. */
  readonly names: readonly string[];
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

export function folderFiles(folder: OutputFolder): FolderFiles {
  const open: { name: string; writable: OutputWritable }[] = [];
  /** Files this merge created (getFileHandle creates an empty one at once, before its writable). */
  const created: string[] = [];
  let closed = 0;
  const failed = (name: string, e: unknown) =>
    new MergeLabError('WRITE_FAILED', `${name} could not be written into the chosen folder (${(e as Error)?.message ?? e}); nothing new was left there. Choose another folder.`);
  const start = async (name: string): Promise<OutputWritable> => {
    try {
      const existed = await folder.getFileHandle(name).then(
        () => true,
        () => false,
      );
      const handle = await folder.getFileHandle(name, { create: true });
      if (!existed) created.push(name);
      const writable = await handle.createWritable();
      open.push({ name, writable });
      return writable;
    } catch (e) {
      throw failed(name, e);
    }
  };
  const put = async (name: string, writable: OutputWritable, bytes: Uint8Array) => {
    try {
      await writable.write(bytes);
    } catch (e) {
      throw failed(name, e);
    }
  };
  return {
    get names() {
      return open.map((o) => o.name);
    },
    async sink(name) {
      const writable = await start(name);
      const pending = new Uint8Array(GATHER_BYTES);
      let filled = 0;
      const flush = async () => {
        if (filled === 0) return;
        // A copy: the gathering buffer is filled again at once.
        const chunk = pending.slice(0, filled);
        filled = 0;
        await put(name, writable, chunk);
      };
      return {
        name,
        async write(chunk) {
          if (chunk.byteLength >= GATHER_BYTES / 4) {
            await flush();
            // The writers hand a fresh array each time, and the write is awaited before the next.
            await put(name, writable, chunk);
            return;
          }
          if (filled + chunk.byteLength > GATHER_BYTES) await flush();
          pending.set(chunk, filled);
          filled += chunk.byteLength;
        },
        close: flush,
        // The whole merge is rolled back by the caller; nothing of this file alone to undo here.
        abort: async () => undefined,
      };
    },
    async write(name, bytes) {
      await put(name, await start(name), bytes);
    },
    async commit() {
      for (; closed < open.length; closed++) {
        const o = open[closed]!;
        try {
          await o.writable.close();
        } catch (e) {
          throw failed(o.name, e);
        }
      }
    },
    async rollback() {
      await Promise.allSettled(open.slice(closed).map((o) => o.writable.abort()));
      await Promise.allSettled(created.map((name) => folder.removeEntry(name)));
    },
  };
}
