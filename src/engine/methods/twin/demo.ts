/**
 * Twin-Merging on the embedded demo, end to end: the shared task-arithmetic expert with λ chosen
 * on validation, exclusive knowledge at the table's rank choices and along a rank sweep, the router
 * trained on the validation split (a quarter held out for its curve and early stopping), the
 * dynamic merge scored on test with router and with oracle routing, and routing on mixed inputs
 * (mixed.ts). Rows come out shaped like the method table's, so the table can list them next to TIES.
 *
 * Choices, and why:
 * - λ is chosen by the oracle-routed twin's validation score at the first table choice. The router
 *   is trained on that same split, so its validation score would flatter it; oracle routing
 *   measures what λ changes (how much θ* and the truncated deltas keep) without it.
 * - The table's rows are rank 4 and rank_ratio 0.1 (the paper code's rule), or a rank or energy
 *   share when one is asked. Validation cannot choose the rank: more rank scores as well or better,
 *   so rank is a storage trade-off the sweep shows instead.
 * - Hard tasks (the demo's invert-relabel task, shipped in manifest-hard.json) have experts, are merged into
 *   θ*, get factors and are routed to, but stay out of the normalized score and are reported apart.
 */
import { decodeDigitsCsv, gunzip } from '../../demo/dataset.js';
import { buildTaskSets, readDemoWeights, type TaskSets, type Weights } from '../../demo/load.js';
import { architectureTensors, type DemoManifest } from '../../demo/manifest.js';
import type { DemoSession, MethodRow } from '../../demo/method-table.js';
import type { DemoFiles } from '../../demo/session.js';
import { MergeLabError } from '../../errors.js';
import { normalizedScore, taskAccuracies } from '../../eval/score.js';
import { memorySource, openSafetensors } from '../../io/index.js';
import type { Checkpoint } from '../../io/types.js';
import { argmaxTasks, meanWeightsByTask, oneHotWeights, routerLogits, routerParameterCount, routingAccuracy, routingAccuracyByTask, routingWeights } from '../../router/route.js';
import { trainRouterOnSplit } from '../../router/train.js';
import type { EpochStats, RouterOptions, RoutingOptions, TrainedRouter } from '../../router/types.js';
import type { Recipe } from '../../recipe/types.js';
import { dynamicLogits, featureWidth, sharedFeatures } from './dynamic.js';
import { decomposeExclusive, excludedTensors, truncateExclusive, type ExclusiveDecomposition, type RankChoice } from './exclusive.js';
import { mixedPairs, mixedRouting, type MixedReport } from './mixed.js';
import type { TwinModel } from './package.js';
import { buildSharedExpert, taskArithmeticRecipe } from './shared.js';
import { twinStorage, type TwinStorage } from './storage.js';

/** λ values tried for the shared expert. */
export const TWIN_LAMBDAS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0];
/** The rank of the first table rows (see the file header). */
export const TWIN_TABLE_RANK = 4;
/** The table's rank choices: rank 4, and the paper code's rank_ratio 0.1. */
export const TWIN_TABLE_CHOICES: readonly RankChoice[] = [{ rank: TWIN_TABLE_RANK }, { rankRatio: 0.1 }];

/** A rank choice as a row's params: { rank }, { rank_ratio } or { energy }. */
export function choiceParams(c: RankChoice): Record<string, number> {
  return 'energy' in c ? { energy: c.energy } : 'rankRatio' in c ? { rank_ratio: c.rankRatio } : { rank: c.rank === 'default' ? 0 : c.rank };
}
/** The rank sweep the lab and the issue show. */
export const TWIN_RANKS: readonly number[] = [1, 2, 4, 8, 16];

/** The demo's hard tasks, which openDemoSession leaves out: their experts and data. */
export interface HardTasks {
  readonly tasks: readonly string[];
  readonly weights: Readonly<Record<string, Weights>>;
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly sets: { readonly validation: TaskSets; readonly test: TaskSets };
}

