/**
 * The routed methods' slice: Twin-Merging's and Channel Merging's controls, the worker's views for
 * them (latest-wins requests, numbered like the charts'), the package built from the current
 * settings (its files as Blob URLs), and hard mode's files, fetched the first time it is turned on
 * and then handed to the worker with the demo (which reloads it once).
 */
import * as Comlink from 'comlink';
import type { MergeProgress } from '../../engine/merge/progress.js';
import { TWIN_FILES } from '../../engine/methods/twin/files.js';
import { CHANNEL_FILES } from '../../engine/methods/channel/files.js';
import { demoAssets } from '../demo/assets.js';
import { toAppError } from '../demo/errors.js';
import { fetchHardDemo } from '../demo/hard.js';
import { channelSettings, routedRecipe, twinSettings } from '../recipe/routed-recipe.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { isRoutedMethod } from '../routed/methods.js';
import type { RoutedMethodId } from '../../engine/api/engine-api.js';
import type { TwinLabSettings, TwinView } from '../../engine/methods/twin/lab.js';
import type { EngineClient } from '../engine/engine-client.js';
import { demoFiles } from './engine-slice.js';
import { failed, latestRequest } from './latest-request.js';
import { ranksAhead } from '../routed/ranks-ahead.js';
import type { ChannelControls, ChartData, LabState, RoutedPackageState, RoutedSlice, SliceCreator, TwinControls } from './types.js';

export const DEFAULT_TWIN: TwinControls = {
  sharedMethod: 'task_arithmetic',
  sharedDensity: 0.3,
  lambda: 0.3,
  useEnergy: false,
  rank: 4,
  energy: 0.9,
  temperature: 1,
  oracle: false,
  hard: false,
  useRatio: false,
  rankRatio: 0.1,
  exclude: [],
  // The small router: the paper's (the engine's default) trains for about a minute on wasm whenever λ moves.
  router: 'small',
  testScore: false,
  mixed: false,
};
/** TIES inside the groups at λ 1, density 0.3: where the demo's validation lands at K = 2 (the engine's default is average). */
export const DEFAULT_CHANNEL: ChannelControls = { K: 2, groupMethod: 'ties', lambda: 1, density: 0.3, oracle: false, clustering: 'kmeans', testScore: false };
/** The performance measure from a routed control's input to its view drawn. */
export const SLIDER_TO_ROUTED_MEASURE = 'slider-to-routed';

const idle = <T>(): ChartData<T> => ({ status: 'idle', requested: 0 });

/** Whether the view shown was made on another shared expert (λ, its method, hard mode): the first view of these. */
function freshShared(view: TwinView | undefined, s: TwinLabSettings): boolean {
  if (!view) return true;
  const v = view.settings;
  return v.lambda !== s.lambda || v.hard !== (s.hard ?? false) || JSON.stringify(v.shared) !== JSON.stringify(s.shared);
}

/** The package's files in the order a reader wants them: the manifest first, the recipe last. */
const FILE_ORDER: readonly string[] = [TWIN_FILES.manifest, CHANNEL_FILES.manifest, TWIN_FILES.shared, TWIN_FILES.exclusive, CHANNEL_FILES.groups, CHANNEL_FILES.index, TWIN_FILES.router];
export const ROUTED_RECIPE_FILE = 'merge-recipe.yml';

/** Dropped checkpoints up to this size (together) are rebuilt on every routed control's move. */
export const AUTO_BUILD_BYTES = 32 * 2 ** 20;

type PackageFile = NonNullable<RoutedPackageState['files']>[number];

/** A build's bytes and recipe, published only if it is still the current one. */
interface Built {
  readonly files: Record<string, Uint8Array>;
  readonly recipe: string;
  readonly report?: RoutedPackageState['report'];
  readonly warnings?: readonly string[];
}

