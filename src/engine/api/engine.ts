/**
 * The in-process EngineApi: opened checkpoints, recipe checks and merges into memory. The host
 * decides how a backend starts (Node paths, or Vite-served wasm files in a worker).
 */
import * as tf from '@tensorflow/tfjs-core';
import { chooseBackend, currentBackend, type BackendChoice, type BackendInfo } from '../backend.js';
import { MergeLabError, combineProblems, isMergeLabError } from '../errors.js';
import { blobSource, memorySink, type Checkpoint } from '../io/index.js';
import { openModelFiles } from '../io/lora-files.js';
import { createSafetensorsWriter } from '../io/safetensors-writer.js';
import { planMerge } from '../merge/plan-merge.js';
import type { CancelToken, MergeProgress } from '../merge/progress.js';
import { mergeWorkingMemory, outputBytes, runMerge, type MergePlanToRun } from '../merge/run-merge.js';
import { METHODS, findMethod } from '../methods/registry.js';
import { listedModelFiles, readJsonObject, type ModelFiles } from '../output/model-files.js';
import { prepareModelFolder } from '../output/model-folder.js';
import { parseRecipe } from '../recipe/parse.js';
import { recipeToYaml } from '../recipe/write.js';
import { recipeText as textOf } from '../recipe/recipe-text.js';
import { renameModels } from '../recipe/rename.js';
import { openDemoSession } from '../demo/session.js';
import type { DemoSession } from '../demo/method-table.js';
import { createLiveSession, memoizedCheckpoint, type LiveSession } from '../live/live-session.js';
import { createDiagnosticsCache, diagnose, type DiagnosticsCache } from '../diagnostics/diagnose.js';
import { taskVectorSpectra, type SpectrumCache } from '../diagnostics/spectrum.js';
import type { Recipe } from '../recipe/types.js';
import { nextTask } from '../next-task.js';
import { RecentMap } from '../recent.js';
import { answersAhead, type AnswersAhead } from './answers-ahead.js';
import { parseManifest } from '../demo/manifest.js';
import { loadHardTasks, type HardTasks } from '../methods/twin/demo.js';
import { createTwinLab, type TwinLab } from '../methods/twin/lab.js';
import { buildTwinPackage } from '../methods/twin/package.js';
import { createChannelLab, type ChannelLab } from '../methods/channel/lab.js';
import { findRoutedMethod } from '../routed/routed-methods.js';
import type {
  CheckResult,
  DemoBlobs,
  Diagnostics,
  DemoSummary,
  EngineApi,
  DiagnoseOptions,
  TwinLabOptions,
  LiveOptions,
  LiveScore,
  MergeOptions,
  MergeResult,
  ModelFile,
  ModelSummary,
  ProgressCallback,
  RoutedMergeOptions,
  RoutedMergeResult,
  RoutedPackageRequest,
  SpectrumOptions,
  SpectrumResult,
  SweepPoint,
  SweepRequest,
} from './engine-api.js';

/** The merged model's folder name (its model card's title) when the caller gives none. */
const MERGED_NAME = 'merged-model';

/** The most the caches over opened models hold (see openedCaches): 4 experts of 32M parameters. */
export const OPENED_CACHE_BYTES = 2 ** 30;

/** How many recent live scores and diagnostics the demo keeps (a slider's range is ~100 positions). */
const RECENT_ANSWERS = 128;

export interface EngineHost {
  /** Starts a backend; defaults to chooseBackend (the host sets wasm paths beforehand). */
  startBackend?(choice: BackendChoice): Promise<BackendInfo>;
}

/**
 * Peak memory of a merge held in memory: the output file, plus the CLI's bound for the tensor
 * work (mergeWorkingMemory) — the page merges tensor by tensor with the same runner.
 */
export function estimateMergeMemory(plan: MergePlanToRun): number {
  return plan.tensors.reduce((s, t) => s + outputBytes(t), 0) + mergeWorkingMemory(plan);
}