/** Opens the manifest's hard tasks (undefined when it has none) from the same files as openDemoSession. */
export async function loadHardTasks(files: DemoFiles, manifest: DemoManifest): Promise<HardTasks | undefined> {
  const hard = manifest.tasks.filter((t) => t.hard);
  if (hard.length === 0) return undefined;
  const weights: Record<string, Weights> = {};
  const checkpoints = new Map<string, Checkpoint>();
  for (const t of hard) {
    const bytes = await files.read(t.expert);
    checkpoints.set(t.id, await openSafetensors(memorySource(t.expert, bytes)));
    weights[t.id] = await readDemoWeights(manifest.architecture, bytes, t.expert);
  }
  const digits = decodeDigitsCsv(await gunzip(files.digitsGz), { name: manifest.dataset.file });
  return {
    tasks: hard.map((t) => t.id),
    weights,
    checkpoints,
    sets: { validation: buildTaskSets(manifest, digits, 'validation', hard), test: buildTaskSets(manifest, digits, 'test', hard) },
  };
}

export interface TwinDemoOptions {
  /** λ values for the shared task-arithmetic expert (default TWIN_LAMBDAS); one value skips the choice. */
  readonly lambdas?: readonly number[];
  /** The table rows' rank choices (default rank 4 and rank_ratio 0.1); λ is chosen at the first. */
  readonly choices?: readonly RankChoice[];
  /** One rank for the table rows (instead of `choices`). */
  readonly rank?: number;
  /**
   * Instead of a fixed rank for the table rows: per task and matrix, the smallest rank holding this
   * share of the delta's energy (the full spectrum is computed; the rank sweep is unchanged).
   */
  readonly energy?: number;
  /** Tensors kept out of θ* and the factors (name contains one of these): each task's own. */
  readonly exclude?: readonly string[];
  /** Score routing on blends of two tasks' inputs (mixed.ts). Default true. */
  readonly mixed?: boolean;
  /**
   * The shared expert's recipe at a λ over the given experts (base checkpoint "base"). Default:
   * task arithmetic with weight 1 each; any engine method works (e.g. TIES at a fixed density).
   */
  readonly sharedRecipe?: (lambda: number, experts: readonly string[]) => Recipe;
  /** Ranks of the sweep (default 1, 2, 4, 8, 16). */
  readonly ranks?: readonly number[];
  readonly router?: RouterOptions;
  readonly routing?: RoutingOptions;
  /** Test samples per task whose routing weights are reported (default 2). */
  readonly samples?: number;
  readonly hard?: HardTasks;
  /** Called with a short description before each step. */
  readonly onProgress?: (step: string) => void;
  /** Stops between steps with CANCELLED. */
  readonly signal?: AbortSignal;
}

export interface TwinSweepPoint {
  readonly rank: number;
  /** Normalized test score with the router, and with oracle routing. */
  readonly router: number;
  readonly oracle: number;
  /** Test accuracy per scored task, percent. */
  readonly routerPerTask: readonly number[];
  readonly oraclePerTask: readonly number[];
  readonly storage: TwinStorage;
}

export interface RoutingDiagnostics {
  /** Every routed task (scored, then hard): the rows and columns below. */
  readonly tasks: readonly string[];
  /** Fraction of test samples whose largest weight is their task (all routed tasks). */
  readonly accuracy: number;
  /** The same, per true task. */
  readonly perTask: readonly number[];
  /** Row t: mean w(x) over the test samples of task t (T × T). */
  readonly meanWeights: readonly (readonly number[])[];
  /** A few test samples per task with their weights. */
  readonly samples: readonly { readonly task: string; readonly index: number; readonly routedTo: string; readonly weights: readonly number[] }[];
}

