/**
 * The recipes the charts ask the engine about. Diagnostics compare task vectors, so they always
 * name a base (even for a method that merges without one, such as linear); the spectrum depends
 * on the models only, so its recipe carries no slider value (and a slider move does not refetch
 * it); a sweep is the demo's recipe at each value of the swept parameter.
 */
import { MergeLabError } from '../../engine/errors.js';
import { findMethod } from '../../engine/methods/catalog.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { recipeTasks } from '../store/engine-slice.js';
import type { LabState, SweepParam } from '../store/types.js';
import type { SweepRequest } from '../../engine/api/engine-api.js';
import { DEMO_BASE_ID, atShared, demoControls, demoRecipe, methodParam } from './demo-recipe.js';
import { type RecipeControls, droppedRecipe } from './dropped-recipe.js';
import { recipeKey } from '../../engine/recipe/recipe-key.js';
import { recipeSettings } from './recipe-settings.js';
import { LM_BASE_ID, lmDemoControls, lmDemoRecipe } from './lm-demo-recipe.js';

/** The values a sweep scores: density over (0, 1], λ over the slider's range. */
export const SWEEP_VALUES: Readonly<Record<SweepParam, readonly number[]>> = {
  density: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
  lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5],
};

function withBase(r: Recipe, base: string | undefined): Recipe {
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', 'The charts compare task vectors (expert − base): choose "base" as the role of one of your checkpoints.');
  // passthrough copies one model (and takes no base_model besides it): the charts describe that
  // model's task vector, as task arithmetic at λ 1 over it (whose merge is the copy); its scale
  // stays in the recipe, so the charts' settings name it (task arithmetic does not read it).
  if (findMethod(r.mergeMethod)?.maxModels === 1) {
    return { mergeMethod: 'task_arithmetic', baseModel: base, models: r.models.map((m) => ({ model: m.model, parameters: { weight: 1, ...m.parameters } })), ...(r.dtype ? { dtype: r.dtype } : {}) };
  }
  if (r.baseModel) return r;
  // A method that would average a named base in (linear) gets it listed with weight 0: the task
  // vectors have their base, and the merge they describe stays the one without it (mergekit stops
  // on a base_model with no weight).
  if (findMethod(r.mergeMethod)?.base === 'optional') return { ...r, baseModel: base, models: [...r.models, { model: base, parameters: { weight: 0 } }] };
  return { ...r, baseModel: base };
}

/**
 * The per-tensor merge whose task vectors the diagnostics describe: the method itself, or for a
 * routed method the merge inside it — Twin-Merging's shared expert (task arithmetic or TIES) at its λ,
 * Channel Merging's within-group method at its λ and density.
 */
function chartMethod(s: LabState): { method: string; c: RecipeControls } {
  if (s.method === 'twin_merging') return { method: s.twin.sharedMethod, c: { density: s.twin.sharedDensity, lambda: s.twin.lambda, globals: {} } };
  if (s.method === 'channel_merging') {
    const g = s.channel.groupMethod;
    // Average is linear with the base left out, whose task vectors are task arithmetic's (λ does not change a sign).
    return { method: g === 'average' ? 'task_arithmetic' : g, c: { density: s.channel.density, lambda: g === 'average' ? 1 : s.channel.lambda, globals: {} } };
  }
  return { method: s.method, c: { ...(s.source === 'demo' ? demoControls(s) : s.source === 'lm' ? lmDemoControls(s) : { density: s.density, lambda: s.lambda, globals: s.globals }), ...(s.dtype ? { dtype: s.dtype } : {}), math: s.math } };
}

/** The current recipe, with a base, for diagnostics. */
export function chartRecipe(s: LabState): Recipe {
  const { method, c } = chartMethod(s);
  if (s.source === 'mine') {
    const ready = s.dropped.filter((m) => m.status === 'ready');
    return withBase(droppedRecipe(method, ready, s.perModel, c), ready.find((m) => m.role === 'base')?.id);
  }
  if (s.source === 'lm') return withBase(lmDemoRecipe({ ...s, method }, { ...lmDemoControls(s), ...c }), LM_BASE_ID);
  return withBase(demoRecipe(method, recipeTasks(s), c), DEMO_BASE_ID);
}

/** Task arithmetic over the same models: the spectrum reads only the task vectors, whatever the method. */
export function spectrumRecipe(s: LabState): Recipe | undefined {
  try {
    const r = chartRecipe(s);
    return { mergeMethod: 'task_arithmetic', baseModel: r.baseModel, models: r.models.map((m) => ({ model: m.model, parameters: { weight: 1 } })), ...(r.dtype ? { dtype: r.dtype } : {}) };
  } catch {
    return undefined;
  }
}

export interface SweepPlan {
  readonly param: SweepParam;
  readonly points: readonly SweepRequest[];
  /** Everything the sweep depends on: the same key means the same curve. */
  readonly key: string;
}

/**
 * Whether a density is one the method accepts: DELLA's keep probabilities density ± ε must lie
 * inside (0, 1), so its sweep leaves out the densities its planner would refuse (at the default
 * ε 0.15, 0.1 and 0.9), instead of failing as a whole.
 */
export function dellaAllows(s: Pick<LabState, 'method' | 'globals'>, density: number): boolean {
  const spec = methodParam(s.method, 'epsilon');
  if (!spec || density >= 1) return true;
  const given = s.globals?.['epsilon'];
  const eps = typeof given === 'number' ? given : typeof spec.default === 'number' ? spec.default : 0;
  return density - eps > 0 && density + eps < 1;
}

/** The demo's recipe at each sweep value of `param` (undefined when the method reads no such parameter). */
export function sweepPlan(s: LabState, param: SweepParam | undefined): SweepPlan | undefined {
  if (!param || !methodParam(s.method, param)) return undefined;
  const tasks = recipeTasks(s);
  const at = (v: number) => demoRecipe(s.method, tasks, atShared(demoControls(s), param, v));
  const points = SWEEP_VALUES[param].filter((v) => param !== 'density' || dellaAllows(s, v)).map((value) => ({ value, recipe: at(value) }));
  return { param, points, key: `${param}\u0000${recipeKey(at(Number.NaN))}` };
}

/**
 * The settings a sweep scores, in words, for its exports: every setting of the demo's recipe but
 * the swept one, which each point sets for every layer and expert (atShared), so a value per layer
 * or per expert of it is not among them.
 */
export function sweepSettings(s: LabState, param: SweepParam): string {
  const text = recipeSettings(demoRecipe(s.method, recipeTasks(s), atShared(demoControls(s), param, Number.NaN)));
  return text.replace(new RegExp(`\\b${param} NaN( \\(every model\\))?`), `${param} swept (every layer and model)`);
}

/** The swept parameter's own values where the demo has any: per layer or per expert (they are not on the sweep's curve). */
export function ownSweptValues(s: Pick<LabState, 'layered' | 'demoModels'>, param: SweepParam): boolean {
  return s.layered[param] !== undefined || Object.values(s.demoModels).some((m) => m[param] !== undefined);
}
