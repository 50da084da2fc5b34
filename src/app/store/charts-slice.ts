/**
 * The charts slice: what the diagnostics charts show and what they asked the engine for. Each
 * chart's data is requested latest-wins, like the live score, and only when its inputs changed:
 * sign conflicts follow every slider move; the spectrum depends only on the models, the tensor and
 * the rank; the per-layer map's effective ranks only on the models (asked once the diagnostics
 * show a layer map); the sweep on everything but the swept parameter (and waits for the sliders to rest).
 */
import { findMethod } from '../../engine/methods/catalog.js';
import { toAppError } from '../demo/errors.js';
import { chartRecipe, spectrumRecipe, sweepPlan } from '../recipe/chart-recipes.js';
import { recipeKey } from '../../engine/recipe/recipe-key.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { cleared, failed, latestRequest } from './latest-request.js';
import { recipesAhead } from './recipe-slice.js';
import type { ChartData, ChartsSlice, LabState, SliceCreator, SweepParam } from './types.js';

/** A sweep waits this long after the last change, so dragging λ does not start a sweep per pixel. */
export const SWEEP_DEBOUNCE_MS = 250;
export const DIAGNOSTICS_SHOWN_MARK = 'diagnostics-shown';
export const SLIDER_TO_CHARTS_MEASURE = 'slider-to-charts';

const idle = <T>(): ChartData<T> => ({ status: 'idle', requested: 0 });

/** The sweep parameter a method can use: the chosen one if the method reads it, else the other, else none. */
export function sweepParamFor(method: string, wanted: SweepParam): SweepParam | undefined {
  const reads = (name: string) => findMethod(method)?.params.some((p) => p.name === name) ?? false;
  if (reads(wanted)) return wanted;
  const other: SweepParam = wanted === 'lambda' ? 'density' : 'lambda';
  return reads(other) ? other : undefined;
}

/**
 * What the diagnostics depend on: the models, the trims and the signs, not λ (it scales the merged
 * vector after them). A λ move keeps the charts it drew, keyed by this, and asks the engine nothing.
 */
export function diagnosticsKey(r: Recipe): string {
  // The same key whether λ was the only parameter (a recipe at λ 1 lists none) or not: field order counts in JSON.
  const { parameters: all, ...rest } = r;
  const { lambda: _lambda, ...parameters } = all ?? {};
  return recipeKey({ ...rest, parameters });
}

