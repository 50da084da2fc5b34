/**
 * The demo's recipe, generated from the store: the experts named by their task ids, the base as
 * "base" for methods that need one (the ids the engine client opens the demo's checkpoints under,
 * and the ones the engine's demo session uses), and only the parameters the chosen method reads,
 * taken from its schema. Per-expert values, Linear's base weight, the seed, SLERP's two models and
 * a value per layer group come from the lab's demo controls.
 */
import { DEFAULT_RANDOM_SEED } from '../../engine/merge/seed.js';
import { findMethod } from '../../engine/methods/catalog.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import type { Conditional, ParameterMap, ParameterSetting, Recipe, RecipeModel } from '../../engine/recipe/types.js';
import { DEMO_DTYPES } from '../../engine/demo/demo-dtype.js';

/** The id the demo's base checkpoint is opened under in the worker. */
export const DEMO_BASE_ID = 'base';

/** SLERP-style methods merge exactly two models: `base` is the t = 0 end (mergekit's base_model), `other` the t = 1 end. */
export interface ModelPair {
  readonly base: string;
  readonly other: string;
}

export interface DemoControls {
  readonly density: number;
  readonly lambda: number;
  /** Other parameters the user set for every expert or globally (normalize, t, epsilon, gamma, …). */
  readonly globals?: Readonly<Record<string, number | boolean>>;
  /** Per-expert values (task id → parameter → value), over the shared control. */
  readonly models?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** A method with an optional base (linear): the base merged in with this weight; absent leaves it out. */
  readonly baseWeight?: number;
  /** random_seed, written for methods that draw at random (DARE, DELLA). */
  readonly randomSeed?: number;
  /** A value per layer group (parameter → group → value), written as mergekit filter lists; replaces the parameter's one value. */
  readonly layered?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The two models of a pairwise method (absent: the first two experts). */
  readonly pair?: ModelPair;
}

/** The store fields the demo's recipe reads. */
export interface DemoControlState {
  readonly density: number;
  readonly lambda: number;
  readonly globals: Readonly<Record<string, number | boolean>>;
  readonly demoModels: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly baseWeight?: number;
  readonly randomSeed: number;
  readonly layered: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly pair?: ModelPair;
}

/** The demo's controls as they stand in the store. */
export function demoControls(s: DemoControlState): DemoControls {
  return {
    density: s.density,
    lambda: s.lambda,
    globals: s.globals,
    models: s.demoModels,
    ...(s.baseWeight !== undefined ? { baseWeight: s.baseWeight } : {}),
    randomSeed: s.randomSeed,
    layered: s.layered,
    ...(s.pair ? { pair: s.pair } : {}),
  };
}

/**
 * The controls with density or λ at `v` for every expert and layer, as a sweep scores them: a value
 * per layer or per expert for that parameter would otherwise hold the curve flat.
 */
export function atShared(c: DemoControls, name: 'density' | 'lambda', v: number): DemoControls {
  const layered = { ...c.layered };
  delete layered[name];
  const models: Record<string, Readonly<Record<string, number>>> = {};
  for (const [id, own] of Object.entries(c.models ?? {})) {
    const rest = { ...own };
    delete rest[name];
    models[id] = rest;
  }
  return { ...c, [name]: v, layered, models };
}

/** The method's schema entry for `name`, if the method reads that parameter. */
export function methodParam(methodId: string, name: string): ParamSpec | undefined {
  return findMethod(methodId)?.params.find((p) => p.name === name);
}

/** Whether a method merges exactly two models (SLERP): the lab then asks which two. */
export function isPairwise(methodId: string): boolean {
  const m = findMethod(methodId);
  return m !== undefined && m.maxModels === 2;
}

/**
 * Which of the demo's models a method takes, where it cannot take all the experts: 'base-pair' two
 * models, the first being base_model (slerp, nearswap, arcee_fusion); 'pair' two models besides an
 * optional base (nuslerp); 'one' a single model (passthrough). Undefined: every expert.
 */
export type DemoModelChoice = 'base-pair' | 'pair' | 'one';

export function demoModelChoice(methodId: string): DemoModelChoice | undefined {
  const m = findMethod(methodId);
  if (!m) return undefined;
  if (m.maxModels === 1) return 'one';
  if (m.maxModels === 2) return 'base-pair';
  // nuslerp: exactly two models, plus a base_model that is neither of them.
  if (m.maxModels === 3 && m.minModels === 2) return 'pair';
  return undefined;
}

/**
 * With an optional base, what turning the base on means: 'member' it is merged in with a weight
 * (linear: listed under models); 'origin' the models' task vectors from it are merged and added
 * back to it (nuslerp, multislerp: base_model only); 'mean' it joins the mean as one more model
 * (karcher: base_model only, which mergekit averages in). Undefined: no base control.
 */
export function demoBaseRole(methodId: string): 'member' | 'origin' | 'mean' | undefined {
  const m = findMethod(methodId);
  if (!m || m.base !== 'optional' || m.maxModels === 1) return undefined;
  if (m.id === 'karcher') return 'mean';
  if (m.id === 'nuslerp' || m.id === 'multislerp') return 'origin';
  return 'member';
}

