/**
 * The recipe slice: the merge method (TIES by default, as the lab opens) and the demo's global
 * controls. Each change asks the engine for a new live score; requests are latest-wins.
 */
import { DENSITY, LAMBDA } from '../../engine/methods/params.js';
import { findMethod } from '../../engine/methods/catalog.js';
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
  setGlobal(name, value, inputAt) {
    if (typeof value === 'number' && !Number.isFinite(value)) return;
    set((s) => ({ globals: { ...s.globals, [name]: value } }));
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
});
