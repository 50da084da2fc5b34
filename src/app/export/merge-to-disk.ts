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
import type { DiskTarget } from './disk-target.js';

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
  const done = await r.call((e) => e.merges.mergeToFolder(r.id, r.recipe, folder, { ...r.options, name: r.name }, r.onProgress));
  const { fileUrls, ...urls } = await publishWrittenFolder(r.target.folder, done.files, r.name);
  return {
    tensors: done.tensors,
    milliseconds: done.milliseconds,
    backend: done.backend,
    bytes: done.weightsBytes,
    warnings: done.warnings,
    ...urls,
    writtenTo: { kind: r.target.kind, label: r.target.label, files: fileUrls },
  };
}
