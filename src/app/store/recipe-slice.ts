/**
 * The recipe slice: the merge method (TIES by default, as the lab opens) and the demo's global
 * controls. Each change asks the engine for a new live score; requests are latest-wins.
 */
import { DEFAULT_RANDOM_SEED } from '../../engine/merge/seed.js';
import { DENSITY, LAMBDA } from '../../engine/methods/params.js';
import { METHODS, findMethod } from '../../engine/methods/catalog.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import { nextSteps, stepsEitherWay } from '../recipe/steps-ahead.js';
import { isRoutedMethod } from '../routed/methods.js';
import type { LabState, RecipeSlice, SettingsAhead, SliceCreator } from './types.js';

export const DEFAULT_METHOD = 'ties';
/** The trainer's TIES reference point (manifest.json: accuracy.normalized.ties). */
export const DEFAULT_DENSITY = 0.3;
export const DEFAULT_LAMBDA = 1;

/**
 * One step either way of density and λ from where the sliders rest, for the engine to work on
 * while the lab opens: the first move of either slider is then answered at once, and the workers'
 * code is warm (compiled, not still interpreted) for the moves after it.
 */
export function stepsAround(s: Pick<LabState, 'density' | 'lambda'>): SettingsAhead[] {
  return [...stepsEitherWay(s.density, DENSITY.ui?.step).map((density) => ({ density })), ...stepsEitherWay(s.lambda, LAMBDA.ui?.step).map((lambda) => ({ lambda }))];
}

/** The recipes (by `recipeOf`) at each setting ahead; a step the recipe cannot take is left out. */
export function recipesAhead<R>(s: LabState, ahead: readonly SettingsAhead[], recipeOf: (s: LabState) => R): R[] {
  const out: R[] = [];
  for (const a of ahead) {
    try {
      out.push(recipeOf({ ...s, ...a }));
    } catch {
      // Out of range for this method: nothing to work on ahead.
    }
  }
  return out;
}

/** The schema of parameter `name`: the method's own, else the first method that has one (a URL may set it before the method). */
export function specOf(method: string, name: string): ParamSpec | undefined {
  return findMethod(method)?.params.find((p) => p.name === name) ?? METHODS.flatMap((m) => m.params).find((p) => p.name === name);
}

/**
 * `v` inside the schema's range for `name` (clamped to min and max), or undefined when it cannot be
 * one: not finite, or at an exclusive bound (epsilon < 0.5). Parameters without a range take any finite number.
 */
export function inRange(spec: ParamSpec | undefined, v: number): number | undefined {
  if (!Number.isFinite(v)) return undefined;
  // An integer parameter (karcher's max_iter) takes whole numbers only: the engine refuses 2.5, as mergekit does.
  let x = spec?.type === 'integer' ? Math.round(v) : v;
  if (spec?.min !== undefined) x = Math.max(spec.min, x);
  if (spec?.max !== undefined) {
    if (spec.maxExclusive && x >= spec.max) return undefined;
    x = Math.min(spec.max, x);
  }
  return x;
}

export const createRecipeSlice: SliceCreator<RecipeSlice> = (set, get) => ({
  method: DEFAULT_METHOD,
  density: DEFAULT_DENSITY,
  lambda: DEFAULT_LAMBDA,
  globals: {},
  math: 'mergekit',
  setArithmetic(a) {
    set((s) => ({ dtype: 'dtype' in a ? a.dtype : s.dtype, math: a.math ?? s.math }));
    get().requestLive();
    get().requestCharts();
  },
  demoModels: {},
  randomSeed: DEFAULT_RANDOM_SEED,
  layered: {},
  setGlobal(name, value, inputAt) {
    const spec = specOf(get().method, name);
    // A boolean parameter takes true or false only (a link's g.normalize=1 is not one).
    if ((spec?.type === 'boolean') !== (typeof value === 'boolean')) return;
    const v = typeof value === 'number' ? inRange(spec, value) : value;
    if (v === undefined) return;
    set((s) => ({ globals: { ...s.globals, [name]: v } }));
    get().requestLive(inputAt);
    get().requestCharts(inputAt);
  },
  setMethod(id) {
    // Only ids from the registry: a stale URL or preset must not leave an unknown method selected.
    if ((!findMethod(id) && !isRoutedMethod(id)) || id === get().method) return;
    const twin = get().twin;
    // Twin-Merging's rank is the rank the spectrum marks.
    set({ method: id, ...(id === 'twin_merging' && !twin.useEnergy ? { svdRank: twin.rank } : {}) });
    get().requestLive();
    get().requestCharts();
  },
  setDensity(value, inputAt) {
    if (!Number.isFinite(value)) return;
    value = Math.min(1, Math.max(0, value));
    const before = get().density;
    set({ density: value });
    const ahead = nextSteps(before, value, DENSITY.ui?.step).map((density) => ({ density }));
    get().requestLive(inputAt, ahead);
    get().requestCharts(inputAt, ahead);
  },
  setLambda(value, inputAt) {
    if (!Number.isFinite(value)) return;
    const before = get().lambda;
    set({ lambda: value });
    const ahead = nextSteps(before, value, LAMBDA.ui?.step).map((lambda) => ({ lambda }));
    get().requestLive(inputAt, ahead);
    get().requestCharts(inputAt, ahead);
  },
  setDemoModelParam(id, name, value, inputAt) {
    const v = value === undefined ? undefined : inRange(specOf(get().method, name), value);
    if (value !== undefined && v === undefined) return;
    set((s) => {
      const own = { ...s.demoModels[id] };
      if (v === undefined) delete own[name];
      else own[name] = v;
      const demoModels = { ...s.demoModels, [id]: own };
      if (Object.keys(own).length === 0) delete demoModels[id];
      return { demoModels };
    });
    get().requestLive(inputAt);
    get().requestCharts(inputAt);
  },
  setBaseWeight(weight) {
    if (weight !== undefined && !Number.isFinite(weight)) return;
    set(weight === undefined ? { baseWeight: undefined } : { baseWeight: weight });
    get().requestLive();
    get().requestCharts();
  },
  setRandomSeed(seed) {
    if (!Number.isSafeInteger(seed) || seed < 0 || seed === get().randomSeed) return;
    set({ randomSeed: seed });
    get().requestLive();
    get().requestCharts();
  },
  setLayered(name, groups, inputAt) {
    let clean: Record<string, number> | undefined;
    if (groups !== undefined) {
      const spec = specOf(get().method, name);
      // Only numeric parameters vary by layer; one value that cannot be taken refuses the whole set.
      if (spec && spec.type !== 'number') return;
      clean = {};
      for (const [g, x] of Object.entries(groups)) {
        const v = inRange(spec, x);
        if (v === undefined) return;
        clean[g] = v;
      }
      if (Object.keys(clean).length === 0) clean = undefined;
    }
    set((s) => {
      const layered = { ...s.layered };
      if (clean) layered[name] = clean;
      else delete layered[name];
      return { layered };
    });
    get().requestLive(inputAt);
    get().requestCharts(inputAt);
  },
  setPair(pair) {
    if (pair && pair.base === pair.other) return;
    set(pair ? { pair: { base: pair.base, other: pair.other } } : { pair: undefined });
    get().requestLive();
    get().requestCharts();
  },
});