export const createChartsSlice: SliceCreator<ChartsSlice> = (set, get, api) => {
  let sweepTimer: ReturnType<typeof setTimeout> | undefined;
  let spectrumKey = '';
  let diagnosticsAsked = '';
  let sweepKey = '';
  let ranksKey = '';

  const request = <K extends 'diagnostics' | 'spectrum' | 'layerRanks' | 'sweep'>(
    name: K,
    call: () => Promise<NonNullable<LabState[K]['shown']>['data']>,
    inputAt?: number,
    forget?: () => void,
    onShown?: (data: NonNullable<LabState[K]['shown']>['data']) => void,
  ) => latestRequest({ getState: get, setState: set }, name, call, inputAt, forget, onShown);

  /**
   * The demo's sweep is no longer wanted (another source, a hidden sweep, a method without one): one
   * waiting for the sliders to rest is not asked, and one running stops at its next point (an empty
   * sweep supersedes it) instead of holding the worker while the answers wanted now wait.
   */
  const stopSweep = (s: LabState) => {
    clearTimeout(sweepTimer);
    const client = s.engineClient();
    if (sweepKey !== '' && s.sweep.status === 'computing' && client) void client.call((e) => e.demo.sweepDemo([]), { demo: true }).catch(() => undefined);
    sweepKey = '';
  };

  /**
   * The per-layer map's effective ranks, for a transformer checkpoint's diagnostics: they depend on
   * the models, base and dtype only (the spectrum's recipe), so a slider move asks nothing. None
   * until the map is coloured by them, nor for a link that hides the map (`layers_hide=1`): one SVD
   * per matrix and expert holds the worker for seconds (on the LM demo ~6 CPU-s, before the card's
   * first answer), for a colouring nobody chose.
   */
  const askRanks = () => {
    const now = get();
    const client = now.engineClient();
    const recipe = spectrumRecipe(now);
    if (!client || !recipe || now.hidden.includes('layers') || now.layerMetric !== 'rank') return;
    const key = `${now.source}\u0000${recipeKey(recipe)}`;
    if (key === ranksKey) return;
    ranksKey = key;
    request('layerRanks', () => client.call((e) => e.diagnostics.layerRanks(recipe), { demo: now.source === 'demo' }), undefined, () => void (ranksKey = ''));
  };

  // Dropped models, their roles and per-model values change the recipe too.
  api.subscribe((s, prev) => {
    // A file dropped again under the same name is other weights: the same recipe asks anew.
    if (s.dropped !== prev.dropped) diagnosticsAsked = spectrumKey = ranksKey = '';
    // Ranks kept under the same names would be drawn as the new weights': they go with the models.
    if (s.dropped !== prev.dropped && s.source === 'mine' && s.source === prev.source) set({ layerRanks: cleared(s.layerRanks.requested) });
    // Other models: what the charts hold, or have on the way, is about the models they left.
    if (s.source !== prev.source) {
      if (prev.source === 'demo') stopSweep(prev);
      sweepKey = ranksKey = '';
      set({ diagnostics: cleared(s.diagnostics.requested), spectrum: cleared(s.spectrum.requested), layerRanks: cleared(s.layerRanks.requested), sweep: cleared(s.sweep.requested) });
    }
    // A chart shown again (another preset's or link's hidden parts) asks for what it skipped while hidden.
    if (s.source !== prev.source || s.dropped !== prev.dropped || s.perModel !== prev.perModel || s.hidden !== prev.hidden) get().requestCharts();
  });

  return {
    diagnostics: idle(),
    spectrum: idle(),
    layerRanks: idle(),
    sweep: idle(),
    spectrumTensor: undefined,
    svdRank: undefined,
    sweepParam: 'density',
    layerMetric: 'conflict',

    setSpectrumTensor(name) {
      set({ spectrumTensor: name, svdRank: undefined });
      get().requestCharts();
    },
    setSvdRank(rank, inputAt) {
      if (!Number.isInteger(rank) || rank < 1) return;
      set({ svdRank: rank });
      get().requestCharts(inputAt);
    },
    setLayerMetric(metric) {
      set({ layerMetric: metric });
      if (get().diagnostics.shown?.data.layerMap) askRanks();
    },
    setSweepParam(param) {
      set({ sweepParam: param });
      get().requestCharts();
    },

    requestCharts(inputAt, ahead = []) {
      const s = get();
      const client = s.engineClient();
      if (!client) return;
      // The demo's charts need the demo in the engine; the user's checkpoints only need them opened.
      if (s.source === 'demo' && s.engine.demo.status !== 'ready') return;
      // The LM demo's once its models are open in the worker.
      if (s.source === 'lm' && (s.lmDemo.status !== 'loaded' || s.lmDemo.problems)) return;
      // Each model opened restarts the work (the engine drops its caches): ask once they are all in.
      if (s.source === 'mine' && s.dropped.some((m) => m.status === 'loading')) return;
      let recipe: Recipe;
      try {
        recipe = chartRecipe(s);
      } catch (e) {
        diagnosticsAsked = '';
        set({ diagnostics: failed(s.diagnostics.requested + 1, toAppError(e)) });
        return;
      }
      const askSpectrum = () => {
        const now = get();
        // No SVD for a spectrum not drawn: hidden by the link, or Channel Merging's view, which has none.
        if (now.hidden.includes('spectrum') || now.method === 'channel_merging') return;
        const spectrum = spectrumRecipe(now);
        const sKey = `${spectrum ? recipeKey(spectrum) : ''}\u0000${now.spectrumTensor ?? ''}\u0000${now.svdRank ?? ''}`;
        if (!spectrum || sKey === spectrumKey) return;
        spectrumKey = sKey;
        const options = { ...(now.spectrumTensor ? { tensor: now.spectrumTensor } : {}), ...(now.svdRank ? { rank: now.svdRank } : {}) };
        request('spectrum', () => client.call((e) => e.diagnostics.spectrum(spectrum, options), { demo: now.source === 'demo' }), inputAt, () => void (spectrumKey = ''));
      };
      // Sign conflicts, cosines and the layer map come in one answer: none when the link hides all three.
      const diagnosticsShown = !(['conflicts', 'cosines', 'layers'] as const).every((part) => s.hidden.includes(part));
      const dKey = `${s.source}\u0000${diagnosticsKey(recipe)}`;
      const askDiagnostics = diagnosticsShown && dKey !== diagnosticsAsked;
      // One's own models take seconds per chart, and the worker interleaves what it is asked: the
      // spectrum waits for the diagnostics, so the first charts are not held back by it.
      const spectrumAfter = s.source === 'mine' && askDiagnostics;
      if (askDiagnostics) {
        diagnosticsAsked = dKey;
        // Only the demo's diagnostics are kept and worked on ahead.
        const then = s.source === 'demo' ? recipesAhead(s, ahead, chartRecipe) : [];
        const asked = client.call((e) => e.diagnostics.diagnose(recipe, { then }), { demo: s.source === 'demo' });
        if (spectrumAfter) void asked.then(askSpectrum, askSpectrum);
        // A transformer's diagnostics carry a layer map: its effective ranks are asked once it is shown.
        request('diagnostics', () => asked, inputAt, () => void (diagnosticsAsked = ''), (d) => void (d.layerMap && askRanks()));
      } else if (s.diagnostics.shown?.data.layerMap) askRanks();
      if (!spectrumAfter) askSpectrum();

      // A sweep is a merge and a score per point: none for a link that hides it (`sweep_hide=1`, the rank lesson).
      const plan = s.source === 'demo' && !s.hidden.includes('sweep') ? sweepPlan(s, sweepParamFor(s.method, s.sweepParam)) : undefined;
      if (!plan) {
        stopSweep(s);
        // No sweep here: nothing drawn, and a sweep still on its way (the demo's, before a switch) is dropped.
        if (s.sweep.shown || s.sweep.status !== 'idle') set({ sweep: cleared(s.sweep.requested) });
        return;
      }
      const split = s.demoSplit;
      if (`${split} ${plan.key}` === sweepKey) return;
      sweepKey = `${split} ${plan.key}`;
      // The sweep waits for the sliders to rest; meanwhile the one drawn is not this request's answer:
      // another method's or parameter's goes (it would read as this one's), another setting's is marked.
      const drawn = s.sweep.shown?.data;
      if (drawn && (drawn.method !== s.method || drawn.param !== plan.param || drawn.split !== split)) set({ sweep: cleared(s.sweep.requested) });
      else if (s.sweep.status === 'ready') set({ sweep: { ...s.sweep, status: 'computing' } });
      clearTimeout(sweepTimer);
      sweepTimer = setTimeout(() => {
        request('sweep', async () => ({ param: plan.param, method: s.method, split, points: await client.call((e) => e.demo.sweepDemo(plan.points, { split }), { demo: true }) }), undefined, () => void (sweepKey = ''));
      }, SWEEP_DEBOUNCE_MS);
    },
  };
};
