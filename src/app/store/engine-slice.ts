/**
 * The engine slice: the worker's state as the status bar shows it (backend, adapter, restarts,
 * last error), the merge job (progress, result as Blob URLs, error) and the live score, with the
 * actions that drive the engine client. No tensors and no bytes are kept here.
 */
import * as Comlink from 'comlink';
import type { BackendChoice } from '../../engine/backend.js';
import { MergeLabError, isMergeLabError } from '../../engine/errors.js';
import type { MergeProgress } from '../../engine/merge/progress.js';
import { demoAssets } from '../demo/assets.js';
import { toAppError } from '../demo/errors.js';
import { EngineClient, type DemoFiles, type EngineRemote } from '../engine/engine-client.js';
import { mergeToDisk } from '../export/merge-to-disk.js';
import { LiveEngine } from '../engine/live-engine.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { portableNames, portableRecipe } from '../recipe/portable-names.js';
import { failed, showable } from './latest-request.js';
import { isEngineGone } from '../engine/failures.js';
import { publishOutputs, releaseOutputs } from '../engine/outputs.js';
import { createEngineWorker } from '../engine/worker.js';
import { DEMO_BASE_ID, demoControls, demoRecipe } from '../recipe/demo-recipe.js';
import { droppedRecipe } from '../recipe/dropped-recipe.js';
import { stackRecipe } from '../recipe/slice-stack.js';
import { routedRecipe } from '../recipe/routed-recipe.js';
import { lmDemoRecipe } from '../recipe/lm-demo-recipe.js';
import { recipeSettings } from '../recipe/recipe-settings.js';
import { isRoutedMethod } from '../routed/methods.js';
import { recipesAhead, stepsAround } from './recipe-slice.js';
import type { AppError, EngineSlice, JobRecipe, JobResult, LabState, SliceCreator } from './types.js';
import { recipeKey } from '../../engine/recipe/recipe-key.js';

export const DEFAULT_BUDGET_MIB = 1024;
const CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/** `?backend=wasm` in the page's URL sets the starting choice (the status bar's select changes it later). */
function initialChoice(): BackendChoice {
  if (typeof window === 'undefined') return 'auto';
  const asked = new URLSearchParams(window.location.search).get('backend');
  return CHOICES.find((c) => c === asked) ?? 'auto';
}

/** The scored tasks' ids: the engine's list once it has the demo, else the manifest's (the same ids). */
export function recipeTasks(s: LabState): readonly string[] {
  return s.engine.demo.tasks ?? s.tasks.filter((t) => !t.hard).map((t) => t.id);
}

/** The demo's recipe, for live scores (throws for an unknown method). */
export function demoLiveRecipe(s: LabState): Recipe {
  return demoRecipe(s.method, recipeTasks(s), demoControls(s));
}

/** The (not routed) recipe the Merge button merges, models by the lab's ids: a demo's, or the user's checkpoints' (throws when it cannot be built). */
export function currentRecipe(s: LabState): Recipe {
  if (s.source === 'lm') return lmDemoRecipe(s);
  // A layer stack (slices of one's own checkpoints) is merged instead of the whole models when it is on.
  if (s.source === 'mine' && s.stack.enabled) return stackRecipe(s.stack.slices, s.dropped, { ...(s.dtype ? { dtype: s.dtype } : {}), math: s.math });
  if (s.source === 'mine') return droppedRecipe(s.method, s.dropped.filter((m) => m.status === 'ready'), s.perModel, { density: s.density, lambda: s.lambda, globals: s.globals, ...(s.dtype ? { dtype: s.dtype } : {}), math: s.math });
  return demoRecipe(s.method, recipeTasks(s), demoControls(s));
}

/**
 * Routed methods on the LM demo: Twin-Merging and Channel Merging are scored by the LM card (each
 * window with its routed merge, or its routed task's looked-up rows) but build no package or recipe there.
 */
function refuseRoutedOnLm(s: LabState): void {
  if (s.source !== 'lm' || !isRoutedMethod(s.method)) return;
  if (s.method === 'twin_merging') throw new MergeLabError('UNKNOWN_METHOD', 'Twin-Merging on the language-model demo is scored in the lab (the card and the routing chart); its package and recipe are built on the digits demo or with merge-lab merge on your checkpoints.');
  throw new MergeLabError('UNKNOWN_METHOD', 'Channel Merging on the language-model demo is scored in the lab (the card and the routing chart); its package and recipe are built on the digits demo or with merge-lab merge on your checkpoints.');
}

