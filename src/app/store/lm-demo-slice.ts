/**
 * The LM demo's slice: public/demo/lm/ fetched only when the LM demo is chosen (the manifest, then
 * config.json and the six checkpoints at once, bytes counted as they arrive), each checkpoint
 * opened in the engine worker as a model folder (config.json beside it) under "lm-base" or its
 * domain's id, and the tasks the card scores built from the manifest's texts (lm-eval-set.ts;
 * they stay in this closure, out of the state).
 *
 * What it answers is keyed by source, as the charts and the LM lab's are: the card's evaluation is
 * the LM lab slice's (lmDemoInputs below gives it the demo's request), and the λ/density sweep is
 * asked here — on probe-sized texts, once the sliders rest and the card's answer is in, and only
 * when something but the swept parameter changed; none while the link hides it (`sweep_hide=1`).
 * Leaving the LM demo clears both, and an answer
 * still on its way for it is never shown on another source.
 *
 * Choosing a demo loads it the first time: the LM demo when the source becomes "lm", the digits
 * demo when it becomes "demo" and the page had not loaded it (a #demo=lm link skips it at start).
 */
import type { LmLabTask } from '../../engine/api/engine-api.js';
import type { LmLabTwin, LmLabTwinRequest } from '../../engine/api/lm-lab-twin-api.js';
import type { LmLabChannel, LmLabChannelRequest } from '../../engine/api/lm-lab-channel-api.js';
import { groupMethodSpec } from '../recipe/routed-recipe.js';
import { MergeLabError } from '../../engine/errors.js';
import type { Recipe, RecipeModel } from '../../engine/recipe/types.js';
import type { LmDemoManifest } from '../../engine/demo/lm-manifest.js';
import { recipeKey } from '../../engine/recipe/recipe-key.js';
import { toAppError } from '../demo/errors.js';
import { fetchBlob } from '../demo/fetch.js';
import { LM_DEMO_MANIFEST_URL, lmDemoFileUrl } from '../demo/urls.js';
import { isEngineGone } from '../engine/failures.js';
import { LM_BASE_ID, lmDemoRecipe, lmExperts, lmSweepPlan } from '../recipe/lm-demo-recipe.js';
import { recipeSettings } from '../recipe/recipe-settings.js';
import { isRoutedMethod } from '../routed/methods.js';
import { SWEEP_DEBOUNCE_MS, sweepParamFor } from './charts-slice.js';
import { cleared, latestRequest } from './latest-request.js';
import type { LmLabInputs } from './lm-lab-slice.js';
import type { LabState, LmDemoInfo, LmDemoModelRow, LmDemoSlice, LmSplit, SliceCreator } from './types.js';

export const LM_DEMO_LOAD_MEASURE = 'lm-demo-load';
const START_MARK = 'lm-demo-load-start';
const END_MARK = 'lm-demo-load-end';

/** Predictions per task a probe (a slider being dragged, each sweep point) scores: half a window of each. */
export const LM_DEMO_PROBE_TOKENS = 64;

const idleDemo = (): LmDemoInfo => ({ status: 'idle', models: [], domains: [], received: 0 });

/** Twin-Merging on the LM demo: the shared expert's recipe (weight 1 per expert, λ; TIES with its density when chosen) and the routing settings. */
export function lmTwinRequest(s: LabState, training: LmLabTwin['training']): { recipe: Recipe; twin: LmLabTwin } {
  const t = s.twin;
  if (t.useEnergy) throw new MergeLabError('PARAMETER_INVALID', 'Twin-Merging on the language-model demo cuts each matrix to a rank or a rank_ratio: choose one of those (energy shares are offered on the digits demo).');
  const experts = lmExperts(s);
  const recipe: Recipe = {
    mergeMethod: t.sharedMethod,
    baseModel: LM_BASE_ID,
    models: experts.map((model) => ({ model, parameters: t.sharedMethod === 'ties' ? { weight: 1, density: t.sharedDensity } : { weight: 1 } }) as RecipeModel),
    parameters: { lambda: t.lambda },
    dtype: 'float32',
  };
  const twin: LmLabTwin = {
    ...(t.useRatio ? { rankRatio: t.rankRatio } : { rank: t.rank }),
    temperature: t.temperature,
    ...(t.topK !== undefined ? { topK: t.topK } : {}),
    oracle: t.oracle,
    router: { architecture: t.router, seed: 0 },
    training,
  };
  return { recipe, twin };
}