export function createEngine(host: EngineHost = {}): EngineApi {
  // `files`: what was dropped beside the weights (config.json, tokenizer), for the merged model's folder.
  const models = new Map<string, { checkpoint: Checkpoint; summary: ModelSummary; files: ModelFiles }>();
  const jobs = new Map<string, CancelToken & { cancelled: boolean }>();
  /** Runs `work` as job `jobId`: cancel(jobId) flips the token it is given, until it settles. */
  const asJob = async <T>(jobId: string, work: (token: CancelToken) => Promise<T>): Promise<T> => {
    const token = { cancelled: false };
    jobs.set(jobId, token);
    try {
      return await work(token);
    } finally {
      jobs.delete(jobId);
    }
  };
  /** Across comlink a callback returns a promise; progress must never stall or fail the job. */
  const quietProgress = (onProgress?: ProgressCallback) => (onProgress ? (x: MergeProgress) => void Promise.resolve(onProgress(x)).catch(() => undefined) : undefined);

  /**
   * The planned merge and the merged model's folder but its weights; the base's (or first model's)
   * config.json, when dropped, gives the layer count and architecture, as in the CLI. The folder
   * comes first: a union vocabulary re-orders the embeddings the plan reads.
   */
  /** `names`: model ids → the names the output's recipe text and card give them (MergeOptions.recipeNames). */
  const plan = async (recipeYaml: string, name: string, names?: Readonly<Record<string, string>>) => {
    const recipe = parseRecipe(recipeYaml, 'recipe');
    const checkpoints = new Map<string, Checkpoint>();
    const failures = new Map<string, MergeLabError>();
    for (const name of new Set([...recipe.models.map((m) => m.model), ...(recipe.baseModel ? [recipe.baseModel] : [])])) {
      const m = models.get(name);
      if (m) checkpoints.set(name, m.checkpoint);
      else failures.set(name, new MergeLabError('PATH_NOT_FOUND', `Model "${name}" is not loaded; load it first or fix its name in the recipe (loaded: ${[...models.keys()].join(', ') || 'none'}).`));
    }
    const reference = models.get(recipe.baseModel ?? recipe.models[0]?.model ?? '');
    const config = reference?.files.names.includes('config.json') ? await readJsonObject(reference.files, 'config.json') : undefined;
    // The recipe as the output writes it (its metadata, mergekit_config.yml, the card), once.
    const shown = names ? renameModels(recipe, names) : recipe;
    const recipeText = recipeToYaml(shown);
    const f = await folder(recipe, shown, recipeText, checkpoints, name);
    return { recipe, recipeText, checkpoints, folder: f, ...planMerge({ recipe, methods: METHODS, checkpoints, failures, ...(config ? { config } : {}), ...(f.vocabulary ? { vocabulary: f.vocabulary } : {}) }) };
  };
  /** The merged model's folder but its weights (config.json, tokenizer, mergekit_config.yml, README.md) from the opened models' files. */
  const folder = (recipe: Recipe, shown: Recipe, recipeText: string, checkpoints: ReadonlyMap<string, Checkpoint>, name: string) => {
    const files = new Map<string, ModelFiles>();
    for (const n of [...checkpoints.keys(), ...(recipe.tokenizerSource !== undefined ? [recipe.tokenizerSource] : [])]) {
      const m = models.get(n);
      if (m) files.set(n, m.files);
    }
    const method = findMethod(recipe.mergeMethod);
    return prepareModelFolder({
      recipe,
      recipeText,
      shownRecipe: shown,
      name,
      ...(method ? { method: { label: method.label, ...(method.reference ? { reference: method.reference } : {}) } } : {}),
      files,
      checkpoints,
    });
  };

  // `inputs`: the demo's checkpoints decoded once, shared by live merges and diagnostics;
  // `diagnostics`: task vectors and sort orders kept for diagnose (the demo's contents never change).
  // `sweeps`: a live session of its own, so a sweep and a slider's score never cancel each other.
  // `scores`: recent scores by recipe, shared by live scores and sweeps (the demo's models never change).
  // `liveAhead` / `diagnosesAhead`: the live score's and the diagnostics' requests (answers-ahead.ts).
  // `twin` / `channel`: the routed methods' lab sessions, opened on first use; `hard`: the demo's hard tasks, when given.
  let demo:
    | {
        session: DemoSession;
        live: LiveSession;
        sweeps: LiveSession;
        inputs: ReadonlyMap<string, Checkpoint>;
        diagnostics: DiagnosticsCache;
        spectra: SpectrumCache;
        scores: RecentMap<string, DemoAnswer>;
        liveAhead: AnswersAhead<DemoAnswer>;
        diagnosesAhead: AnswersAhead<Diagnostics>;
        hard?: HardTasks;
        twin?: TwinLab;
        channel?: ChannelLab;
      }
    | undefined;
  const diagnoseLatest = latestWins('diagnostics');
  const spectrumLatest = latestWins('spectrum');
  const twinLatest = latestWins('Twin-Merging');
  const channelLatest = latestWins('Channel Merging');
  // Sweeps asked for: an older sweep stops before its next point (they yield between points).
  let sweepsAsked = 0;
  const needDemo = () => {
    if (!demo) throw new MergeLabError('DEMO_DATA_INVALID', 'No demo is loaded; call loadDemo first.');
    return demo;
  };
  const twinLab = () => {
    const d = needDemo();
    return (d.twin ??= createTwinLab(d.session, d.hard));
  };
  const channelLab = () => {
    const d = needDemo();
    return (d.channel ??= createChannelLab(d.session));
  };

  /** The recipe's models: the demo's by their ids, then opened ones; `demoOnly` says whether caches keyed by name are safe. */
  const recipeCheckpoints = (recipe: Recipe) => {
    const checkpoints = new Map<string, Checkpoint>();
    const missing: MergeLabError[] = [];
    let demoOnly = true;
    for (const name of new Set([...recipe.models.map((m) => m.model), ...(recipe.baseModel ? [recipe.baseModel] : [])])) {
      // The demo's ids name the demo's files first: the app also opens those files under the same
      // ids (to merge them), and only the demo's decoded copies have caches behind them.
      const fromDemo = demo?.inputs.get(name);
      const opened = fromDemo ? undefined : models.get(name)?.checkpoint;
      if (opened) demoOnly = false;
      const c = fromDemo ?? opened;
      if (c) checkpoints.set(name, c);
      else {
        const known = [...models.keys(), ...(demo ? [...demo.inputs.keys()].map((k) => `${k} (demo)`) : [])];
        missing.push(new MergeLabError('PATH_NOT_FOUND', `Model "${name}" is neither loaded nor a demo model; load it first or fix its name in the recipe (known: ${known.join(', ') || 'none'}).`));
      }
    }
    if (missing.length) throw combineProblems(missing);
    return { checkpoints, demoOnly };
  };
  /**
   * What diagnose and spectrum work out over opened models (τ, sort orders, Gram matrices,
   * factorisations), kept while those models stay open: a density or rank move then redoes only
   * what depends on it. Dropped whenever a model is opened, closed or the demo reloaded (a name may
   * come back as other weights), and not kept past OPENED_CACHE_BYTES (τ and orders take 8 bytes
   * per parameter of each expert).
   */
  let openedCaches: { readonly diagnostics: DiagnosticsCache; readonly spectra: SpectrumCache } | undefined;
  const forgetOpened = () => void (openedCaches = undefined);
  const cachesFor = (recipe: Recipe) => {
    const experts = new Set(recipe.models.map((m) => m.model).filter((m) => m !== recipe.baseModel));
    const params = [...experts].reduce((n, m) => n + (models.get(m)?.summary.parameters ?? 0), 0);
    return params * 8 <= OPENED_CACHE_BYTES ? (openedCaches ??= { diagnostics: createDiagnosticsCache(), spectra: new Map() }) : undefined;
  };
  const setBackend = (choice: BackendChoice) => (host.startBackend ? host.startBackend(choice) : chooseBackend(choice));

  return {
    setBackend,
    async backend() {
      return currentBackend();
    },
    async openModel(id, files: readonly ModelFile[]) {
      // A model, or a LoRA adapter's folder together with its base's files (lora-files.ts).
      const checkpoint = await openModelFiles(files.map((f) => ({ name: f.path, source: blobSource(f.blob, f.path) })));
      const tensors = checkpoint.tensorNames.map((name) => {
        const info = checkpoint.info(name)!;
        return { name, dtype: info.dtype, shape: [...info.shape] };
      });
      const summary: ModelSummary = {
        id,
        name: checkpoint.name,
        tensors,
        parameters: tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0),
        bytes: checkpoint.tensorNames.reduce((s, n) => s + checkpoint.info(n)!.end - checkpoint.info(n)!.begin, 0),
        dtypes: [...new Set(tensors.map((t) => t.dtype))],
      };
      await models.get(id)?.checkpoint.close();
      models.set(id, { checkpoint, summary, files: listedModelFiles(id, files) });
      forgetOpened();
      return summary;
    },
    async closeModel(id) {
      await models.get(id)?.checkpoint.close();
      models.delete(id);
      forgetOpened();
    },
    async check(recipe): Promise<CheckResult> {
      try {
        const p = await plan(textOf(recipe), MERGED_NAME);
        const f = p.folder;
        return {
          warnings: [...(p.recipe.warnings ?? []), ...p.warnings, ...f.warnings],
          problems: [...p.problems, ...f.problems].map((e) => ({ code: e.code, message: e.message })),
          ...(p.plan ? { memoryBytes: estimateMergeMemory(p.plan) } : {}),
        };
      } catch (e) {
        if (!isMergeLabError(e)) throw e;
        const all = e.problems.length ? e.problems : [e];
        return { warnings: [], problems: all.map((x) => ({ code: x.code, message: x.message })) };
      }
    },
    async merge(jobId, recipe, options: MergeOptions = {}, onProgress?: ProgressCallback): Promise<MergeResult> {
      const started = Date.now();
      const p = await plan(textOf(recipe), options.name ?? MERGED_NAME, options.recipeNames);
      const f = p.folder;
      const problems = [...p.problems, ...f.problems];
      if (problems.length || !p.plan) throw combineProblems(problems.length ? problems : [new MergeLabError('INTERNAL', 'No merge plan was made.')]);
      const need = estimateMergeMemory(p.plan);
      if (options.budgetBytes !== undefined && need > options.budgetBytes) {
        const mb = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(0)} MiB` : `${Math.max(1, Math.round(n / 1024))} KiB`);
        throw new MergeLabError(
          'BUDGET_EXCEEDED',
          `This merge needs about ${mb(need)} of memory (the ${mb(p.plan.tensors.reduce((s, t) => s + outputBytes(t), 0))} result plus working space for its largest tensor), over the ${mb(options.budgetBytes)} budget. Merge fewer models, use a smaller out_dtype, raise the budget, or use the command line (merge-lab merge streams to disk).`,
        );
      }
      const backend = currentBackend() ?? (await setBackend('auto'));
      const recipeText = p.recipeText;
      const sink = memorySink('merged.safetensors');
      const warnings = [...(p.recipe.warnings ?? []), ...p.warnings, ...f.warnings];
      const mergePlan = p.plan;
      await asJob(jobId, async (token) => {
        const writer = await createSafetensorsWriter(sink, mergePlan.tensors.map((t) => ({ name: t.name, dtype: t.outDtype, shape: t.shape })), { format: 'pt', merge_recipe: recipeText });
        try {
          await runMerge({
            plan: mergePlan,
            checkpoints: p.checkpoints,
            output: writer,
            cancel: token,
            // Dropped files are read afresh for every tensor (Blob slices): the merge may work in them.
            freshReads: true,
            ...(options.maxBlockBytes !== undefined ? { maxBlockBytes: options.maxBlockBytes } : {}),
            onWarning: (w) => warnings.push(w),
            onProgress: quietProgress(onProgress),
          });
          await writer.finish();
        } catch (e) {
          await writer.abort();
          throw e;
        }
      });
      return { bytes: sink.bytes(), recipeYaml: recipeText, folder: f.files, warnings, tensors: p.plan.tensors.length, milliseconds: Date.now() - started, backend: backend.name };
    },
    async cancel(jobId) {
      const t = jobs.get(jobId);
      if (t) t.cancelled = true;
    },
    async loadDemo(files: DemoBlobs): Promise<DemoSummary> {
      forgetOpened();
      const bytes = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
      const digitsGz = await bytes(files.digits);
      const session = await openDemoSession({
        manifest: files.manifest,
        read: async (f) => {
          const blob = files.checkpoints[f];
          if (!blob) throw new MergeLabError('DEMO_DATA_INVALID', `The demo file ${f} named in manifest.json was not given.`);
          return bytes(blob);
        },
        digitsGz,
      });
      // Hard mode: the hard tasks of manifest-hard.json, from the same data (their experts given beside).
      const hardFiles = files.hard;
      const hard = hardFiles
        ? await loadHardTasks(
            {
              manifest: hardFiles.manifest,
              read: async (f) => {
                const blob = hardFiles.checkpoints[f] ?? files.checkpoints[f];
                if (!blob) throw new MergeLabError('DEMO_DATA_INVALID', `The demo file ${f} named in manifest-hard.json was not given.`);
                return bytes(blob);
              },
              digitsGz,
            },
            parseManifest(hardFiles.manifest, 'manifest-hard.json'),
          )
        : undefined;
      if (!currentBackend()) await setBackend('auto');
      const inputs = new Map([...session.checkpoints].map(([k, c]) => [k, memoizedCheckpoint(c)]));
      const live = createLiveSession(inputs);
      const scores = new RecentMap<string, DemoAnswer>(RECENT_ANSWERS);
      const diagnostics = createDiagnosticsCache();
      demo = {
        session,
        live,
        sweeps: createLiveSession(inputs),
        inputs,
        diagnostics,
        spectra: new Map(),
        scores,
        liveAhead: answersAhead({
          kept: scores,
          work: async (yaml, stale) => {
            const weights = await live.merge(parseRecipe(yaml, 'recipe'));
            if (stale()) throw new MergeLabError('CANCELLED', 'Superseded by a newer request.');
            return scoreDemo(session, weights);
          },
          // Whatever merge still runs is no longer wanted.
          onKept: () => live.supersede(),
        }),
        diagnosesAhead: answersAhead({
          kept: new RecentMap<string, Diagnostics>(RECENT_ANSWERS),
          work: (yaml, stale) => diagnose({ recipe: parseRecipe(yaml, 'recipe'), methods: METHODS, checkpoints: inputs, cancel: { get cancelled() { return stale(); } }, cache: diagnostics }),
        }),
        ...(hard ? { hard } : {}),
      };
      const expert = session.scorer.expertAccuracies.test;
      return { tasks: session.tasks, expertAccuracy: session.tasks.map((t) => 100 * expert[t]!), ...(hard ? { hardTasks: hard.tasks } : {}) };
    },
    async liveDemo(recipe, options: LiveOptions = {}): Promise<LiveScore> {
      const started = Date.now();
      const d = needDemo();
      const answer = await d.liveAhead.answer(textOf(recipe));
      d.liveAhead.ahead((options.then ?? []).map(textOf));
      return { perTask: [...answer.perTask], normalized: answer.normalized, milliseconds: Date.now() - started };
    },
    async sweepDemo(points: readonly SweepRequest[]): Promise<SweepPoint[]> {
      const { session, sweeps, scores } = needDemo();
      const mine = ++sweepsAsked;
      const out: SweepPoint[] = [];
      // Each point goes through the sweep session: a newer sweep cancels this one at its next
      // tensor, or before its next point.
      for (const p of points) {
        const yaml = textOf(p.recipe);
        let answer = scores.get(yaml);
        if (!answer) {
          // A point is a merge and 1,800 forwards: a slider's diagnostics, asked meanwhile, go first.
          await nextTask();
          if (mine !== sweepsAsked) throw new MergeLabError('CANCELLED', 'Superseded by a newer sweep.');
          answer = scores.set(yaml, await scoreDemo(session, await sweeps.merge(parseRecipe(yaml, 'recipe'))));
        }
        out.push({ value: p.value, perTask: [...answer.perTask], normalized: answer.normalized });
      }
      return out;
    },
    async diagnose(input, options: DiagnoseOptions = {}): Promise<Diagnostics> {
      const recipeYaml = textOf(input);
      const recipe = parseRecipe(recipeYaml, 'recipe');
      const { checkpoints, demoOnly } = recipeCheckpoints(recipe);
      // The demo's models never change: their answers are kept and the next step worked on ahead.
      if (demoOnly && demo) {
        const ahead = demo.diagnosesAhead;
        const answer = await ahead.answer(recipeYaml);
        ahead.ahead((options.then ?? []).map(textOf));
        return answer;
      }
      const cache = cachesFor(recipe)?.diagnostics;
      return diagnoseLatest((cancel) => diagnose({ recipe, methods: METHODS, checkpoints, cancel, ...(cache ? { cache } : {}) }));
    },
    spectrum(input, options: SpectrumOptions = {}): Promise<SpectrumResult> {
      return spectrumLatest(async () => {
        const recipe = parseRecipe(textOf(input), 'recipe');
        const { checkpoints, demoOnly } = recipeCheckpoints(recipe);
        const cache = demoOnly && demo ? demo.spectra : cachesFor(recipe)?.spectra;
        return taskVectorSpectra({ recipe, methods: METHODS, checkpoints, ...options, ...(cache ? { cache } : {}) });
      });
    },
    twinLab(settings, options: TwinLabOptions = {}) {
      const view = twinLatest((cancel) => twinLab().view(settings, cancel));
      const then = options.then ?? [];
      if (then.length > 0) {
        let asked = twinLatest.generation;
        void view.then(async () => {
          // Once the view is on its way (see answers-ahead.ts: guesses started at once held it back).
          await nextTask();
          for (const next of then) {
            // A request came in meanwhile: it is the one that matters now, not a guess.
            if (twinLatest.generation !== asked) return;
            const guess = twinLatest((cancel) => twinLab().view(next, cancel));
            asked = twinLatest.generation;
            await guess.catch(() => undefined);
          }
        }, () => undefined);
      }
      return view;
    },
    channelLab(settings, options) {
      return channelLatest((cancel) => channelLab().view(settings, cancel, options));
    },
    async routedPackage(request: RoutedPackageRequest) {
      if (request.method === 'twin_merging') return buildTwinPackage(await twinLab().model(request.settings)).files;
      if (request.method === 'channel_merging') return (await channelLab().package(request.settings)).files;
      throw new MergeLabError('UNKNOWN_METHOD', `"${String((request as { method: unknown }).method)}" is not a routed method; use twin_merging or channel_merging.`);
    },
    async routedMerge(jobId, input, onProgress, options: RoutedMergeOptions = {}): Promise<RoutedMergeResult> {
      const started = Date.now();
      const recipe = parseRecipe(textOf(input), 'recipe');
      const method = findRoutedMethod(recipe.mergeMethod);
      if (!method) throw new MergeLabError('UNKNOWN_METHOD', `merge_method "${recipe.mergeMethod}" is not a routed method; use twin_merging or channel_merging (or merge() for the others).`);
      const { checkpoints } = recipeCheckpoints(recipe);
      const { problems, warnings } = method.validate({ recipe, checkpoints });
      if (problems.length) throw combineProblems(problems);
      if (!currentBackend()) await setBackend('auto');
      const all = [...(recipe.warnings ?? []), ...warnings];
      if (recipe.tokenizerSource !== undefined || recipe.chatTemplate !== undefined) {
        all.push(`tokenizer_source and chat_template are ignored: a ${method.label} package is not a model folder, and no tokenizer is written with it.`);
      }
      const { files, report } = await asJob(jobId, (token) =>
        method.buildPackage(recipe, checkpoints, {
          cancel: token,
          // The lab draws the error against K and the assignment maps for models small enough to rebuild at each K.
          errorSweep: options.detail ?? true,
          assignments: options.detail ?? true,
          onWarning: (w) => all.push(w),
          onProgress: quietProgress(onProgress),
        }),
      );
      return { files, report, recipeYaml: recipeToYaml(recipe), warnings: all, milliseconds: Date.now() - started };
    },
    async recipeText(recipe) {
      return textOf(recipe);
    },
    async readRecipe(text, fileName) {
      return parseRecipe(text, fileName);
    },
    async memory() {
      const m = tf.memory();
      return { numTensors: m.numTensors, numBytes: m.numBytes };
    },
  };
}

/** The demo's score for one recipe: per-task test accuracy (%) and the normalized score. */
interface DemoAnswer {
  readonly perTask: number[];
  readonly normalized: number;
}

/** Merged weights scored on the demo's test split, as live scores and sweeps report them. */
async function scoreDemo(session: DemoSession, weights: Record<string, Float32Array>): Promise<DemoAnswer> {
  const score = await session.scorer.score(weights, 'test');
  return { perTask: session.tasks.map((t) => 100 * score.accuracies[t]!), normalized: score.normalized };
}

/**
 * Requests where only the newest matters (chart data while a slider moves): a call waits for the
 * one in flight to stop, and is dropped with CANCELLED if a newer call came in meanwhile; the one
 * running sees `cancel.cancelled` turn true and stops at its next check.
 */
function latestWins(what: string) {
  let generation = 0;
  let running: Promise<unknown> = Promise.resolve();
  const call = <T>(work: (cancel: CancelToken) => Promise<T>): Promise<T> => {
    const mine = ++generation;
    const cancel = {
      get cancelled() {
        return mine !== generation;
      },
    };
    const job = (async () => {
      await running.catch(() => undefined);
      if (cancel.cancelled) throw new MergeLabError('CANCELLED', `Superseded by a newer ${what} request.`);
      return work(cancel);
    })();
    running = job;
    return job;
  };
  // How many calls were made: a caller can tell whether anyone asked since it did. (A getter of its
  // own: Object.assign would copy the getter's value once.)
  return Object.defineProperty(call, 'generation', { get: () => generation }) as typeof call & { readonly generation: number };
}
