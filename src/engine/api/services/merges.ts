/**
 * The merges service: recipe checks, merges into memory and routed packages, each a job the
 * caller names and may cancel (one job registry, services/cancel.ts). The plan and the run are
 * merge-plan.ts's, shared with `merge-lab merge`.
 */
import { MergeLabError, combineProblems, isMergeLabError } from '../../errors.js';
import { memorySink, type Checkpoint } from '../../io/index.js';
import { createSafetensorsWriter } from '../../io/safetensors-writer.js';
import { throwIfCancelled, type CancelToken, type MergeProgress } from '../../merge/progress.js';
import { readJsonObject, type ModelFiles } from '../../output/model-files.js';
import { parseRecipe } from '../../recipe/parse.js';
import { recipeText as textOf } from '../../recipe/recipe-text.js';
import { renameModels } from '../../recipe/rename.js';
import { recipeToYaml } from '../../recipe/write.js';
import { findRoutedMethod } from '../../routed/routed-methods.js';
import type { CheckResult, FolderMergeOptions, FolderMergeResult, MergeOptions, MergeResult, MergesService, OutputFolder, ProgressCallback, RoutedMergeOptions, RoutedMergeResult } from '../engine-api.js';
import { createJobs } from './cancel.js';
import { recipeCheckpoints, recipeModelNames, type EngineContext } from './context.js';
import { estimateMergeMemory, mergeOutputBytes, mergeTensorSpecs, planModelMerge, routedIgnores, writeMerge } from './merge-plan.js';
import { WORKING_OVERHEAD_BYTES, mergeWorkingMemory, type MergePlanToRun } from '../../merge/run-merge.js';
import { toPoolPlan } from '../../merge/pool.js';
import type { MergePool } from '../../merge/pool-protocol.js';
import { autoWorkerCount } from '../../merge/pool-size.js';
import type { BackendName } from '../../backend.js';
import { createShardedWriter } from '../../io/sharded.js';
import { folderFiles } from './folder-output.js';

/** mergekit's default shard size ("5B"), as merge-lab merge's --max-shard-size. */
const DEFAULT_SHARD_SIZE = 5e9;

