/**
 * The merged model's folder on the main thread, written into a folder the user picked with the
 * File System Access API (or packed as one zip: model-zip.ts). It reads Blobs only — no tensor
 * code is loaded here.
 */
import { MergeLabError } from '../../engine/errors.js';

/** One file of the folder. */
export interface FolderEntry {
  readonly name: string;
  readonly blob: Blob;
}

/** The parts of the File System Access API that saveToDirectory uses (FileSystemDirectoryHandle has them). */
export interface DirectoryLike {
  getFileHandle(name: string, options?: { create?: boolean }): Promise<{ createWritable(): Promise<WritableLike> }>;
  removeEntry(name: string): Promise<void>;
}
export interface WritableLike {
  write(data: Blob): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Writes the entries into `dir`. Every file is written through a writable stream, which the
 * browser keeps in a temporary file until it is closed; all are closed only once every one is
 * written, so a failure on the way leaves none of them (files created for it are removed again).
 */
export async function saveToDirectory(dir: DirectoryLike, entries: readonly FolderEntry[]): Promise<void> {
  const open: { name: string; writable: WritableLike; created: boolean }[] = [];
  let closed = 0;
  try {
    for (const e of entries) {
      const existed = await dir.getFileHandle(e.name).then(
        () => true,
        () => false,
      );
      const handle = await dir.getFileHandle(e.name, { create: true });
      const writable = await handle.createWritable();
      open.push({ name: e.name, writable, created: !existed });
      await writable.write(e.blob);
    }
    for (const o of open) {
      await o.writable.close();
      closed++;
    }
  } catch (e) {
    await Promise.allSettled(open.slice(closed).map((o) => o.writable.abort()));
    await Promise.allSettled(open.filter((o) => o.created).map((o) => dir.removeEntry(o.name)));
    throw new MergeLabError('WRITE_FAILED', `The merged model could not be written into the chosen folder (${(e as Error).message}); nothing new was left there. Choose another folder or download the zip.`);
  }
}

/** The folder picker, where the browser has one (Chromium: showDirectoryPicker). */
export function directoryPicker(): (() => Promise<DirectoryLike>) | undefined {
  const w = globalThis as { showDirectoryPicker?: (options?: { mode?: 'read' | 'readwrite'; id?: string }) => Promise<DirectoryLike> };
  const pick = w.showDirectoryPicker;
  return typeof pick === 'function' ? () => pick.call(globalThis, { mode: 'readwrite', id: 'merge-lab-output' }) : undefined;
}
