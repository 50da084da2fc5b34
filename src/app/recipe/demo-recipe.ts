/**
 * The demo's recipe, generated from the store: the experts named by their task ids, the base as
 * "base" for methods that need one (the ids the engine client opens the demo's checkpoints under,
 * and the ones the engine's demo session uses), and only the parameters the chosen method reads,
 * taken from its schema.
 */
import { findMethod } from '../../engine/methods/catalog.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import type { ParameterMap, Recipe } from '../../engine/recipe/types.js';
import { DEMO_DTYPES } from '../../engine/demo/demo-dtype.js';

/** The id the demo's base checkpoint is opened under in the worker. */
export const DEMO_BASE_ID = 'base';

export interface DemoControls {
  readonly density: number;
  readonly lambda: number;
  /** Other global parameters the user set (normalize, t, …). */
  readonly globals?: Readonly<Record<string, number | boolean>>;
}

/** The method's schema entry for `name`, if the method reads that parameter. */
export function methodParam(methodId: string, name: string): ParamSpec | undefined {
  return findMethod(methodId)?.params.find((p) => p.name === name);
}

/** A value for a required parameter the lab has no control for yet (e.g. slerp's t): mid-range. */
function middle(p: ParamSpec): number {
  const lo = p.ui?.min ?? p.min ?? 0;
  const hi = p.ui?.max ?? p.max ?? 1;
  return (lo + hi) / 2;
}

export function demoRecipe(methodId: string, tasks: readonly string[], c: DemoControls): Recipe {
  const method = findMethod(methodId);
  if (!method) throw new Error(`Unknown merge method "${methodId}".`);
  const perModel: Record<string, number> = {};
  const global: Record<string, number | boolean> = {};
  for (const p of method.params) {
    const into = p.scope === 'model' ? perModel : global;
    const set = p.scope === 'global' ? c.globals?.[p.name] : undefined;
    if (set !== undefined && p.name !== 'lambda') global[p.name] = set;
    else if (p.name === 'weight') into[p.name] = 1;
    else if (p.name === 'density') into[p.name] = c.density;
    else if (p.name === 'lambda') into[p.name] = c.lambda;
    else if (p.required && p.type !== 'boolean') into[p.name] = middle(p);
  }
  const params = (m: Record<string, number | boolean>): { parameters?: ParameterMap } => (Object.keys(m).length > 0 ? { parameters: { ...m } } : {});
  return {
    mergeMethod: method.id,
    // An optional base (linear) would be averaged in with the experts, as mergekit does: leave it out.
    ...(method.base === 'required' ? { baseModel: DEMO_BASE_ID } : {}),
    models: tasks.map((t) => ({ model: t, ...params(perModel) })),
    ...params(global),
    ...DEMO_DTYPES,
  };
}