const mib = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(0)} MiB` : `${Math.max(1, Math.round(n / 1024))} KiB`);

/** The merged model's folder name (its model card's title) when the caller gives none. */
const MERGED_NAME = 'merged-model';

/** Across comlink a callback returns a promise; progress must never stall or fail the job. */
const quietProgress = (onProgress?: ProgressCallback) => (onProgress ? (x: MergeProgress) => void Promise.resolve(onProgress(x)).catch(() => undefined) : undefined);

/**
 * What a page's merge worker holds before any tensor (its context, tfjs, the engine, the wasm
 * backend's first heap), counted against the budget for each worker started.
 */
export const PAGE_WORKER_FIXED_BYTES = 64 << 20;

/**
 * How many merge workers a merge into a folder gets: the option (default 'auto': autoWorkerCount
 * over the host's cores), no more than the budget leaves room for — each worker's fixed part, and
 * the largest tensor's working memory beside them (the pool runs a tensor alone when nothing else
 * fits) — and 1 where the host starts none.
 */
function pageWorkerCount(ctx: EngineContext, plan: MergePlanToRun, backend: BackendName, options: FolderMergeOptions): number {
  const host = ctx.host.mergeWorkers;
  const asked = options.workers ?? 'auto';
  if (asked !== 'auto' && !(Number.isInteger(asked) && asked >= 1)) throw new MergeLabError('PARAMETER_INVALID', `workers must be a whole number of at least 1, or "auto", got ${String(asked)}.`);
  if (!host || backend === 'webgpu') return 1;
  let n = asked === 'auto' ? autoWorkerCount(plan, host.cores, backend) : asked;
  while (n > 1 && options.budgetBytes !== undefined && mergeWorkingMemory(plan) + n * PAGE_WORKER_FIXED_BYTES > options.budgetBytes) n--;
  return n;
}

/** The bytes the tensors in flight may hold together on `workers` workers within the budget (none: the pool's own bound). */
function poolTensorBudget(budgetBytes: number | undefined, workers: number): number | undefined {
  return budgetBytes === undefined ? undefined : budgetBytes - WORKING_OVERHEAD_BYTES - workers * PAGE_WORKER_FIXED_BYTES;
}

export function createMergesService(ctx: EngineContext): MergesService {
  const jobs = createJobs();

  /**
   * The planned merge and the merged model's folder but its weights, over the opened models; the
   * base's (or first model's) config.json, when dropped, gives the layer count and architecture, as
   * in the CLI. `names`: model ids → the names the output's recipe text and card give them
   * (MergeOptions.recipeNames).
   */
  const plan = async (recipeYaml: string, name: string, names?: Readonly<Record<string, string>>) => {
    const recipe = parseRecipe(recipeYaml, 'recipe');
    const checkpoints = new Map<string, Checkpoint>();
    const failures = new Map<string, MergeLabError>();
    for (const n of recipeModelNames(recipe)) {
      const m = ctx.models.get(n);
      if (m) checkpoints.set(n, m.checkpoint);
      else failures.set(n, new MergeLabError('PATH_NOT_FOUND', `Model "${n}" is not loaded; load it first or fix its name in the recipe (loaded: ${[...ctx.models.keys()].join(', ') || 'none'}).`));
    }
    const reference = ctx.models.get(recipe.baseModel ?? recipe.models[0]?.model ?? '');
    const config = reference?.files.names.includes('config.json') ? await readJsonObject(reference.files, 'config.json') : undefined;
    // The recipe as the output writes it (its metadata, mergekit_config.yml, the card), once.
    const shown = names ? renameModels(recipe, names) : recipe;
    const recipeText = recipeToYaml(shown);
    // The opened models' side files (config.json, tokenizer), and a tokenizer_source model's.
    const files = new Map<string, ModelFiles>();
    for (const n of [...checkpoints.keys(), ...(recipe.tokenizerSource !== undefined ? [recipe.tokenizerSource] : [])]) {
      const m = ctx.models.get(n);
      if (m) files.set(n, m.files);
    }
    const planned = await planModelMerge({ recipe, recipeText, shownRecipe: shown, name, files, checkpoints, failures, ...(config ? { config } : {}) });
    return { recipe, recipeText, checkpoints, ...planned };
  };

  /**
   * A merge's plan, refused with every problem at once when it cannot run, and the warnings the
   * recipe, the plan and the folder give (merge and mergeToFolder alike). A cancel sent while it
   * planned stops here.
   */
  const runnablePlan = async (recipe: Parameters<MergesService['merge']>[1], options: { name?: string; recipeNames?: Readonly<Record<string, string>> }, cancel: CancelToken) => {
    const p = await plan(textOf(recipe), options.name ?? MERGED_NAME, options.recipeNames);
    throwIfCancelled(cancel);
    const f = p.folder;
    const problems = [...p.problems, ...f.problems];
    if (problems.length || !p.plan) throw combineProblems(problems.length ? problems : [new MergeLabError('INTERNAL', 'No merge plan was made.')]);
    return { p, f, mergePlan: p.plan, warnings: [...(p.recipe.warnings ?? []), ...p.warnings, ...f.warnings] };
  };

  return {
    async check(recipe): Promise<CheckResult> {
      try {
        const p = await plan(textOf(recipe), MERGED_NAME);
        const f = p.folder;
        return {
          warnings: [...(p.recipe.warnings ?? []), ...p.warnings, ...f.warnings],
          problems: [...p.problems, ...f.problems].map((e) => ({ code: e.code, message: e.message })),
          ...(p.plan ? { memoryBytes: estimateMergeMemory(p.plan) } : {}),
        };
      } catch (e) {
        if (!isMergeLabError(e)) throw e;
        const all = e.problems.length ? e.problems : [e];
        return { warnings: [], problems: all.map((x) => ({ code: x.code, message: x.message })) };
      }
    },
    // The job covers planning too: a cancel sent while the recipe is read and planned (seconds for
    // sharded or pickled checkpoints) stops the merge before it writes anything.
    merge: (jobId, recipe, options: MergeOptions = {}, onProgress?: ProgressCallback): Promise<MergeResult> => jobs.run(jobId, async (cancel) => {
      const started = Date.now();
      const { p, f, mergePlan, warnings } = await runnablePlan(recipe, options, cancel);
      const need = estimateMergeMemory(mergePlan);
      if (options.budgetBytes !== undefined && need > options.budgetBytes) {
        throw new MergeLabError(
          'BUDGET_EXCEEDED',
          `This merge needs about ${mib(need)} of memory (the ${mib(mergeOutputBytes(mergePlan))} result plus working space for its largest tensor), over the ${mib(options.budgetBytes)} budget. Merge fewer models, use a smaller out_dtype, raise the budget, or use the command line (merge-lab merge streams to disk).`,
        );
      }
      const backend = await ctx.ensureBackend();
      throwIfCancelled(cancel);
      const recipeText = p.recipeText;
      const sink = memorySink('merged.safetensors');
      const writer = await createSafetensorsWriter(sink, mergeTensorSpecs(mergePlan), { format: 'pt', merge_recipe: recipeText });
      await writeMerge({
        plan: mergePlan,
        checkpoints: p.checkpoints,
        writer,
        cancel,
        ...(options.maxBlockBytes !== undefined ? { maxBlockBytes: options.maxBlockBytes } : {}),
        onWarning: (w) => warnings.push(w),
        onProgress: quietProgress(onProgress),
      });
      return { bytes: sink.bytes(), recipeYaml: recipeText, folder: f.files, warnings, tensors: mergePlan.tensors.length, milliseconds: Date.now() - started, backend: backend.name };
    }),
    mergeToFolder: (jobId, recipe, folder: OutputFolder, options: FolderMergeOptions = {}, onProgress?: ProgressCallback): Promise<FolderMergeResult> => jobs.run(jobId, async (cancel) => {
      const started = Date.now();
      const { p, f, mergePlan, warnings } = await runnablePlan(recipe, options, cancel);
      // The result goes to the folder as it is made: only the working memory is held.
      const need = mergeWorkingMemory(mergePlan);
      if (options.budgetBytes !== undefined && need > options.budgetBytes) {
        throw new MergeLabError(
          'BUDGET_EXCEEDED',
          `This merge needs about ${mib(need)} of memory (working space for its largest tensor; the result goes to the folder as it is made), over the ${mib(options.budgetBytes)} budget. Merge fewer models, raise the budget, or use the command line.`,
        );
      }
      const backend = await ctx.ensureBackend();
      throwIfCancelled(cancel);
      const count = pageWorkerCount(ctx, mergePlan, backend.name, options);
      const files = folderFiles(folder);
      let pool: MergePool | undefined;
      try {
        // Started inside the try: a cancel while they start still closes them (finally).
        if (count > 1) pool = await ctx.host.mergeWorkers!.start(count, toPoolPlan(mergePlan), backend.name);
        throwIfCancelled(cancel);
        const writer = createShardedWriter((name) => files.sink(name), mergeTensorSpecs(mergePlan), {
          maxShardSize: options.maxShardSize ?? DEFAULT_SHARD_SIZE,
          metadata: { format: 'pt', merge_recipe: p.recipeText },
        });
        await writeMerge({
          plan: mergePlan,
          checkpoints: p.checkpoints,
          writer,
          cancel,
          ...(options.maxBlockBytes !== undefined ? { maxBlockBytes: options.maxBlockBytes } : {}),
          ...(pool ? { workers: pool.workers, budgetBytes: poolTensorBudget(options.budgetBytes, count) } : {}),
          onWarning: (w) => warnings.push(w),
          onProgress: quietProgress(onProgress),
        });
        throwIfCancelled(cancel);
        // The rest of the folder as merge-lab merge writes it: the recipe as read, then the model folder's files.
        for (const file of [{ name: 'merge-recipe.yml', bytes: new TextEncoder().encode(p.recipeText) }, ...f.files]) await files.write(file.name, file.bytes);
        await files.commit();
      } catch (e) {
        await files.rollback();
        throw e;
      } finally {
        await pool?.close();
      }
      return { files: files.names, weightsBytes: mergeOutputBytes(mergePlan), recipeYaml: p.recipeText, warnings, tensors: mergePlan.tensors.length, milliseconds: Date.now() - started, backend: backend.name, workers: pool ? count : 1 };
    }),
    routedMerge: (jobId, input, onProgress, options: RoutedMergeOptions = {}): Promise<RoutedMergeResult> => jobs.run(jobId, async (cancel) => {
      const started = Date.now();
      const recipe = parseRecipe(textOf(input), 'recipe');
      const method = findRoutedMethod(recipe.mergeMethod);
      if (!method) throw new MergeLabError('UNKNOWN_METHOD', `merge_method "${recipe.mergeMethod}" is not a routed method; use twin_merging or channel_merging (or merge() for the others).`);
      const { checkpoints } = recipeCheckpoints(ctx, recipe);
      const { problems, warnings } = method.validate({ recipe, checkpoints });
      if (problems.length) throw combineProblems(problems);
      await ctx.ensureBackend();
      throwIfCancelled(cancel);
      const all = [...(recipe.warnings ?? []), ...warnings, ...routedIgnores(recipe, method.label)];
      const { files, report } = await method.buildPackage(recipe, checkpoints, {
        cancel,
        // The lab draws the error against K and the assignment maps for models small enough to rebuild at each K.
        errorSweep: options.detail ?? true,
        assignments: options.detail ?? true,
        onWarning: (w) => all.push(w),
        onProgress: quietProgress(onProgress),
      });
      return { files, report, recipeYaml: recipeToYaml(recipe), warnings: all, milliseconds: Date.now() - started };
    }),
    async cancel(jobId) {
      jobs.cancel(jobId);
    },
  };
}
