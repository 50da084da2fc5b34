/**
 * The folder a merge is written into, as the worker hands it to the engine (mergeToFolder): where a
 * file handle has no createWritable (Safari before 26 has none, but has had sync access handles in
 * workers since 15.2), its files are written through a FileSystemSyncAccessHandle instead, which
 * only a worker may open. Such writes land in the file at once (no swap file): abort closes it, and
 * the engine's rollback then removes the files the merge created, as it does after createWritable,
 * but a file that was there before is left overwritten — the private storage's export folders,
 * where this path runs, start empty.
 */
import type { OutputFolder, OutputWritable } from '../src/engine/api/engine-api.js';

/** The members of a FileSystemSyncAccessHandle used here; early versions returned promises, so each is awaited. */
interface SyncAccess {
  write(data: Uint8Array, options: { at: number }): number | Promise<number>;
  truncate(size: number): void | Promise<void>;
  flush(): void | Promise<void>;
  close(): void | Promise<void>;
}

interface FileHandleLike {
  createWritable?: () => Promise<OutputWritable>;
  createSyncAccessHandle?: () => Promise<SyncAccess>;
}

interface FolderLike {
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike>;
  removeEntry(name: string): Promise<void>;
}

function syncWritable(access: SyncAccess): OutputWritable {
  let at = 0;
  let open = true;
  const end = async () => {
    if (!open) return;
    open = false;
    await access.close();
  };
  return {
    async write(data) {
      for (let done = 0; done < data.byteLength; ) done += await access.write(data.subarray(done), { at: at + done });
      at += data.byteLength;
    },
    async close() {
      await access.flush();
      await end();
    },
    abort: end,
  };
}

/** `folder` (a FileSystemDirectoryHandle) as an OutputFolder whose files open by either means. */
export function writableFolder(folder: FolderLike): OutputFolder {
  return {
    async getFileHandle(name, options) {
      const handle = await folder.getFileHandle(name, options);
      return {
        async createWritable() {
          if (typeof handle.createWritable === 'function') return handle.createWritable();
          if (typeof handle.createSyncAccessHandle !== 'function') throw new Error(`${name}: this browser can write files neither through createWritable nor through a sync access handle`);
          const access = await handle.createSyncAccessHandle();
          // As createWritable does without keepExistingData: the file starts empty.
          await access.truncate(0);
          return syncWritable(access);
        },
      };
    },
    removeEntry: (name) => folder.removeEntry(name),
  };
}
