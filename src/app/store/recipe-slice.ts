/**
 * The recipe slice: the merge method (TIES by default, as the lab opens) and the demo's global
 * controls. Each change asks the engine for a new live score; requests are latest-wins.
 */
import { DENSITY, LAMBDA } from '../../engine/methods/params.js';
import { findMethod } from '../../engine/methods/registry.js';
import { isRoutedMethod } from '../routed/methods.js';
import type { LabState, RecipeSlice, SettingsAhead, SliceCreator } from './types.js';

export const DEFAULT_METHOD = 'ties';
/** The trainer's TIES reference point (manifest.json: accuracy.normalized.ties). */
export const DEFAULT_DENSITY = 0.3;
export const DEFAULT_LAMBDA = 1;

/**
 * Where a slider moving from `before` to `now` most likely goes next (one more step the same
 * way), for the engine to score ahead. Rounded so that 0.31 + 0.01 is the 0.32 the slider sends.
 */
function nextStep<T>(before: number, now: number, step: number | undefined, patch: (v: number) => T): T[] {
  // Only for a move of a step or two (keys, a slow drag): after a jump the next value is anyone's guess,
  // and guessing wrong costs the engine time the next real request needs.
  if (before === now || Math.abs(now - before) > 2 * (step ?? 0) + 1e-9) return [];
  // Two steps: while the next one is asked for (and drawn), the one after is already under way.
  return [1, 2].map((k) => patch(Number((now + k * (now - before)).toFixed(10))));
}

/**
 * One step either way of density and λ from where the sliders rest, for the engine to work on
 * while the lab opens: the first move of either slider is then answered at once, and the workers'
 * code is warm (compiled, not still interpreted) for the moves after it.
 */
export function stepsAround(s: Pick<LabState, 'density' | 'lambda'>): SettingsAhead[] {
  const at = (v: number, k: number, step: number | undefined) => Number((v + k * (step ?? 0)).toFixed(10));
  return [
    { density: at(s.density, 1, DENSITY.ui?.step) },
    { density: at(s.density, -1, DENSITY.ui?.step) },
    { lambda: at(s.lambda, 1, LAMBDA.ui?.step) },
    { lambda: at(s.lambda, -1, LAMBDA.ui?.step) },
  ];
}

/** The recipes (YAML, by `toYaml`) at each setting ahead; a step the recipe cannot take is left out. */
export function yamlsAhead(s: LabState, ahead: readonly SettingsAhead[], toYaml: (s: LabState) => string): string[] {
  const out: string[] = [];
  for (const a of ahead) {
    try {
      out.push(toYaml({ ...s, ...a }));
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
    const ahead = nextStep(before, value, DENSITY.ui?.step, (density) => ({ density }));
    get().requestLive(inputAt, ahead);
    get().requestCharts(inputAt, ahead);
  },
  setLambda(value, inputAt) {
    if (!Number.isFinite(value)) return;
    const before = get().lambda;
    set({ lambda: value });
    const ahead = nextStep(before, value, LAMBDA.ui?.step, (lambda) => ({ lambda }));
    get().requestLive(inputAt, ahead);
    get().requestCharts(inputAt, ahead);
  },
});