export interface HardTaskReport {
  readonly task: string;
  /** Test accuracy of the twin with the router, with oracle routing, and of the task's own expert (0..1). */
  readonly router: number;
  readonly oracle: number;
  readonly expert: number;
  /** Fraction of this task's test samples routed to it. */
  readonly routing: number;
}

export interface TwinDemoResult {
  /** Scored tasks (the columns of perTask). */
  readonly tasks: readonly string[];
  readonly hardTasks: readonly string[];
  readonly lambda: number;
  /** Oracle-routed validation score at the table rank (or energy share), per λ tried. */
  readonly lambdaSweep: readonly { readonly lambda: number; readonly validation: number }[];
  /** The table's rank choices, in row order. */
  readonly choices: readonly RankChoice[];
  /** 'twin_merging' (router) and 'twin_merging_oracle' per choice, params naming the choice. */
  readonly rows: readonly MethodRow[];
  readonly sweep: readonly TwinSweepPoint[];
  readonly routing: RoutingDiagnostics;
  /** The router's training curve (validation split: training part and held-out part) and its options. */
  readonly curve: readonly EpochStats[];
  readonly routerOptions: TrainedRouter['options'];
  readonly routerBestEpoch: number;
  readonly routerSamples: TrainedRouter['samples'];
  /** Routing on blends of two tasks' test inputs, at the first choice (absent with `mixed: false`). */
  readonly mixed?: MixedReport;
  /** Wall time of router training, ms (a measurement, not part of the result's determinism). */
  readonly routerTrainingMs: number;
  /** Storage at each table choice (router counted apart). */
  readonly storage: TwinStorage;
  readonly storageByChoice: readonly TwinStorage[];
  readonly hard: readonly HardTaskReport[];
  /** The twin at the first table choice, ready for buildTwinPackage. */
  readonly model: TwinModel;
}

export { accuraciesOf, stack, type Stacked } from './stacked.js';
import { accuraciesOf, stack } from './stacked.js';