/** The recipe the Merge button sends the worker (throws when it cannot be built). */
export function mergeRecipe(s: LabState): Recipe {
  refuseRoutedOnLm(s);
  return isRoutedMethod(s.method) ? routedRecipe(s) : currentRecipe(s);
}

/**
 * The recipe as the lab hands it out (the panel, "Download recipe"): models named by their files
 * (portable-names.ts), so it runs unchanged beside them; the worker itself gets mergeRecipe.
 * A routed recipe is handed out as it is. The engine writes its text (recipeText).
 */
export function handedOutRecipe(s: LabState): Recipe {
  refuseRoutedOnLm(s);
  return isRoutedMethod(s.method) ? routedRecipe(s) : portableRecipe(currentRecipe(s), s);
}

/** The handed-out recipe and its key, or its error's key when it cannot be built, once per store state (the recipe text and the merge job's selectors each ask on every change). */
const handedOutByState = new WeakMap<LabState, { readonly key: string; readonly recipe?: Recipe; readonly error?: string }>();

/** What the lab hands out now, keyed (recipeKey, or `error\0message`): what the recipe text shows and a merge job records. */
export function handedOut(s: LabState): { readonly key: string; readonly recipe?: Recipe; readonly error?: string } {
  let h = handedOutByState.get(s);
  if (!h) {
    try {
      const recipe = handedOutRecipe(s);
      h = { key: recipeKey(recipe), recipe };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      h = { key: `error\u0000${error}`, error };
    }
    handedOutByState.set(s, h);
  }
  return h;
}

/** The current recipe as a merge job keys it (job-shown.ts): the handed-out recipe's key, or its error's (a merge refused before it started), and the source. */
export function jobRecipeOf(s: LabState): JobRecipe {
  const h = handedOut(s);
  return { key: h.key, method: h.recipe?.mergeMethod ?? s.method, source: s.source };
}

/** The demo's files as the worker takes them (with hard mode's, once fetched), when every file loaded; otherwise undefined. */
export function demoFiles(s: LabState): DemoFiles | undefined {
  if (s.demo.status !== 'loaded' || s.demo.problems) return undefined;
  const manifest = demoAssets.manifest();
  const text = demoAssets.manifestText();
  const digits = demoAssets.digitsBlob();
  if (!manifest || text === undefined || !digits) return undefined;
  const checkpoints: Record<string, Blob> = {};
  const models = new Map<string, { path: string; blob: Blob }[]>();
  for (const [id, file] of [[DEMO_BASE_ID, manifest.base], ...manifest.tasks.map((t) => [t.id, t.expert])] as [string, string][]) {
    const blob = demoAssets.checkpoint(file);
    if (!blob) return undefined;
    checkpoints[file] = blob;
    models.set(id, [{ path: file, blob }]);
  }
  const hard = demoAssets.hard();
  return { blobs: { manifest: text, checkpoints, digits, ...(hard ? { hard } : {}) }, models };
}

/** An engine failure as a row or line shows it; a worker lost under a call gets its own code. */
function engineError(e: unknown, what: string): AppError {
  if (isEngineGone(e)) return { code: 'ENGINE_STOPPED', message: `${e.message} ${what}` };
  return toAppError(e);
}

