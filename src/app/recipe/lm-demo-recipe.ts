/**
 * The LM demo's recipe, from the same controls as the digits demo's (method, density, λ, the other
 * globals, a value per expert, Linear's base weight, the seed, SLERP's pair): the experts named by
 * their domain ids and the base as "lm-base" — the ids the LM demo's checkpoints are opened under
 * in the worker, apart from the digits demo's "base" — and handed out with the files' names
 * (base.safetensors, expert-romance.safetensors, …), so `merge-lab merge` runs it beside them.
 * The digits demo's value per layer group has no meaning here (its groups are the digits MLP's).
 */
import { MergeLabError } from '../../engine/errors.js';
import type { Recipe } from '../../engine/recipe/types.js';
import type { LabState, SweepParam } from '../store/types.js';
import { atShared, demoControls, demoRecipe, methodParam, type DemoControls } from './demo-recipe.js';
import { SWEEP_VALUES, dellaAllows, type SweepPlan } from './chart-recipes.js';
import { recipeKey } from '../../engine/recipe/recipe-key.js';

/** The id the LM demo's base is opened under in the worker. */
export const LM_BASE_ID = 'lm-base';

/** The LM demo's experts' ids (its domains'), in the manifest's order. */
export function lmExperts(s: Pick<LabState, 'lmDemo'>): string[] {
  return s.lmDemo.domains.map((d) => d.id);
}

/** The controls as the LM demo's recipe reads them. */
export function lmDemoControls(s: LabState): DemoControls {
  return { ...demoControls(s), layered: {} };
}

/** The LM demo's recipe at the current controls (or `c`); throws while the demo has not loaded. */
export function lmDemoRecipe(s: LabState, c: DemoControls = lmDemoControls(s)): Recipe {
  const experts = lmExperts(s);
  if (s.lmDemo.status !== 'loaded' || experts.length === 0) throw new MergeLabError('NO_CHECKPOINT', 'The language-model demo has not loaded yet: its recipe names its models once they are in.');
  return demoRecipe(s.method, experts, c, LM_BASE_ID);
}

/** The LM demo's ids → its files' names, as the handed-out recipe names them. */
export function lmPortableNames(s: Pick<LabState, 'lmDemo'>): Record<string, string> {
  return Object.fromEntries(s.lmDemo.models.map((m) => [m.id, m.file]));
}

/** The LM demo's recipe at each sweep value of `param` (undefined when the method reads no such parameter). */
export function lmSweepPlan(s: LabState, param: SweepParam | undefined): SweepPlan | undefined {
  if (!param || !methodParam(s.method, param) || s.lmDemo.status !== 'loaded') return undefined;
  const at = (v: number) => lmDemoRecipe(s, atShared(lmDemoControls(s), param, v));
  const points = SWEEP_VALUES[param].filter((v) => param !== 'density' || dellaAllows(s, v)).map((value) => ({ value, recipe: at(value) }));
  return { param, points, key: `lm\u0000${param}\u0000${recipeKey(at(Number.NaN))}` };
}
