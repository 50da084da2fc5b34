/**
 * A whole recipe merged into memory: the planner and the streaming runner with an output that
 * keeps the tensors. For small models (the demo, sweeps, live recompute); large checkpoints are
 * streamed to disk by the CLI instead.
 */
import { MergeLabError, combineProblems } from '../errors.js';
import type { Checkpoint } from '../io/types.js';
import type { MergeMethod, OrderCache } from '../methods/types.js';
import type { Recipe } from '../recipe/types.js';
import { planMerge } from './plan-merge.js';
import type { CancelToken } from './progress.js';
import { runMerge, type UnscaledCache } from './run-merge.js';

export interface MergeToMemoryOptions {
  readonly recipe: Recipe;
  readonly methods: readonly MergeMethod[];
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly onWarning?: (message: string) => void;
  readonly cancel?: CancelToken;
  readonly orderCache?: OrderCache;
  readonly unscaledCache?: UnscaledCache;
}

/** Tensor name → merged float32 values. Throws the planner's problems as one MergeLabError. */
export async function mergeToMemory(o: MergeToMemoryOptions): Promise<Record<string, Float32Array>> {
  const { plan, problems, warnings } = planMerge({ recipe: o.recipe, methods: o.methods, checkpoints: o.checkpoints, config: o.config });
  if (problems.length > 0 || !plan) throw combineProblems(problems.length ? problems : [new MergeLabError('INTERNAL', 'No merge plan was made.')]);
  for (const w of warnings) o.onWarning?.(w);
  // No prototype: a tensor or key named "__proto__" is an ordinary key.
  const out: Record<string, Float32Array> = Object.create(null) as Record<string, Float32Array>;
  await runMerge({
    plan,
    checkpoints: o.checkpoints,
    output: { writeTensor: async (name, data) => void (out[name] = data) },
    onWarning: o.onWarning,
    cancel: o.cancel,
    orderCache: o.orderCache,
    ...(o.unscaledCache ? { unscaledCache: o.unscaledCache } : {}),
  });
  return out;
}