export const createRoutedSlice: SliceCreator<RoutedSlice> = (set, get, api) => {
  // This store's package: its Blob URLs, the build in flight and the run it answers.
  let packageUrls: string[] = [];
  let buildingJob: string | undefined;
  let packageRun = 0;
  let packageJob = 0;

  /** The package's files and its recipe as Blob URLs, in FILE_ORDER. */
  function publishPackage(files: Record<string, Uint8Array>, recipe: string): PackageFile[] {
    const names = Object.keys(files).sort((a, b) => FILE_ORDER.indexOf(a) - FILE_ORDER.indexOf(b));
    const published = [
      ...names.map((name) => ({ name, blob: new Blob([files[name]! as Uint8Array<ArrayBuffer>], { type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' }) })),
      { name: ROUTED_RECIPE_FILE, blob: new Blob([recipe], { type: 'application/yaml' }) },
    ].map(({ name, blob }) => ({ name, url: URL.createObjectURL(blob), bytes: blob.size }));
    packageUrls = published.map((f) => f.url);
    return published;
  }

  function releasePackage(): void {
    for (const u of packageUrls) URL.revokeObjectURL(u);
    packageUrls = [];
  }

  const request = <K extends 'twinView' | 'channelView'>(name: K, call: () => Promise<NonNullable<LabState[K]['shown']>['data']>, inputAt?: number, onShown?: (data: NonNullable<LabState[K]['shown']>['data']) => void) =>
    latestRequest({ getState: get, setState: set }, name, call, inputAt, undefined, onShown);

  const clearPackage = () => {
    packageRun++;
    releasePackage();
    if (get().routedPackage.status !== 'idle') set({ routedPackage: { status: 'idle' } });
  };

  async function loadHardMode() {
    set({ hardMode: { status: 'loading' } });
    try {
      const manifest = demoAssets.manifest();
      if (!manifest) throw new Error('the demo is not loaded yet');
      demoAssets.setHard(await fetchHardDemo(manifest));
      set({ hardMode: { status: 'ready' } });
      // The worker reloads the demo with the hard task; once it is in, the view is asked for again.
      const files = demoFiles(get());
      if (files) get().engineClient()?.setDemo(files);
    } catch (e) {
      const error = toAppError(e, 'manifest-hard.json');
      set((s) => ({ hardMode: { status: 'error', error }, twinView: failed(s.twinView.requested + 1, error) }));
    }
  }

  /** The user's checkpoints: no data, so no router; the build reports errors and storage instead. */
  async function buildFromCheckpoints(client: EngineClient, recipe: Recipe, run: number): Promise<Built> {
    const jobId = `routed-${++packageJob}`;
    // A newer build overtakes the one in flight (its result would be thrown away anyway).
    const overtaken = buildingJob;
    if (overtaken) void client.call((e) => e.merges.cancel(overtaken)).catch(() => undefined);
    buildingJob = jobId;
    const onProgress = Comlink.proxy((p: MergeProgress) => {
      const cur = get().routedPackage;
      if (run !== packageRun || cur.status !== 'building') return;
      set({ routedPackage: { ...cur, progress: { done: p.tensorIndex, total: p.tensorCount } } });
    });
    try {
      // Channel Merging's error at every K and its assignment maps take a build per K: for small models only.
      const bytes = get().dropped.filter((m) => m.status === 'ready').reduce((n, m) => n + (m.bytes ?? 0), 0);
      const r = await client.call((e) => e.merges.routedMerge(jobId, recipe, onProgress, { detail: bytes <= AUTO_BUILD_BYTES }));
      return { files: r.files, recipe: r.recipeYaml, report: r.report, warnings: r.warnings };
    } finally {
      if (buildingJob === jobId) buildingJob = undefined;
    }
  }

  /** The demo: the lab session's package at the current settings, router included. */
  async function buildOnDemo(client: EngineClient, s: LabState, method: RoutedMethodId, recipe: Recipe): Promise<Built> {
    const files =
      method === 'twin_merging'
        ? await client.call((e) => e.demo.routedPackage({ method, settings: twinSettings(s.twin) }), { demo: true })
        : await client.call((e) => e.demo.routedPackage({ method, settings: channelSettings(s.channel) }), { demo: true });
    return { files, recipe: await client.call((e) => e.recipes.recipeText(recipe)) };
  }

  // A reloaded demo forgets hard mode's files (demoAssets.clear); fetch them again when needed.
  api.subscribe((s, prev) => {
    if (s.demo !== prev.demo && s.demo.status === 'loading' && s.hardMode.status !== 'idle') set({ hardMode: { status: 'idle' } });
    // A package is for one method's settings on one set of models.
    if (s.method !== prev.method || s.source !== prev.source || (s.source === 'mine' && s.dropped !== prev.dropped)) {
      clearPackage();
      // The user's checkpoints changed under a routed method: rebuild (small ones only, see requestRouted).
      if (s.source === 'mine' && isRoutedMethod(s.method) && (s.dropped !== prev.dropped || s.source !== prev.source)) queueMicrotask(() => get().requestRouted());
    }
  });

  return {
    twin: DEFAULT_TWIN,
    channel: DEFAULT_CHANNEL,
    twinView: idle(),
    channelView: idle(),
    routedPackage: { status: 'idle' },
    hardMode: { status: 'idle' },

    setTwin(patch, inputAt) {
      const twin = { ...get().twin, ...patch };
      if (!Number.isFinite(twin.lambda) || !Number.isFinite(twin.rank) || !Number.isFinite(twin.energy) || !Number.isFinite(twin.temperature) || !(twin.sharedDensity > 0 && twin.sharedDensity <= 1)) return;
      const before = get().twin;
      clearPackage();
      // The spectrum marks the kept rank (with an energy share, the median rank the view reports).
      set({ twin, ...(get().method === 'twin_merging' && !twin.useEnergy ? { svdRank: twin.rank } : {}) });
      const rankMove = patch.rank !== undefined && patch.rank !== before.rank && !twin.useEnergy;
      get().requestRouted(inputAt, rankMove ? ranksAhead(before.rank, twin.rank) : undefined);
      get().requestCharts(inputAt);
    },

    setChannel(patch, inputAt) {
      const channel = { ...get().channel, ...patch };
      if (!Number.isInteger(channel.K) || channel.K < 1 || !Number.isFinite(channel.lambda) || !Number.isFinite(channel.density)) return;
      clearPackage();
      set({ channel });
      get().requestRouted(inputAt);
      get().requestCharts(inputAt);
    },

    requestRouted(inputAt, ahead) {
      const s = get();
      const client = get().engineClient();
      if (!isRoutedMethod(s.method) || !client) return;
      // On the LM demo the LM card scores Twin-Merging (lm-demo-slice.ts); the digits demo's view would be another demo's.
      if (s.source === 'lm') return;
      if (s.source === 'mine') {
        // No data to score on: small checkpoints are rebuilt at once, so the error chart follows the slider.
        const ready = s.dropped.filter((m) => m.status === 'ready');
        if (ready.length > 0 && ready.reduce((n, m) => n + (m.bytes ?? 0), 0) <= AUTO_BUILD_BYTES) void get().buildRoutedPackage();
        return;
      }
      if (s.engine.demo.status !== 'ready') return;
      if (s.method === 'channel_merging') {
        const settings = channelSettings(s.channel);
        // The chosen K first (one K costs ~60 ms, the sweep T of them), then the sweep filled in;
        // a move meanwhile overtakes the filling at its next K.
        const whole = () => request('channelView', () => client.call((e) => e.demo.channelLab(settings), { demo: true }));
        request('channelView', () => client.call((e) => e.demo.channelLab(settings, { sweep: 'known' }), { demo: true }), inputAt, (v) => {
          if (v.sweepComplete) return;
          // Once this answer is drawn (and its input measured), unless a newer request came meanwhile.
          const asked = get().channelView.requested;
          setTimeout(() => get().channelView.requested === asked && whole(), 0);
        });
        return;
      }
      if (s.twin.hard && !s.engine.demo.hardTasks) {
        // Fetched once; the reloaded demo asks for the view again (demoLoaded → requestLive).
        if (s.hardMode.status === 'idle') void loadHardMode();
        if (s.hardMode.status !== 'error') set({ twinView: { ...s.twinView, status: 'computing' } });
        return;
      }
      const settings = twinSettings(s.twin);
      const ranks = ahead ?? (!s.twin.useEnergy && freshShared(s.twinView.shown?.data, settings) ? ranksAhead(undefined, s.twin.rank) : []);
      const then = ranks.map((rank) => ({ ...settings, rank }));
      request('twinView', () => client.call((e) => e.demo.twinLab(settings, { then }), { demo: true }), inputAt);
    },

    async buildRoutedPackage() {
      const s = get();
      const client = get().engineClient();
      if (!client || !isRoutedMethod(s.method)) return;
      clearPackage();
      const run = packageRun;
      const method = s.method;
      let recipe: Recipe;
      try {
        recipe = routedRecipe(s);
      } catch (e) {
        set({ routedPackage: { status: 'error', method, error: toAppError(e) } });
        return;
      }
      set({ routedPackage: { status: 'building', method } });
      const started = performance.now();
      try {
        const { files, recipe: written, ...report } = s.source === 'mine' ? await buildFromCheckpoints(client, recipe, run) : await buildOnDemo(client, s, method, recipe);
        if (run !== packageRun) return; // the settings changed meanwhile: this package is not theirs
        set({ routedPackage: { status: 'ready', seq: run, method, milliseconds: performance.now() - started, files: publishPackage(files, written), ...report } });
      } catch (e) {
        if (run !== packageRun) return;
        set({ routedPackage: { status: 'error', method, error: toAppError(e) } });
      }
    },
  };
};
