/**
 * The diagnostics service: sign conflicts, TIES' dropped mass and cosines (diagnose, with the
 * per-layer map for transformer checkpoints), task vectors' spectra (spectrum) and the per-layer
 * map's effective ranks (layerRanks), over the demo's models or opened ones. Its lanes
 * (services/cancel.ts): the demo's diagnoses (answers kept and worked on ahead: answers-ahead.ts),
 * other diagnoses, spectra and ranks — each latest-wins, none cancelling another.
 */
import { createDiagnosticsCache, diagnose, releaseDiagnosticsCache, type DiagnosticsCache } from '../../diagnostics/diagnose.js';
import { layerRanks, type LayerRanks, type RankCache } from '../../diagnostics/layer-ranks.js';
import { taskVectorSpectra, type SpectrumCache } from '../../diagnostics/spectrum.js';
import type { Checkpoint } from '../../io/index.js';
import { METHODS } from '../../methods/registry.js';
import { parseRecipe } from '../../recipe/parse.js';
import { recipeText as textOf } from '../../recipe/recipe-text.js';
import type { Recipe } from '../../recipe/types.js';
import { RecentMap } from '../../recent.js';
import { answersAhead, type AnswersAhead } from '../answers-ahead.js';
import type { DiagnoseOptions, Diagnostics, DiagnosticsService, SpectrumOptions, SpectrumResult } from '../engine-api.js';
import { createLanes } from './cancel.js';
import { recipeCheckpoints, type EngineContext } from './context.js';

/** The most the caches over opened models hold (see `opened` below): 4 experts of 32M parameters. */
export const OPENED_CACHE_BYTES = 2 ** 30;

/** How many recent diagnostics of the demo are kept (a slider's range is ~100 positions). */
const RECENT_ANSWERS = 128;

interface Caches {
  readonly diagnostics: DiagnosticsCache;
  readonly spectra: SpectrumCache;
}

export function createDiagnosticsService(ctx: EngineContext): DiagnosticsService {
  const lanes = createLanes({ demo: 'request', opened: 'diagnostics request', spectrum: 'spectrum request', ranks: 'effective-rank request' });
  /**
   * Effective ranks per matrix and expert, kept while the models stay open (a number each, so
   * whatever the models' size), dropped with the other caches.
   */
  let ranks: RankCache = new Map();
  /**
   * The demo's: task vectors, sort orders and factorisations kept for good (the demo's contents
   * never change), and its recent answers; made on first use after each loadDemo.
   */
  let demo: (Caches & { readonly inputs: ReadonlyMap<string, Checkpoint>; readonly ahead: AnswersAhead<Diagnostics> }) | undefined;
  /**
   * What diagnose and spectrum work out over opened models (τ, sort orders, Gram matrices,
   * factorisations), kept while those models stay open: a density or rank move then redoes only
   * what depends on it. Dropped whenever a model is opened, closed or the demo reloaded (a name may
   * come back as other weights), and not kept past OPENED_CACHE_BYTES (τ and orders take 8 bytes
   * per parameter of each expert).
   */
  let opened: Caches | undefined;
  ctx.onChange((what) => {
    ranks = new Map();
    if (opened) releaseDiagnosticsCache(opened.diagnostics);
    opened = undefined;
    if (what === 'demo') {
      if (demo) releaseDiagnosticsCache(demo.diagnostics);
      demo = undefined;
    }
  });

  const demoCaches = (inputs: ReadonlyMap<string, Checkpoint>) => {
    if (demo?.inputs !== inputs) {
      if (demo) releaseDiagnosticsCache(demo.diagnostics);
      const diagnostics = createDiagnosticsCache();
      demo = {
        inputs,
        diagnostics,
        spectra: new Map(),
        ahead: answersAhead({
          lane: lanes.demo,
          kept: new RecentMap<string, Diagnostics>(RECENT_ANSWERS),
          work: (yaml, stale) => diagnose({ recipe: parseRecipe(yaml, 'recipe'), methods: METHODS, checkpoints: inputs, cancel: { get cancelled() { return stale(); } }, cache: diagnostics }),
        }),
      };
    }
    return demo;
  };
  const openedCaches = (recipe: Recipe) => {
    const experts = new Set(recipe.models.map((m) => m.model).filter((m) => m !== recipe.baseModel));
    const params = [...experts].reduce((n, m) => n + (ctx.models.get(m)?.summary.parameters ?? 0), 0);
    return params * 8 <= OPENED_CACHE_BYTES ? (opened ??= { diagnostics: createDiagnosticsCache(), spectra: new Map() }) : undefined;
  };

  return {
    async diagnose(input, options: DiagnoseOptions = {}): Promise<Diagnostics> {
      const recipeYaml = textOf(input);
      const recipe = parseRecipe(recipeYaml, 'recipe');
      const { checkpoints, demoOnly } = recipeCheckpoints(ctx, recipe);
      // The demo's models never change: their answers are kept and the next step worked on ahead.
      if (demoOnly && ctx.demoInputs) {
        const { ahead } = demoCaches(ctx.demoInputs);
        const answer = await ahead.answer(recipeYaml);
        ahead.ahead((options.then ?? []).map(textOf));
        return answer;
      }
      const cache = openedCaches(recipe)?.diagnostics;
      return lanes.opened.latest((cancel) => diagnose({ recipe, methods: METHODS, checkpoints, cancel, ...(cache ? { cache } : {}) }));
    },
    spectrum(input, options: SpectrumOptions = {}): Promise<SpectrumResult> {
      return lanes.spectrum.latest(async () => {
        const recipe = parseRecipe(textOf(input), 'recipe');
        const { checkpoints, demoOnly } = recipeCheckpoints(ctx, recipe);
        const cache = demoOnly && ctx.demoInputs ? demoCaches(ctx.demoInputs).spectra : openedCaches(recipe)?.spectra;
        return taskVectorSpectra({ recipe, methods: METHODS, checkpoints, ...options, ...(cache ? { cache } : {}) });
      });
    },
    layerRanks(input): Promise<LayerRanks> {
      return lanes.ranks.latest(async (cancel) => {
        const recipe = parseRecipe(textOf(input), 'recipe');
        const { checkpoints, demoOnly } = recipeCheckpoints(ctx, recipe);
        const spectra = demoOnly && ctx.demoInputs ? demoCaches(ctx.demoInputs).spectra : openedCaches(recipe)?.spectra;
        return layerRanks({ recipe, methods: METHODS, checkpoints, cache: ranks, cancel, ...(spectra ? { spectra } : {}) });
      });
    },
  };
}