/** Twin-Merging's settings in words, as the card names them. */
function twinWords(recipe: Recipe, twin: LmLabTwin): string {
  const shared = recipe.mergeMethod === 'ties' ? `TIES density ${String(recipe.models[0]?.parameters?.['density'])}` : 'task arithmetic';
  return `shared expert ${shared} λ ${String(recipe.parameters?.['lambda'])}, ${twin.rank !== undefined ? `rank ${twin.rank}` : `rank_ratio ${twin.rankRatio}`}, ${twin.oracle ? 'oracle routing' : `${twin.router?.architecture ?? 'small'} router, temperature ${twin.temperature}`}`;
}

/** Channel Merging on the LM demo: K, the within-group method, the grouping, oracle lookup, and the router's training texts (the small router). */
export function lmChannelRequest(s: LabState, training: LmLabChannel['training']): LmLabChannel {
  const c = s.channel;
  return { K: Math.min(c.K, lmExperts(s).length), method: groupMethodSpec(c), clustering: c.clustering, oracle: c.oracle, router: { architecture: 'small', seed: 0 }, training };
}

/** Channel Merging's settings in words, as the card names them. */
function channelWords(c: LmLabChannel): string {
  const params = Object.entries(c.method.params ?? {}).map(([k, v]) => `${k} ${String(v)}`);
  return `K ${c.K}, ${c.clustering === 'kmeans' ? 'k-means' : 'average linkage'}, ${[c.method.id, ...params].join(' ')} in a group, ${c.oracle ? 'oracle lookup' : 'small router'}`;
}

/** The LM demo's evaluation at the current settings on the split asked for; undefined until it loaded. */
export function lmDemoInputs(s: LabState): LmLabInputs | undefined {
  if (s.lmDemo.status !== 'loaded' || s.lmDemo.problems) return undefined;
  const tasks = s.lmDemoTasks(s.lmSplit);
  if (!tasks) return undefined;
  if (s.method === 'twin_merging') {
    const training = s.lmDemoRouterTexts();
    if (!training) return undefined;
    const { recipe, twin } = lmTwinRequest(s, training);
    const split = s.lmSplit;
    const { training: _texts, ...settings } = twin;
    const request: Omit<LmLabTwinRequest, 'mode'> = { recipe, base: LM_BASE_ID, experts: lmExperts(s), tasks, ...(s.lmDemo.context ? { context: s.lmDemo.context } : {}), probeTokens: LM_DEMO_PROBE_TOKENS, twin };
    return {
      request,
      key: JSON.stringify(['lm', split, 'twin', recipeKey(recipe), settings]),
      method: s.method,
      settings: `${twinWords(recipe, twin)}, on the LM demo's ${split === 'test' ? 'held-out test' : 'validation'} windows`,
      split,
    };
  }
  if (s.method === 'channel_merging') {
    const training = s.lmDemoRouterTexts();
    if (!training) return undefined;
    const channel = lmChannelRequest(s, training);
    const split = s.lmSplit;
    const experts = lmExperts(s);
    // The recipe is not scored (each window looks one task's rows up); it names the models the request reads.
    const recipe: Recipe = { mergeMethod: 'linear', models: experts.map((model) => ({ model, parameters: { weight: 1 } })), dtype: 'float32' };
    const { training: _texts, ...settings } = channel;
    const request: Omit<LmLabChannelRequest, 'mode'> = { recipe, base: LM_BASE_ID, experts, tasks, ...(s.lmDemo.context ? { context: s.lmDemo.context } : {}), probeTokens: LM_DEMO_PROBE_TOKENS, channel };
    return {
      request,
      key: JSON.stringify(['lm', split, 'channel', settings]),
      method: s.method,
      settings: `${channelWords(channel)}, on the LM demo's ${split === 'test' ? 'held-out test' : 'validation'} windows`,
      split,
    };
  }
  if (isRoutedMethod(s.method)) return undefined;
  const recipe = lmDemoRecipe(s);
  const split = s.lmSplit;
  return {
    request: { recipe, base: LM_BASE_ID, experts: lmExperts(s), tasks, ...(s.lmDemo.context ? { context: s.lmDemo.context } : {}), probeTokens: LM_DEMO_PROBE_TOKENS },
    key: JSON.stringify(['lm', split, recipeKey(recipe)]),
    method: s.method,
    settings: `${recipeSettings(recipe) || 'defaults'}, on the LM demo's ${split === 'test' ? 'held-out test' : 'validation'} windows`,
    split,
  };
}