export const createEngineSlice: SliceCreator<EngineSlice> = (set, get, api) => {
  // This store's workers and job numbers: held by the store that started them, not by the module.
  let client: EngineClient | undefined;
  let live: LiveEngine | undefined;
  let jobCounter = 0;
  /** The worker the live score runs in: the live engine's once it has the demo, else the main one. */
  const liveClient = () => live?.available ?? client;
  const patchEngine = (patch: Partial<LabState['engine']>) => set((s) => ({ engine: { ...s.engine, ...patch } }));
  const patchDemo = (patch: Partial<LabState['engine']['demo']>) => set((s) => ({ engine: { ...s.engine, demo: { ...s.engine.demo, ...patch } } }));

  return {
    engine: { status: 'idle', choice: initialChoice(), restarts: 0, demo: { status: 'idle' } },
    budgetMiB: DEFAULT_BUDGET_MIB,
    job: { status: 'idle' },
    live: { status: 'idle', requested: 0 },
    demoSplit: 'validation',

    engineClient: () => client,
    liveEngine: () => live,

    startEngine() {
      if (client) return;
      // Its first score replaces whatever the main engine answered meanwhile.
      live = new LiveEngine(createEngineWorker, () => get().requestLive());
      client = new EngineClient(createEngineWorker, {
        starting(_choice, after) {
          const demo = get().engine.demo;
          patchEngine({
            status: after ? 'restarting' : 'starting',
            backend: undefined,
            // The new worker loads the demo again (same tasks); until then there is no live score.
            demo: demo.status === 'unavailable' ? demo : { ...demo, status: 'idle' },
            ...(after ? {} : { notice: undefined, error: undefined }),
          });
        },
        ready(info, after) {
          live?.follow(info.name);
          const s = get().engine;
          patchEngine({
            status: 'ready',
            backend: info,
            ...(after ? { notice: `The engine restarted on ${info.name} after ${after}.`, restarts: s.restarts + 1 } : {}),
          });
        },
        failed(e) {
          patchEngine({ status: 'failed', error: toAppError(e) });
        },
        problem(e) {
          patchEngine({ error: toAppError(e) });
        },
        demoLoading() {
          patchDemo({ status: 'loading', error: undefined });
        },
        demoLoaded(summary, ms) {
          patchDemo({ status: 'ready', tasks: summary.tasks, expertAccuracy: summary.expertAccuracy, hardTasks: summary.hardTasks, loadMs: ms, error: undefined });
          // The score for the current settings (kept across a restart) as soon as the demo is in,
          // and one step of each slider either way while the user reads the page.
          const around = stepsAround(get());
          get().requestLive(undefined, around);
          get().requestCharts(undefined, around);
        },
        demoFailed(e) {
          patchDemo({ status: 'error', error: toAppError(e) });
        },
      });
      client.start(get().engine.choice);
      live.start(get().engine.choice);
      // Hand the demo to the worker whenever the page's copy finished loading (again, after "Reload demo").
      const sync = (s: LabState) => {
        const files = demoFiles(s);
        if (!files) patchDemo({ status: 'unavailable' });
        client!.setDemo(files);
        live!.setDemo(files);
      };
      api.subscribe((s, prev) => {
        if (s.demo !== prev.demo && (s.demo.status === 'loaded' || s.demo.status === 'failed') && s.demo.status !== prev.demo.status) sync(s);
        // Back on the digits demo: its score for the settings now (none is asked while another source is shown).
        if (s.source !== prev.source && s.source === 'demo') get().requestLive();
      });
      const s = get();
      if (s.demo.status === 'loaded' || s.demo.status === 'failed') sync(s);
    },

    setBackendChoice(choice) {
      patchEngine({ choice, notice: undefined });
      client?.start(choice);
      live?.start(choice);
    },

    setDemoSplit(split) {
      if (split === get().demoSplit) return;
      set({ demoSplit: split });
      get().requestLive();
      get().requestCharts();
    },

    setBudgetMiB(mib) {
      if (Number.isFinite(mib) && mib > 0) set({ budgetMiB: mib });
    },

    async merge(into) {
      const s = get();
      if (!client || s.job.status === 'running' || s.job.status === 'cancelling') return;
      const id = `merge-${++jobCounter}`;
      releaseOutputs();
      const made = jobRecipeOf(s);
      let recipe: Recipe;
      try {
        recipe = mergeRecipe(s);
      } catch (e) {
        set({ job: { id, made, status: 'failed', error: toAppError(e) } });
        return;
      }
      set({ job: { id, made, status: 'running' } });
      const mine = () => get().job.id === id;
      const onProgress = Comlink.proxy((p: MergeProgress) => {
        const j = get().job;
        // Progress messages travel on their own channel and may land after the result: only a running job takes them.
        if (j.id !== id || (j.status !== 'running' && j.status !== 'cancelling')) return;
        const { tensorIndex, tensorCount, tensorName, bytesDone, bytesTotal, elapsedMs } = p;
        set({ job: { ...j, progress: { tensorIndex, tensorCount, tensorName, bytesDone, bytesTotal, elapsedMs } } });
      });
      try {
        const budgetBytes = Math.round(s.budgetMiB * 2 ** 20);
        // The folder's name: the zip's top folder and the model card's title.
        const name = `merged-${recipe.mergeMethod}`;
        const call = <T>(fn: (e: EngineRemote) => Promise<T>) =>
          client!.call((e) => {
            // Cancelled while waiting for the engine (a restart, models still opening): never send it.
            if (get().job.status === 'cancelling') throw new MergeLabError('CANCELLED', 'The merge was cancelled before it started.');
            return fn(e);
          });
        // The recipe the output carries names the files, as the panel's does.
        const options = { budgetBytes, name, recipeNames: portableNames(s) };
        let result: JobResult;
        if (into) {
          result = await mergeToDisk({ id, recipe, target: into, name, options, onProgress, call });
        } else {
          const r = await call((e) => e.merges.merge(id, recipe, options, onProgress));
          if (!mine()) return;
          result = { tensors: r.tensors, milliseconds: r.milliseconds, backend: r.backend, bytes: r.bytes.byteLength, warnings: r.warnings, ...publishOutputs(r.bytes, r.recipeYaml, r.folder, name) };
        }
        if (!mine()) return;
        set((st) => ({ job: { id, made, status: 'done', ...(st.job.progress ? { progress: st.job.progress } : {}), result } }));
      } catch (e) {
        if (!mine()) return;
        if (isMergeLabError(e) && e.code === 'CANCELLED') set((st) => ({ job: { id, made, status: 'cancelled', ...(st.job.progress ? { progress: st.job.progress } : {}) } }));
        else set({ job: { id, made, status: 'failed', error: engineError(e, 'Merge again once it is back (see the status bar).') } });
      }
    },

    async cancelMerge() {
      const j = get().job;
      if (!client || j.status !== 'running' || !j.id) return;
      set({ job: { ...j, status: 'cancelling' } });
      const id = j.id;
      // If the engine is gone, the merge has already failed with it: nothing to cancel.
      await client.call((e) => e.merges.cancel(id)).catch(() => undefined);
    },

    requestLive(inputAt, ahead = []) {
      const s = get();
      // The LM demo's score is the language-model card's (lm-lab-slice.ts); this is the digits demo's.
      if (s.source === 'lm') return;
      // Routed methods score per input in the worker's lab session, not through a merged model.
      if (isRoutedMethod(s.method)) {
        get().requestRouted(inputAt);
        return;
      }
      // One's own checkpoints come with no task data: a score on the demo's tasks would read as theirs.
      if (s.source === 'mine') return;
      if (!client || s.engine.demo.status !== 'ready') return; // asked again once the demo is in
      let recipe: Recipe;
      try {
        recipe = demoLiveRecipe(s);
      } catch (e) {
        set({ live: failed(s.live.requested + 1, toAppError(e)) });
        return;
      }
      const seq = s.live.requested + 1;
      const split = s.demoSplit;
      const params = { method: s.method, density: s.density, lambda: s.lambda, settings: recipeSettings(recipe), split };
      set({ live: { ...s.live, status: 'computing', requested: seq } });
      const then = recipesAhead(s, ahead, demoLiveRecipe);
      liveClient()!.call((e) => e.demo.liveDemo(recipe, { then, split }), { demo: true }).then(
        (score) => {
          const l = get().live;
          if (!showable(l, seq)) return; // an older answer that arrived late, or one from before an error
          set({
            live: {
              status: seq === l.requested ? 'ready' : 'computing',
              requested: l.requested,
              shown: { seq, ...params, perTask: score.perTask, normalized: score.normalized, milliseconds: score.milliseconds, ...(inputAt !== undefined ? { inputAt } : {}) },
            },
          });
        },
        (e: unknown) => {
          // Overtaken by a newer request (latest wins), or lost with a worker: the new one asks again.
          if ((isMergeLabError(e) && e.code === 'CANCELLED') || isEngineGone(e)) return;
          const l = get().live;
          if (seq === l.requested) set({ live: failed(l.requested, toAppError(e)) });
        },
      );
    },
  };
};
