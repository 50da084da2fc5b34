/**
 * A merge into a model folder, as both the worker's merges service and `merge-lab merge` run it:
 * the folder but its weights first (its problems stop the merge too, and a union vocabulary
 * re-orders the embeddings the plan reads), then the plan, then the tensors into whichever writer
 * the host gives (memory in the page, shards on disk in the CLI). Where the models come from and
 * where the files go stays the host's.
 */
import type { MergeLabError } from '../../errors.js';
import type { Checkpoint } from '../../io/index.js';
import type { TensorSpec } from '../../io/safetensors-writer.js';
import { planMerge, type PlanMergeResult } from '../../merge/plan-merge.js';
import type { CancelToken, MergeProgress } from '../../merge/progress.js';
import { mergeWorkingMemory, outputBytes, runMerge, type MergePlanToRun, type TensorOutput } from '../../merge/run-merge.js';
import { runMergePool, type MergeWorker } from '../../merge/pool.js';
import { METHODS, findMethod } from '../../methods/registry.js';
import { prepareModelFolder, type ModelFolder, type ModelFolderInput } from '../../output/model-folder.js';
import type { Recipe } from '../../recipe/types.js';

export interface ModelMergeInput extends Omit<ModelFolderInput, 'method'> {
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  /** Models that could not be opened, with why: problems of the plan. */
  readonly failures?: ReadonlyMap<string, MergeLabError>;
  /** The base model's (or first model's) config.json: the layer count and architecture. */
  readonly config?: Readonly<Record<string, unknown>>;
}

export interface ModelMergePlan extends PlanMergeResult {
  readonly folder: ModelFolder;
}

/** The model folder but its weights, and the merge plan; every problem of both is listed, none thrown. */
export async function planModelMerge(o: ModelMergeInput): Promise<ModelMergePlan> {
  const method = findMethod(o.recipe.mergeMethod);
  const folder = await prepareModelFolder({ ...o, ...(method ? { method: { label: method.label, ...(method.reference ? { reference: method.reference } : {}) } } : {}) });
  const planned = planMerge({
    recipe: o.recipe,
    methods: METHODS,
    checkpoints: o.checkpoints,
    ...(o.failures ? { failures: o.failures } : {}),
    ...(o.config ? { config: o.config } : {}),
    ...(folder.vocabulary ? { vocabulary: folder.vocabulary } : {}),
  });
  return { ...planned, folder };
}

/** The output tensors' layout, for the writer. */
export function mergeTensorSpecs(plan: MergePlanToRun): TensorSpec[] {
  return plan.tensors.map((t) => ({ name: t.name, dtype: t.outDtype, shape: t.shape }));
}

/** Bytes of the merged weights. */
export function mergeOutputBytes(plan: MergePlanToRun): number {
  return plan.tensors.reduce((s, t) => s + outputBytes(t), 0);
}

/**
 * Peak memory of a merge held in memory: the output file, plus the CLI's bound for the tensor
 * work (mergeWorkingMemory) — the page merges tensor by tensor with the same runner.
 */
export function estimateMergeMemory(plan: MergePlanToRun): number {
  return mergeOutputBytes(plan) + mergeWorkingMemory(plan);
}

export interface WriteMergeOptions {
  readonly plan: MergePlanToRun;
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  /** Where the tensors go: finished once all are written, aborted (nothing left) on any failure. */
  readonly writer: TensorOutput & { finish(): Promise<void>; abort(): Promise<void> };
  readonly cancel?: CancelToken;
  readonly onProgress?: (p: MergeProgress) => void;
  readonly onWarning?: (message: string) => void;
  readonly collectGarbage?: () => void;
  readonly maxBlockBytes?: number;
  /** Workers that merge the tensors (merge/pool.ts), this thread reading and writing; none: this thread merges. */
  readonly workers?: readonly MergeWorker[];
  /** With workers: bytes the tensors in flight may hold together (default the pool's bound, poolBudget). */
  readonly budgetBytes?: number;
}

/** Runs the plan into the writer. */
export async function writeMerge(o: WriteMergeOptions): Promise<void> {
  try {
    const run = {
      plan: o.plan,
      checkpoints: o.checkpoints,
      output: o.writer,
      // Files (dropped Blobs, files on disk) are read afresh for every tensor: the merge may work in them.
      freshReads: true,
      cancel: o.cancel,
      onProgress: o.onProgress,
      onWarning: o.onWarning,
      collectGarbage: o.collectGarbage,
    };
    if (o.workers?.length) await runMergePool({ ...run, workers: o.workers, ...(o.budgetBytes !== undefined ? { budgetBytes: o.budgetBytes } : {}) });
    else await runMerge({ ...run, maxBlockBytes: o.maxBlockBytes });
    await o.writer.finish();
  } catch (e) {
    // The merge's own error is the one to report, not a failure to clean up after it.
    await o.writer.abort().catch(() => undefined);
    throw e;
  }
}

/** A routed package (twin_merging, channel_merging) is not a model folder: what of the recipe it ignores, as warnings. */
export function routedIgnores(recipe: Recipe, label: string): string[] {
  return recipe.tokenizerSource !== undefined || recipe.chatTemplate !== undefined ? [`tokenizer_source and chat_template are ignored: a ${label} package is not a model folder, and no tokenizer is written with it.`] : [];
}