function modelRows(m: LmDemoManifest): LmDemoModelRow[] {
  return [
    { id: LM_BASE_ID, file: m.base, role: 'base', status: 'loading', received: 0 },
    ...m.domains.map((d): LmDemoModelRow => ({ id: d.id, file: d.expert, role: 'expert', domain: d.id, status: 'loading', received: 0 })),
  ];
}

const utf8 = (s: string) => new TextEncoder().encode(s).length;

export const createLmDemoSlice: SliceCreator<LmDemoSlice> = (set, get, api) => {
  // The newest load of this store: an older one still on its way says nothing.
  let currentRun = 0;
  let tasks: Readonly<Record<LmSplit, readonly LmLabTask[]>> | undefined;
  /** Each domain's validation text, labelled by its expert: what Twin-Merging's router trains on. */
  let routerTexts: LmLabTwin['training'] | undefined;
  let sweepTimer: ReturnType<typeof setTimeout> | undefined;
  /** The sweep last asked (its plan's key): the same curve is not asked again. */
  let sweepKey = '';

  const patchDemo = (patch: Partial<LmDemoInfo>) => set((s) => ({ lmDemo: { ...s.lmDemo, ...patch } }));
  const patchModel = (id: string, patch: Partial<LmDemoModelRow>) => set((s) => ({ lmDemo: { ...s.lmDemo, models: s.lmDemo.models.map((m) => (m.id === id ? { ...m, ...patch } : m)) } }));

  /** The sweep for the current settings, when the LM demo is shown, its card's answer is in and the curve would differ from the one asked. */
  const askSweep = () => {
    const s = get();
    const client = s.engineClient();
    if (!client || s.source !== 'lm' || s.lmDemo.status !== 'loaded' || s.lmDemo.problems) return;
    const param = isRoutedMethod(s.method) ? undefined : sweepParamFor(s.method, s.sweepParam);
    let plan: ReturnType<typeof lmSweepPlan>;
    try {
      // None for a link that hides it (`sweep_hide=1`): each point is a merge and a probe's scoring.
      plan = s.hidden.includes('sweep') ? undefined : lmSweepPlan(s, param);
    } catch {
      plan = undefined; // the card shows why the recipe cannot be built
    }
    if (!plan) {
      // A sweep still running is of no use now.
      if (sweepKey !== '' && s.lmSweep.status === 'computing') void client.call((e) => e.lmLab.cancelSweep()).catch(() => undefined);
      sweepKey = '';
      clearTimeout(sweepTimer);
      if (s.lmSweep.shown || s.lmSweep.status !== 'idle') set({ lmSweep: cleared(s.lmSweep.requested) });
      return;
    }
    if (plan.key === sweepKey) return;
    // The sweep asked for the old settings is of no use now, and would share the worker with the sliders' probes.
    if (sweepKey !== '' && s.lmSweep.status === 'computing') void client.call((e) => e.lmLab.cancelSweep()).catch(() => undefined);
    sweepKey = '';
    // Another method's or parameter's curve would read as this one's: it goes; another setting's is marked.
    const drawn = s.lmSweep.shown?.data;
    if (drawn && (drawn.method !== s.method || drawn.param !== plan.param)) set({ lmSweep: cleared(s.lmSweep.requested) });
    else if (s.lmSweep.status === 'ready') set({ lmSweep: { ...s.lmSweep, status: 'computing' } });
    clearTimeout(sweepTimer);
    // The card first: the sweep shares the worker, and starts once the card's answer for these settings is in.
    if (s.lmEval.status === 'computing') return;
    const validation = tasks?.validation;
    if (!validation) return;
    sweepKey = plan.key;
    const { points } = plan;
    const method = s.method;
    const settings = recipeSettings(lmDemoRecipe(s));
    const names = validation.map((t) => t.name);
    const request = { base: LM_BASE_ID, experts: lmExperts(s), tasks: validation, points, ...(s.lmDemo.context ? { context: s.lmDemo.context } : {}), probeTokens: LM_DEMO_PROBE_TOKENS };
    sweepTimer = setTimeout(() => {
      latestRequest(
        { getState: get, setState: set },
        'lmSweep',
        async () => ({ param: plan.param, method, settings, tasks: names, probeTokens: LM_DEMO_PROBE_TOKENS, points: await client.call((e) => e.lmLab.sweep(request)) }),
        undefined,
        () => void (sweepKey = ''),
      );
    }, SWEEP_DEBOUNCE_MS);
  };

  api.subscribe((s, prev) => {
    if (s.source !== prev.source) {
      // What was asked about the LM demo, or for it, belongs to it alone.
      sweepKey = '';
      clearTimeout(sweepTimer);
      if (s.lmSweep.shown || s.lmSweep.status !== 'idle') set({ lmSweep: cleared(s.lmSweep.requested) });
      if (s.source === 'lm' && s.lmDemo.status === 'idle') void get().loadLmDemo();
      if (s.source === 'demo' && s.demo.status === 'idle') void get().loadDemo();
    }
    if (s.source !== 'lm') return;
    // Twin-Merging's controls are not the sliders the LM lab watches: a move asks for the routed merge's scores.
    if (s.method === 'twin_merging' && s.twin !== prev.twin && s.lmDemo.status === 'loaded') get().evaluateLm();
    if (s.method === 'channel_merging' && s.channel !== prev.channel && s.lmDemo.status === 'loaded') get().evaluateLm();
    // The LM demo's models opened: the charts' diagnostics can be asked.
    if (s.lmDemo.status === 'loaded' && prev.lmDemo.status !== 'loaded') get().requestCharts();
    if (
      s.source !== prev.source ||
      s.lmDemo !== prev.lmDemo ||
      s.method !== prev.method ||
      s.density !== prev.density ||
      s.lambda !== prev.lambda ||
      s.globals !== prev.globals ||
      s.demoModels !== prev.demoModels ||
      s.baseWeight !== prev.baseWeight ||
      s.randomSeed !== prev.randomSeed ||
      s.pair !== prev.pair ||
      s.sweepParam !== prev.sweepParam ||
      s.hidden !== prev.hidden ||
      s.lmEval.status !== prev.lmEval.status
    ) {
      askSweep();
    }
  });

  return {
    lmDemo: idleDemo(),
    lmSplit: 'validation',
    lmSweep: { status: 'idle', requested: 0 },

    lmDemoTasks: (split) => tasks?.[split],
    lmDemoRouterTexts: () => routerTexts,

    setLmSplit(split) {
      if (split !== get().lmSplit) set({ lmSplit: split });
    },

    async loadLmDemo() {
      const run = ++currentRun;
      const live = () => run === currentRun;
      performance.clearMarks(START_MARK);
      performance.clearMarks(END_MARK);
      performance.clearMeasures(LM_DEMO_LOAD_MEASURE);
      performance.mark(START_MARK);
      tasks = undefined;
      routerTexts = undefined;
      set({ lmDemo: { ...idleDemo(), status: 'loading' } });
      const finish = (): number => {
        performance.mark(END_MARK);
        return performance.measure(LM_DEMO_LOAD_MEASURE, START_MARK, END_MARK).duration;
      };
      get().startEngine();
      // Bytes so far of each file, and its length once it answered.
      const received = new Map<string, number>();
      const lengths = new Map<string, number | undefined>();
      let files = 0;
      const progress = (file: string) => (bytes: number, length: number | undefined) => {
        received.set(file, bytes);
        lengths.set(file, length);
        if (!live()) return;
        const all = lengths.size === files && [...lengths.values()].every((n) => n !== undefined);
        patchDemo({ received: [...received.values()].reduce((a, b) => a + b, 0), ...(all ? { total: [...lengths.values()].reduce((a, b) => a! + b!, 0) } : {}) });
      };

      let manifest: LmDemoManifest;
      let config: Blob;
      let manifestBytes: number;
      // The manifest's reader and the tasks' builder load with the LM demo, not with the page.
      const code = Promise.all([import('../../engine/demo/lm-manifest.js'), import('../../engine/demo/lm-eval-set.js')]);
      try {
        files = 1;
        const { blob } = await fetchBlob(LM_DEMO_MANIFEST_URL, 'lm/manifest.json', progress('manifest.json'));
        manifestBytes = blob.size;
        const [{ parseLmManifest }, { lmEvalTasks }] = await code;
        manifest = parseLmManifest(await blob.text());
        files = 2 + 1 + manifest.domains.length;
        config = (await fetchBlob(lmDemoFileUrl(manifest.config), `lm/${manifest.config}`, progress(manifest.config))).blob;
        tasks = { validation: lmEvalTasks(manifest, 'validation'), test: lmEvalTasks(manifest, 'test') };
        routerTexts = manifest.domains.map((d) => ({ expert: d.id, text: d.texts.validation }));
      } catch (e) {
        if (!live()) return;
        tasks = undefined;
        routerTexts = undefined;
        set({ lmDemo: { ...get().lmDemo, status: 'failed', error: toAppError(e, 'lm/manifest.json'), loadMs: finish() } });
        return;
      }
      if (!live()) return;
      const m = manifest;
      patchDemo({
        models: modelRows(m),
        domains: m.domains.map((d) => ({
          id: d.id,
          label: d.label,
          description: d.description,
          validationBytes: utf8(d.texts.validation),
          testBytes: utf8(d.texts.test),
          baseBitsPerByte: m.measured.bitsPerByte['base']![d.id]!,
          expertBitsPerByte: m.measured.bitsPerByte[d.id]![d.id]!,
        })),
        context: m.context,
        parameters: m.parameters,
        manifestBytes,
        attribution: m.data.attribution,
      });

      const opened = get().lmDemo.models.map(async (row) => {
        try {
          const { blob } = await fetchBlob(lmDemoFileUrl(row.file), `lm/${row.file}`, progress(row.file));
          if (!live()) return;
          patchModel(row.id, { received: blob.size });
          const client = get().engineClient();
          if (!client) throw new Error('the engine did not start');
          // A model folder as a dropped one: config.json beside the weights (the lab reads the model from it).
          let summary;
          for (let attempt = 0; ; attempt++) {
            try {
              summary = await client.openModel(row.id, [
                { path: 'config.json', blob: config },
                { path: row.file, blob },
              ]);
              break;
            } catch (e) {
              // A worker lost under the call: the restarted one opens it again; ask once more for its header.
              if (isEngineGone(e) && attempt < 2) continue;
              throw e;
            }
          }
          if (summary.parameters !== m.parameters) throw new Error(`${row.file} holds ${summary.parameters} parameters, lm/manifest.json says ${m.parameters}; re-run npm run demo:train:lm.`);
          if (live()) patchModel(row.id, { status: 'ready', bytes: blob.size, dtypes: summary.dtypes, parameters: summary.parameters });
        } catch (e) {
          if (live()) patchModel(row.id, { status: 'error', error: toAppError(e, `lm/${row.file}`) });
        }
      });
      await Promise.all(opened);
      if (!live()) return;
      const { models } = get().lmDemo;
      const problems = models.filter((x) => x.status === 'error').length;
      const total = manifestBytes + config.size + models.reduce((n, x) => n + (x.bytes ?? 0), 0);
      patchDemo({ status: 'loaded', loadMs: finish(), problems, received: total, total });
    },
  };
};