/** A value for a required parameter the user has not set: mid-range. */
function middle(p: ParamSpec): number {
  const lo = p.ui?.min ?? p.min ?? 0;
  const hi = p.ui?.max ?? p.max ?? 1;
  return (lo + hi) / 2;
}

/**
 * A value per layer group as a mergekit filter list. The demo's tensors carry no layer index
 * (hidden.weight, head.weight), so mergekit would evaluate a gradient list at t = 0 for every one
 * of them: filters on each group's tensor names are what gives each layer its own value there.
 */
export function layerFilters(groups: Readonly<Record<string, number>>): Conditional[] {
  return Object.entries(groups).map(([group, value]) => ({ filter: `${group}.`, value }));
}

/**
 * The pair a pairwise method merges: the one set, else the first two experts. `withBase` false (nuslerp
 * over task vectors from the base): the base cannot be one of the two, so a pair naming it gives the default.
 */
export function demoPair(tasks: readonly string[], pair: ModelPair | undefined, baseId = DEMO_BASE_ID, withBase = true): ModelPair {
  const known = (id: string) => (withBase && id === baseId) || tasks.includes(id);
  if (pair && pair.base !== pair.other && known(pair.base) && known(pair.other)) return pair;
  return { base: tasks[0] ?? baseId, other: tasks[1] ?? tasks[0] ?? baseId };
}

/** `baseId`: the id the base is opened under (the LM demo's is not the digits demo's). */
export function demoRecipe(methodId: string, tasks: readonly string[], c: DemoControls, baseId = DEMO_BASE_ID): Recipe {
  const method = findMethod(methodId);
  if (!method) throw new Error(`Unknown merge method "${methodId}".`);
  /** What every expert (or the top level) gets for `p` when no expert sets its own. */
  const shared = (p: ParamSpec): ParameterSetting | undefined => {
    const layers = p.type === 'number' ? c.layered?.[p.name] : undefined;
    if (layers && Object.keys(layers).length > 0) return layerFilters(layers);
    const set = p.name === 'lambda' || p.name === 'density' ? undefined : c.globals?.[p.name];
    if (set !== undefined) return set;
    if (p.name === 'weight') return 1;
    if (p.name === 'density') return c.density;
    if (p.name === 'lambda') return c.lambda;
    if (p.required && p.type !== 'boolean') return middle(p);
    return undefined;
  };
  const global: Record<string, ParameterSetting> = {};
  for (const p of method.params) {
    if (p.scope !== 'global') continue;
    const v = shared(p);
    if (v !== undefined) global[p.name] = v;
  }
  const entry = (id: string): RecipeModel => {
    const own: Record<string, ParameterSetting> = {};
    for (const p of method.params) {
      if (p.scope !== 'model') continue;
      const v = p.type === 'number' ? (c.models?.[id]?.[p.name] ?? shared(p)) : shared(p);
      if (v !== undefined) own[p.name] = v;
    }
    return { model: id, ...params(own) };
  };
  let models: RecipeModel[];
  let baseModel: string | undefined = method.base === 'required' ? baseId : undefined;
  const choice = demoModelChoice(method.id);
  const baseRole = demoBaseRole(method.id);
  const baseOn = baseRole !== undefined && c.baseWeight !== undefined;
  if (choice === 'base-pair') {
    // mergekit's slerp lists both models and names the t = 0 end as base_model.
    const pair = demoPair(tasks, c.pair, baseId);
    models = [pair.base, pair.other].map(entry);
    baseModel = pair.base;
  } else if (choice === 'pair') {
    // nuslerp: the two models in order (t = w2 / (w1 + w2)); with the base on, their task vectors from it.
    const pair = demoPair(tasks, c.pair, baseId, !baseOn);
    models = [pair.base, pair.other].map(entry);
    if (baseOn) baseModel = baseId;
  } else if (choice === 'one') {
    // passthrough copies one model: the pair control's first model.
    models = [entry(demoPair(tasks, c.pair, baseId).base)];
  } else {
    models = tasks.map(entry);
    if (baseOn && baseRole === 'member') {
      // An optional base (linear) is averaged in with the experts, as mergekit does, only when the user gives it a weight.
      models = [{ model: baseId, parameters: { weight: c.baseWeight! } }, ...models];
      baseModel = baseId;
    } else if (baseOn) baseModel = baseId;
  }
  return {
    mergeMethod: method.id,
    ...(baseModel !== undefined ? { baseModel } : {}),
    models,
    ...params(global),
    ...(method.random ? { randomSeed: c.randomSeed ?? DEFAULT_RANDOM_SEED } : {}),
    ...DEMO_DTYPES,
  };
}

function params(m: Record<string, ParameterSetting>): { parameters?: ParameterMap } {
  return Object.keys(m).length > 0 ? { parameters: { ...m } } : {};
}
