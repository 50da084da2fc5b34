/**
 * The recipe slice: the merge method (TIES by default, as the lab opens) and the demo's global
 * controls. Each change asks the engine for a new live score; requests are latest-wins.
 */
import { findMethod } from '../../engine/methods/registry.js';
import { isRoutedMethod } from '../routed/methods.js';
import type { RecipeSlice, SliceCreator } from './types.js';

export const DEFAULT_METHOD = 'ties';
/** The trainer's TIES reference point (manifest.json: accuracy.normalized.ties). */
export const DEFAULT_DENSITY = 0.3;
export const DEFAULT_LAMBDA = 1;

/**
 * Where a slider moving from `before` to `now` most likely goes next (one more step the same
 * way), for the engine to score ahead. Rounded so that 0.31 + 0.01 is the 0.32 the slider sends.
 */
function nextStep<T>(before: number, now: number, patch: (v: number) => T): T[] {
  if (before === now) return [];
  return [patch(Number((2 * now - before).toFixed(10)))];
}

export const createRecipeSlice: SliceCreator<RecipeSlice> = (set, get) => ({
  method: DEFAULT_METHOD,
  density: DEFAULT_DENSITY,
  lambda: DEFAULT_LAMBDA,
  globals: {},
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
    get().requestLive(inputAt, nextStep(before, value, (density) => ({ density })));
    get().requestCharts(inputAt);
  },
  setLambda(value, inputAt) {
    if (!Number.isFinite(value)) return;
    const before = get().lambda;
    set({ lambda: value });
    get().requestLive(inputAt, nextStep(before, value, (lambda) => ({ lambda })));
    get().requestCharts(inputAt);
  },
});