/** Runs Twin-Merging on the demo session; see the file header for the choices it makes. */
export async function twinDemo(session: DemoSession, options: TwinDemoOptions = {}): Promise<TwinDemoResult> {
  const arch = session.manifest.architecture;
  const tensors = architectureTensors(arch);
  const scored = session.tasks;
  const hard = options.hard;
  const hardTasks = hard?.tasks ?? [];
  const all = [...scored, ...hardTasks];
  const T = all.length;
  const choices: readonly RankChoice[] =
    options.energy !== undefined ? [{ energy: options.energy }] : options.rank !== undefined ? [{ rank: options.rank }] : (options.choices ?? TWIN_TABLE_CHOICES);
  if (choices.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'Twin-Merging on the demo needs at least one rank choice for its rows.');
  const ranks = options.ranks ?? TWIN_RANKS;
  const lambdas = options.lambdas ?? TWIN_LAMBDAS;
  if (lambdas.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'Twin-Merging on the demo needs at least one λ for the shared expert.');
  const step = (what: string) => {
    if (options.signal?.aborted) throw new MergeLabError('CANCELLED', `Twin-Merging cancelled before: ${what}.`);
    options.onProgress?.(what);
  };

  const checkpoints = new Map<string, Checkpoint>([...session.checkpoints, ...(hard?.checkpoints ?? [])]);
  const expertWeights: Record<string, Weights> = Object.fromEntries(all.map((t) => [t, (hard?.weights[t] ?? session.weights[t])!]));
  const setOf = (split: 'validation' | 'test', t: string) => {
    const set = session.sets[split][t] ?? hard?.sets[split][t];
    if (!set) throw new MergeLabError('PARAMETER_INVALID', `No ${split} data for task "${t}".`);
    return set;
  };
  const val = stack(all.map((t) => setOf('validation', t)));
  const test = stack(all.map((t) => setOf('test', t)));
  const classes = arch.classes;
  const normalized = (acc: readonly number[], split: 'validation' | 'test') =>
    normalizedScore(Object.fromEntries(scored.map((t, i) => [t, acc[i]!])), session.scorer.expertAccuracies[split], scored);

  const recipeAt = (lambda: number): Recipe => (options.sharedRecipe ?? ((l, experts) => taskArithmeticRecipe('base', experts, l)))(lambda, all);
  const excluded = excludedTensors(
    tensors.map((t) => t.name),
    options.exclude,
  );
  // Energy shares need the whole spectrum (maxRank undefined); fixed ranks only that many triplets.
  const needsSpectrum = choices.some((c) => !('rank' in c && typeof c.rank === 'number'));
  const decompose = async (lambda: number, maxRank: number | undefined) => {
    const merged = await buildSharedExpert({ recipe: recipeAt(lambda), checkpoints });
    const shared = Object.fromEntries(Object.entries(merged).filter(([n]) => !excluded.includes(n)));
    return { shared, decomposition: decomposeExclusive(merged, expertWeights, tensors, { maxRank, excluded }) };
  };
  const fixedMax = (cs: readonly RankChoice[]) => Math.max(...cs.map((c) => ('rank' in c && typeof c.rank === 'number' ? c.rank : 1)));

  // λ on validation, oracle-routed, at the first table choice.
  const lambdaSweep: { lambda: number; validation: number }[] = [];
  let best: { lambda: number; validation: number } | undefined;
  for (const lambda of lambdas) {
    step(`shared expert at λ ${lambda}`);
    const { shared, decomposition } = await decompose(lambda, needsSpectrum ? undefined : fixedMax([choices[0]!]));
    const ex = truncateExclusive(decomposition, choices[0]!);
    const acc = accuraciesOf(await dynamicLogits(arch, shared, ex, val.inputs, val.count, oneHotWeights(val.taskOf, T)), classes, val, T);
    const point = { lambda, validation: normalized(acc, 'validation') };
    lambdaSweep.push(point);
    // The earliest λ wins a tie, as in the method table's sweeps.
    if (!best || point.validation > best.validation) best = point;
  }
  const lambda = best!.lambda;

  step(`exclusive knowledge at λ ${lambda}`);
  const { shared, decomposition } = await decompose(lambda, needsSpectrum ? undefined : Math.max(fixedMax(choices), ...ranks));

  step('router');
  const width = featureWidth(arch);
  const started = performance.now();
  // The router reads θ*'s features; an excluded tensor is the base's there (featureTensors).
  const featureTensors = Object.fromEntries(excluded.map((n) => [n, session.weights.base![n]!]));
  const featureModel = { ...shared, ...featureTensors };
  const trained = await trainRouterOnSplit({ features: await sharedFeatures(arch, featureModel, val.inputs, val.count), featureSize: width, labels: val.taskOf, tasks: T }, options.router);
  const routerTrainingMs = performance.now() - started;
  const routerValues = routerParameterCount(trained.router) + Object.values(featureTensors).reduce((n, v) => n + v.length, 0);
  const weights = routingWeights(await routerLogits(trained.router, await sharedFeatures(arch, featureModel, test.inputs, test.count), test.count), T, options.routing);
  const oracle = oneHotWeights(test.taskOf, T);

  const evaluate = async (d: ExclusiveDecomposition, choice: RankChoice) => {
    const ex = truncateExclusive(d, choice);
    const routed = accuraciesOf(await dynamicLogits(arch, shared, ex, test.inputs, test.count, weights), classes, test, T);
    const best = accuraciesOf(await dynamicLogits(arch, shared, ex, test.inputs, test.count, oracle), classes, test, T);
    return { ex, routed, best, storage: twinStorage(tensors, ex, routerValues) };
  };
  const sweep: TwinSweepPoint[] = [];
  const byRank = new Map<number, Awaited<ReturnType<typeof evaluate>>>();
  for (const r of ranks) {
    step(`rank ${r}`);
    const e = await evaluate(decomposition, { rank: r });
    byRank.set(r, e);
    sweep.push({
      rank: r,
      router: normalized(e.routed, 'test'),
      oracle: normalized(e.best, 'test'),
      routerPerTask: scored.map((_, i) => 100 * e.routed[i]!),
      oraclePerTask: scored.map((_, i) => 100 * e.best[i]!),
      storage: e.storage,
    });
  }
  const tables: Awaited<ReturnType<typeof evaluate>>[] = [];
  for (const c of choices) tables.push(('rank' in c && typeof c.rank === 'number' && byRank.get(c.rank)) || (await evaluate(decomposition, c)));
  const rows: MethodRow[] = choices.flatMap((c, k) => {
    const t = tables[k]!;
    const params = { lambda, ...choiceParams(c) };
    return [
      { method: 'twin_merging', params, perTask: scored.map((_, i) => 100 * t.routed[i]!), normalized: normalized(t.routed, 'test') },
      { method: 'twin_merging_oracle', params, perTask: scored.map((_, i) => 100 * t.best[i]!), normalized: normalized(t.best, 'test') },
    ];
  });
  const table = tables[0]!;

  const perTask = routingAccuracyByTask(weights, test.taskOf, T);
  const shown = options.samples ?? 2;
  const samples: RoutingDiagnostics['samples'][number][] = [];
  const chosen = argmaxTasks(weights, T);
  let first = 0;
  all.forEach((task) => {
    const n = setOf('test', task).count;
    for (let k = 0; k < Math.min(shown, n); k++) {
      const s = first + k;
      samples.push({ task, index: k, routedTo: all[chosen[s]!]!, weights: Array.from(weights.subarray(s * T, (s + 1) * T)) });
    }
    first += n;
  });
  const routing: RoutingDiagnostics = {
    tasks: all,
    accuracy: routingAccuracy(weights, test.taskOf, T),
    perTask,
    meanWeights: meanWeightsByTask(weights, test.taskOf, T),
    samples,
  };

  const hardReports: HardTaskReport[] = [];
  for (const [k, task] of hardTasks.entries()) {
    const t = scored.length + k;
    const own = await taskAccuracies(arch, expertWeights[task]!, { [task]: setOf('test', task) });
    hardReports.push({ task, router: table.routed[t]!, oracle: table.best[t]!, expert: own[task]!, routing: perTask[t]! });
  }

  let mixed: MixedReport | undefined;
  if (options.mixed !== false) {
    step('mixed inputs');
    const testSets = Object.fromEntries(scored.map((t) => [t, setOf('test', t)]));
    mixed = await mixedRouting({ arch, shared, featureModel, exclusive: table.ex, router: trained.router, routing: options.routing, tasks: all, experts: expertWeights, pairs: mixedPairs(scored, testSets) });
  }

  const model: TwinModel = {
    tasks: all,
    hardTasks,
    tensors,
    shared,
    exclusive: table.ex,
    router: trained.router,
    ...(excluded.length ? { featureTensors } : {}),
    temperature: options.routing?.temperature ?? 1,
    topK: options.routing?.topK ?? T,
    sharedRecipe: recipeAt(lambda),
    ...(options.exclude?.length ? { exclude: options.exclude } : {}),
    architecture: arch,
    routerTraining: { options: trained.options, curve: trained.curve, split: 'validation (every 4th sample per task held out)', bestEpoch: trained.bestEpoch, samples: trained.samples },
  };
  return {
    tasks: scored,
    hardTasks,
    lambda,
    lambdaSweep,
    choices,
    rows,
    sweep,
    routing,
    curve: trained.curve,
    routerOptions: trained.options,
    routerBestEpoch: trained.bestEpoch,
    routerSamples: trained.samples,
    ...(mixed ? { mixed } : {}),
    routerTrainingMs,
    storage: table.storage,
    storageByChoice: tables.map((t) => t.storage),
    hard: hardReports,
    model,
  };
}
