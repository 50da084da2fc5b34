/**
 * The merged model's folder on the main thread: packed as one zip (fflate: the weights stored as
 * they are, the small files deflated) or written into a folder the user picked with the File
 * System Access API. It reads Blobs only — no tensor code is loaded here.
 */
import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { MergeLabError } from '../../engine/errors.js';

/** One file of the folder. */
export interface FolderEntry {
  readonly name: string;
  readonly blob: Blob;
}

/** Blobs are read this many bytes at a time, so no second whole copy of the weights is made at once. */
const CHUNK = 8 * 2 ** 20;
/** A zip without its 64-bit extension (fflate writes none) holds sizes and offsets below 4 GiB. */
const ZIP_LIMIT = 2 ** 32 - 1;
/** Stored, not deflated: safetensors data hardly compresses and would cost seconds per GB. */
const STORED = /\.safetensors$/i;

/**
 * The entries as a zip whose files sit in the folder `folder/`. Refuses (WRITE_FAILED) a folder of
 * 4 GiB or more: save it into a folder instead (saveToDirectory).
 */
export async function zipFolder(folder: string, entries: readonly FolderEntry[]): Promise<Blob> {
  const total = entries.reduce((s, e) => s + e.blob.size, 0);
  if (total + 1024 * (entries.length + 1) >= ZIP_LIMIT) {
    throw new MergeLabError('WRITE_FAILED', `The merged model is ${(total / 2 ** 30).toFixed(1)} GiB, too large for a zip without its 64-bit extension (4 GiB); save it into a folder instead, or merge with the command line.`);
  }
  const parts: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else parts.push(chunk);
  });
  for (const e of entries) {
    const file = STORED.test(e.name) ? new ZipPassThrough(`${folder}/${e.name}`) : new ZipDeflate(`${folder}/${e.name}`, { level: 6 });
    zip.add(file);
    if (e.blob.size === 0) file.push(new Uint8Array(0), true);
    for (let at = 0; at < e.blob.size; at += CHUNK) {
      const end = Math.min(e.blob.size, at + CHUNK);
      file.push(new Uint8Array(await e.blob.slice(at, end).arrayBuffer()), end === e.blob.size);
    }
  }
  zip.end();
  if (failure) throw new MergeLabError('WRITE_FAILED', `The zip could not be built (${(failure as Error).message}).`);
  return new Blob(parts as Uint8Array<ArrayBuffer>[], { type: 'application/zip' });
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
