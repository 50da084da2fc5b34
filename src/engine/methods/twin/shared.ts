/**
 * Twin-Merging's shared expert θ* (spec "Twin-Merging" step 1): any merge the engine runs, by
 * default task arithmetic over every expert. It is a plain Recipe through the real planner and
 * runner, so a TIES or DARE shared expert equals what `merge-lab merge` (and mergekit) write.
 */
import type { Checkpoint } from '../../io/types.js';
import { mergeToMemory } from '../../merge/merge-to-memory.js';
import { METHODS } from '../registry.js';
import type { MergeMethod } from '../types.js';
import type { Recipe } from '../../recipe/types.js';
import { DEMO_DTYPES } from '../../demo/demo-dtype.js';

/** The paper's default shared expert: task arithmetic, λ ≈ 0.3 (Twin-Merging §4, arXiv 2406.15479). */
export const DEFAULT_SHARED_LAMBDA = 0.3;

/**
 * A task-arithmetic recipe over `experts` on `base` with weight 1 each and scale λ: the default
 * shared expert. For another method, write the Recipe directly.
 */
export function taskArithmeticRecipe(base: string, experts: readonly string[], lambda = DEFAULT_SHARED_LAMBDA): Recipe {
  return { mergeMethod: 'task_arithmetic', baseModel: base, models: experts.map((model) => ({ model, parameters: { weight: 1 } })), parameters: { lambda }, ...DEMO_DTYPES };
}

/** The shared-expert methods the lab offers: task arithmetic, or TIES at a density (weight 1 each, scale λ). */
export type LabSharedMethod = { readonly id: 'task_arithmetic' } | { readonly id: 'ties'; readonly density: number };

/** The shared expert's recipe for a lab choice (task arithmetic: taskArithmeticRecipe). */
export function sharedRecipe(base: string, experts: readonly string[], method: LabSharedMethod, lambda = DEFAULT_SHARED_LAMBDA): Recipe {
  if (method.id === 'task_arithmetic') return taskArithmeticRecipe(base, experts, lambda);
  return { mergeMethod: 'ties', baseModel: base, models: experts.map((model) => ({ model, parameters: { weight: 1, density: method.density } })), parameters: { lambda }, ...DEMO_DTYPES };
}

export interface SharedExpertOptions {
  readonly recipe: Recipe;
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly methods?: readonly MergeMethod[];
  readonly onWarning?: (message: string) => void;
}

/** θ*: the recipe merged into memory (tensor name → float32 values). Throws the planner's problems. */
export async function buildSharedExpert(o: SharedExpertOptions): Promise<Record<string, Float32Array>> {
  return mergeToMemory({ recipe: o.recipe, methods: o.methods ?? METHODS, checkpoints: o.checkpoints, onWarning: o.onWarning });
}
