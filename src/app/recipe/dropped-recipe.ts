/**
 * The recipe for the user's own checkpoints, generated from the chosen method's parameter schema:
 * the base (when the method takes one) and the experts in list order, named by the ids they are
 * opened under in the worker. Global parameters come from the lab's global controls, per-model
 * ones from each model's sliders, falling back to the global control (density) or the default.
 */
import { MergeLabError } from '../../engine/errors.js';
import { findMethod } from '../../engine/methods/catalog.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import type { ParameterMap, Recipe, RecipeDtype, RecipeMath } from '../../engine/recipe/types.js';
import type { DroppedModel } from '../store/types.js';

export interface RecipeControls {
  readonly density: number;
  readonly lambda: number;
  /** Global booleans and numbers other than λ (normalize, t, …) the user set. */
  readonly globals?: Readonly<Record<string, number | boolean>>;
  /** The recipe's `dtype` (absent: compute in the dtype the checkpoints store, as mergekit does). */
  readonly dtype?: RecipeDtype;
  /** 'float32': 16-bit recipes in float32, rounded once (our `math:` key); default mergekit's rounding. */
  readonly math?: RecipeMath;
}

/** A parameter without a default that leaves the tensor as it is when unset (passthrough's scale). */
const leavesAsIs = (p: ParamSpec) => p.default === undefined && !p.required;

/** The value a per-model slider shows for `p` before the user moves it. */
export function perModelDefault(p: ParamSpec, c: RecipeControls): number {
  if (p.name === 'density') return c.density;
  if (p.name === 'weight') return 1;
  if (typeof p.default === 'number') return p.default;
  // Unset, it leaves each tensor as it is (passthrough's scale): the range's middle would be 0, a zeroed model.
  if (leavesAsIs(p)) return 1;
  const lo = p.ui?.min ?? p.min ?? 0;
  const hi = p.ui?.max ?? p.max ?? 1;
  return (lo + hi) / 2;
}

/** The value a global control shows for `p` before the user moves it. */
export function globalDefault(p: ParamSpec, c: RecipeControls): number | boolean {
  const set = c.globals?.[p.name];
  if (set !== undefined) return set;
  if (p.name === 'lambda') return c.lambda;
  if (p.default !== undefined) return p.default;
  const lo = p.ui?.min ?? p.min ?? 0;
  const hi = p.ui?.max ?? p.max ?? 1;
  return (lo + hi) / 2;
}

export function droppedRecipe(
  methodId: string,
  models: readonly DroppedModel[],
  perModel: Readonly<Record<string, Readonly<Record<string, number>>>>,
  c: RecipeControls,
): Recipe {
  const method = findMethod(methodId);
  if (!method) throw new MergeLabError('UNKNOWN_METHOD', `Unknown merge method "${methodId}".`);
  const ready = models.filter((m) => m.role !== 'excluded');
  const base = ready.find((m) => m.role === 'base');
  if (method.base === 'required' && !base) throw new MergeLabError('BASE_MODEL_REQUIRED', `${method.label} needs a base model: choose "base" as the role of one of your checkpoints.`);
  const experts = ready.filter((m) => m.role === 'expert');
  if (experts.length === 0) throw new MergeLabError('TOO_FEW_MODELS', 'Choose "expert" as the role of at least one of your checkpoints.');
  const global: Record<string, number | boolean> = {};
  for (const p of method.params) {
    if (p.scope !== 'global') continue;
    const v = globalDefault(p, c);
    if (v !== p.default || p.required) global[p.name] = v;
  }
  const modelParams = (id: string): ParameterMap => {
    const out: Record<string, number> = {};
    for (const p of method.params) {
      if (p.scope !== 'model' || p.type === 'boolean') continue;
      const set = perModel[id]?.[p.name];
      // Left unset until moved, as mergekit reads it: the recipe says no more than the user chose.
      if (set === undefined && leavesAsIs(p)) continue;
      const v = set ?? perModelDefault(p, c);
      if (v !== p.default || p.required) out[p.name] = v;
    }
    return out;
  };
  const entry = (id: string) => {
    const parameters = modelParams(id);
    return { model: id, ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
  };
  return {
    mergeMethod: method.id,
    // An optional base (linear) would be averaged in with the experts, as mergekit does: leave it out, as the demo does.
    ...(base && method.base === 'required' ? { baseModel: base.id } : {}),
    models: experts.map((m) => entry(m.id)),
    ...(Object.keys(global).length > 0 ? { parameters: global } : {}),
    ...(c.dtype ? { dtype: c.dtype } : {}),
    ...(c.math === 'float32' ? { math: c.math } : {}),
  };
}
