/**
 * Where "Merge to disk" writes the merged model while the worker merges it (issue 20, item 2): a
 * folder the user picks (File System Access API: Chromium's showDirectoryPicker), or, where the
 * browser has no folder picker, a folder of the page's own storage on disk (the origin private
 * file system, OPFS) whose files are then offered as downloads. Either way the worker gets a
 * FileSystemDirectoryHandle (it crosses postMessage as a handle, not as bytes) and writes through
 * createWritable, so no whole-model buffer is ever made; a File read back from either is backed
 * by the file on disk, so downloading it streams from there.
 */
import { MergeLabError } from '../../engine/errors.js';

export interface DiskTarget {
  /** The folder the worker writes the model folder into. */
  readonly folder: FileSystemDirectoryHandle;
  /**
   * 'picked': a folder the user chose on disk (the files are there once merged);
   * 'browser-storage': the page's private storage (the files are offered as downloads).
   */
  readonly kind: 'picked' | 'browser-storage';
  /** The folder's name, for the result line. */
  readonly label: string;
}

/** Where a merge written to disk is: the target's kind and name, and its files as Blob URLs of the files on disk. */
export interface WrittenTo {
  readonly kind: DiskTarget['kind'];
  readonly label: string;
  readonly files: readonly { readonly name: string; readonly url: string }[];
}

/** The private storage's folder holding exports: one at a time, emptied when the next one starts. */
export const EXPORTS_FOLDER = 'merge-lab-exports';

type PickDirectory = (options?: { mode?: 'read' | 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;

function directoryPickerOf(): PickDirectory | undefined {
  const pick = (globalThis as { showDirectoryPicker?: PickDirectory }).showDirectoryPicker;
  return typeof pick === 'function' ? pick.bind(globalThis) : undefined;
}

function privateStorage(): (() => Promise<FileSystemDirectoryHandle>) | undefined {
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<FileSystemDirectoryHandle> } } }).navigator?.storage;
  return typeof storage?.getDirectory === 'function' ? () => storage.getDirectory!() : undefined;
}

/** How this browser can merge to disk: into a picked folder, through its private storage, or not at all. */
export function diskTargetKind(): DiskTarget['kind'] | undefined {
  if (directoryPickerOf()) return 'picked';
  if (privateStorage()) return 'browser-storage';
  return undefined;
}

/**
 * Asks for the target (call it from the click itself: the folder picker needs the user's gesture).
 * Rejects with an AbortError when the user closes the picker. `name`: the folder's name in the
 * private storage (the picked folder keeps its own).
 */
export async function chooseDiskTarget(name: string): Promise<DiskTarget> {
  const pick = directoryPickerOf();
  if (pick) {
    const folder = await pick({ mode: 'readwrite', id: 'merge-lab-output' });
    return { folder, kind: 'picked', label: folder.name };
  }
  const root = privateStorage();
  if (!root) throw new MergeLabError('WRITE_FAILED', 'This browser can neither write into a folder nor keep files of its own on disk, so a merge cannot be streamed to disk here; merge in memory (Merge) or with the command line (merge-lab merge).');
  const exports = await (await root()).getDirectoryHandle(EXPORTS_FOLDER, { create: true });
  // The last export's files are released first: the private storage is not the user's folder.
  await clearFolder(exports);
  const folder = await exports.getDirectoryHandle(name, { create: true });
  return { folder, kind: 'browser-storage', label: name };
}

async function clearFolder(dir: FileSystemDirectoryHandle): Promise<void> {
  const names: string[] = [];
  for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
  await Promise.allSettled(names.map((n) => dir.removeEntry(n, { recursive: true })));
}
