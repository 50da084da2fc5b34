/**
 * A merge written to disk while it runs (issue 20, item 2): the worker's mergeToFolder streams the
 * weights into the target folder tensor by tensor (all or nothing: on a failure or a cancel the
 * files it created are removed), and the written files are then published from disk
 * (outputs.ts publishWrittenFolder). Only the merge's working memory is held, never the model.
 */
import type { FolderMergeOptions, FolderMergeResult, OutputFolder, ProgressCallback } from '../../engine/api/engine-api.js';
import type { Recipe } from '../../engine/recipe/types.js';
import type { EngineRemote } from '../engine/engine-client.js';
import { publishWrittenFolder } from '../engine/outputs.js';
import type { JobResult } from '../store/types.js';
import { isEngineGone } from '../engine/failures.js';
import type { DiskTarget } from './disk-target.js';

async function entryNames(dir: FileSystemDirectoryHandle): Promise<string[]> {
  const names: string[] = [];
  for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
  return names;
}

/** How long a file the lost worker still held may refuse its removal, and how often it is tried again. */
const REMOVE_FOR_MS = 10_000;
const REMOVE_EVERY_MS = 200;

/**
 * Removes the entries the merge made. A terminated worker's open writable keeps its file locked
 * until Chromium has torn the worker down, so a removal refused meanwhile is tried again (the
 * folder listed anew each time: removing a file can take its swap file with it) for a while.
 */
async function removeAllBut(dir: FileSystemDirectoryHandle, keep: ReadonlySet<string>): Promise<void> {
  const until = Date.now() + REMOVE_FOR_MS;
  for (;;) {
    const made = (await entryNames(dir).catch(() => [])).filter((n) => !keep.has(n));
    if (made.length === 0) return;
    await Promise.allSettled(made.map((n) => dir.removeEntry(n)));
    if (Date.now() >= until) return;
    await new Promise((resolve) => setTimeout(resolve, REMOVE_EVERY_MS));
  }
}

export interface MergeToDiskRequest {
  readonly id: string;
  readonly recipe: Recipe;
  readonly target: DiskTarget;
  /** The model folder's name (its card's title). */
  readonly name: string;
  readonly options: FolderMergeOptions;
  readonly onProgress: ProgressCallback;
  /** Runs a call on the engine (EngineClient.call, with the store's checks around it). */
  readonly call: (fn: (remote: EngineRemote) => Promise<FolderMergeResult>) => Promise<FolderMergeResult>;
}

export async function mergeToDisk(r: MergeToDiskRequest): Promise<JobResult> {
  // A FileSystemDirectoryHandle has every member OutputFolder names (write takes more than bytes).
  const folder = r.target.folder as unknown as OutputFolder;
  const before = new Set(await entryNames(r.target.folder));
  let done: FolderMergeResult;
  try {
    done = await r.call((e) => e.merges.mergeToFolder(r.id, r.recipe, folder, { ...r.options, name: r.name }, r.onProgress));
  } catch (e) {
    // A worker that stopped mid-merge could not roll back: the files it had created (empty until
    // closed) and their swap files (Chromium's .crswap) are removed here.
    if (isEngineGone(e)) await removeAllBut(r.target.folder, before);
    throw e;
  }
  const { fileUrls, ...urls } = await publishWrittenFolder(r.target.folder, done.files, r.name);
  return {
    tensors: done.tensors,
    milliseconds: done.milliseconds,
    backend: done.backend,
    workers: done.workers,
    bytes: done.weightsBytes,
    warnings: done.warnings,
    ...urls,
    writtenTo: { kind: r.target.kind, label: r.target.label, files: fileUrls },
  };
}
