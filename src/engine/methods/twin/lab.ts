/**
 * Twin-Merging in the lab: demo.ts's pipeline split into cached stages, so that a slider move
 * redoes only what it changes.
 *
 *   λ of the shared expert      → θ* and the full SVD of every θt − θ*         (~0.5 s on wasm)
 *   + router options            → the router trained on θ*'s validation features (a quarter
 *                                 held out: its curve and early stopping), and its logits on
 *                                 the split scored (the paper's router: ~20 s; the small one ~1 s)
 *   + rank (ratio, energy)      → the deltas cut to it; the oracle-routed score (one forward)
 *   + temperature, top-k        → routing weights; the router-routed score      (one forward)
 *
 * Scores are on the validation split unless the settings ask for the held-out test split (the
 * lab's sliders move on validation; test is shown on request, labelled): every stage that scores
 * is keyed by the split. The rank sweep reuses the same stages, so after the first request a rank
 * move costs two forwards and a temperature or top-k move six. On test the numbers are demo.ts's
 * at the same settings (the same SVDs, router, forwards and scoring; the test checks it), with λ
 * given rather than chosen on validation. Everything a view holds is plain data; the caches hold
 * arrays, no tensors.
 */
import { nextTask } from '../../next-task.js';
import { RecentMap } from '../../recent.js';
import type { DemoSession } from '../../demo/method-table.js';
import { architectureTensors } from '../../demo/manifest.js';
import type { Weights } from '../../demo/load.js';
import { MergeLabError } from '../../errors.js';
import { normalizedScore, taskAccuracies } from '../../eval/score.js';
import type { Checkpoint } from '../../io/types.js';
import type { CancelToken } from '../../merge/progress.js';
import { argmaxTasks, meanWeightsByTask, oneHotWeights, resolveRoutingOptions, routerLogits, routerParameterCount, routingAccuracy, routingAccuracyByTask, routingWeights } from '../../router/route.js';
import { resolveRouterOptions, routerOptionsOf, trainRouterOnSplit } from '../../router/train.js';
import type { EpochStats, ResolvedRouterOptions, RouterOptions, TrainedRouter } from '../../router/types.js';
import { TWIN_RANKS, TWIN_TABLE_RANK, type HardTaskReport, type HardTasks, type RoutingDiagnostics, type TwinSweepPoint } from './demo.js';
import { mixedPairs, mixedRouting, type MixedReport } from './mixed.js';
import { accuraciesOf, stack, type Stacked } from './stacked.js';
import { dynamicLogits, featureWidth, sharedFeatures } from './dynamic.js';
import { decomposeExclusive, excludedTensors, truncateExclusive, type ExclusiveDecomposition, type ExclusiveKnowledge, type RankChoice } from './exclusive.js';
import type { TwinModel } from './package.js';
import { DEFAULT_SHARED_LAMBDA, buildSharedExpert, sharedRecipe, type LabSharedMethod } from './shared.js';
import { twinStorage, type TwinStorage } from './storage.js';

/** What the lab's controls set. Absent fields take TWIN_PARAMS' defaults. */
export interface TwinLabSettings {
  /** λ of the shared expert (default 0.3, the paper's). */
  readonly lambda?: number;
  /** The shared expert's method (default task arithmetic; TIES with its density). */
  readonly shared?: LabSharedMethod;
  /** Rank every 2-D delta is cut to (default 4). Ignored when `energy` or `rankRatio` is given. */
  readonly rank?: number;
  /** Instead of a rank: per matrix ⌊rankRatio · min(m, n)⌋ (the paper code's 0.1). Ignored when `energy` is given. */
  readonly rankRatio?: number;
  /** Tensors kept out of θ* (name contains one of these): each task's own copy, by the routed task. */
  readonly exclude?: readonly string[];
  /** Instead of a rank: per task and matrix, the smallest rank holding this share of the delta's energy. */
  readonly energy?: number;
  readonly temperature?: number;
  /** Keep the k largest routing weights per input; absent: every task. */
  readonly topK?: number;
  /** The lab's headline score is the oracle's (true-task routing). Both are always computed. */
  readonly oracle?: boolean;
  /** Route between the demo's hard tasks too (they need loading: createTwinLab's `hard`). */
  readonly hard?: boolean;
  /** The router's training options (hidden, epochs, learningRate, seed). */
  readonly router?: RouterOptions;
  /** Samples per task whose routing weights the view lists (default 4). */
  readonly samples?: number;
  /** The split scored: 'validation' (the default, what sliders move on) or the held-out 'test'. */
  readonly split?: 'validation' | 'test';
  /** Also score routing on blends of two tasks' inputs (mixed.ts), on the same split. */
  readonly mixed?: boolean;
}

/** Accuracies of one routing, percent. */
export interface TwinScore {
  /** Per scored task, in TwinView.tasks order. */
  readonly perTask: readonly number[];
  /** Mean over scored tasks of accuracy / expert accuracy. */
  readonly normalized: number;
  /** Per hard task, in TwinView.hardTasks order (not in the normalized score). */
  readonly hard: readonly number[];
}

/** The ranks one 2-D tensor's deltas were cut to, per routed task. */
export interface KeptRank {
  readonly tensor: string;
  readonly shape: readonly number[];
  readonly ranks: readonly number[];
  /** Share of each delta's energy the kept rank holds. */
  readonly energy: readonly number[];
}

/** Everything the lab draws for one setting: plain data. */
export interface TwinView {
  /** Scored tasks; the hard ones apart; every routed task (scored, then hard). */
  readonly tasks: readonly string[];
  readonly hardTasks: readonly string[];
  readonly routedTasks: readonly string[];
  /** The settings used, defaults filled. */
  readonly settings: {
    readonly lambda: number;
    readonly shared: LabSharedMethod;
    readonly rank?: number;
    readonly rankRatio?: number;
    readonly energy?: number;
    readonly exclude: readonly string[];
    readonly temperature: number;
    readonly topK: number;
    readonly oracle: boolean;
    readonly hard: boolean;
    readonly router: Required<RouterOptions>;
    readonly split: 'validation' | 'test';
  };
  /** Each scored task's expert on it (the split scored, percent): the normalizers. */
  readonly expert: readonly number[];
  readonly router: TwinScore;
  readonly oracle: TwinScore;
  readonly keptRanks: readonly KeptRank[];
  /** The twin at these settings (router counted). */
  readonly storage: TwinStorage;
  /** Ranks 1, 2, 4, 8, 16 (capped by the spectrum) at the same λ and routing. */
  readonly sweep: readonly TwinSweepPoint[];
  readonly routing: RoutingDiagnostics;
  readonly hard: readonly HardTaskReport[];
  /** The router's curve: per epoch, training loss and accuracy and the held-out ones. */
  readonly curve: readonly EpochStats[];
  readonly routerBestEpoch: number;
  readonly routerSamples: TrainedRouter['samples'];
  readonly routerTrainingMs: number;
  /** Routing on blends of two tasks' inputs, when asked (settings.mixed). */
  readonly mixed?: MixedReport;
  readonly warnings: readonly string[];
  /** Wall time of this request and the stages it had to compute (the others came from the caches). */
  readonly milliseconds: number;
  readonly computed: readonly string[];
}

export interface TwinLab {
  /** The view at `settings`; `cancel` is checked between stages (CANCELLED). */
  view(settings: TwinLabSettings, cancel?: CancelToken): Promise<TwinView>;
  /** The twin at `settings`, ready for buildTwinPackage. */
  model(settings: TwinLabSettings, cancel?: CancelToken): Promise<TwinModel>;
}

/** A small recently-used map: caches hold a few settings each, not every one ever seen. */
export class LabCache<V> extends RecentMap<string, V> {
  /** The cached value, or `make`'s (stored only once it finished). */
  async getOr(key: string, make: () => Promise<V>, computed?: string[], what?: string): Promise<V> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    if (what) computed?.push(what);
    return this.set(key, await make());
  }
}

/** The routed tasks and their data, for one choice of hard mode. */
interface Tasks {
  readonly scored: readonly string[];
  readonly hardTasks: readonly string[];
  readonly all: readonly string[];
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly experts: Readonly<Record<string, Weights>>;
  readonly val: Stacked;
  readonly test: Stacked;
  /** Samples per routed task, per split. */
  readonly counts: { readonly validation: readonly number[]; readonly test: readonly number[] };
  /** Each hard task's own expert on it (0..1), per split. */
  readonly hardExpert: { readonly validation: readonly number[]; readonly test: readonly number[] };
}

interface SharedStage {
  readonly shared: Record<string, Float32Array>;
  /** θ* with excluded tensors taken from the base: what the router's features are computed with. */
  readonly featureModel: Record<string, Float32Array>;
  readonly featureTensors: Record<string, Float32Array>;
  readonly decomposition: ExclusiveDecomposition;
}

interface RouterStage {
  readonly trained: TrainedRouter;
  readonly ms: number;
  readonly params: number;
  /** Logits on each split, count × T. */
  readonly logits: { readonly validation: Float32Array; readonly test: Float32Array };
}

interface CutStage {
  readonly ex: ExclusiveKnowledge;
  /** Oracle-routed accuracy per routed task (0..1) on the split it was asked for. */
  readonly oracle: readonly number[];
}

interface Resolved {
  readonly lambda: number;
  readonly shared: LabSharedMethod;
  readonly choice: RankChoice;
  readonly exclude: readonly string[];
  readonly temperature: number;
  readonly topK: number;
  readonly oracle: boolean;
  readonly hard: boolean;
  readonly router: ResolvedRouterOptions;
  readonly samples: number;
  readonly split: 'validation' | 'test';
}

const pct = (xs: readonly number[]) => xs.map((x) => 100 * x);

/** "rank 4", "rank_ratio 0.1", "energy 0.9". */
const choiceName = (c: RankChoice) => ('energy' in c ? `energy ${c.energy}` : 'rankRatio' in c ? `rank_ratio ${c.rankRatio}` : `rank ${c.rank}`);

/** Opens a lab session on the demo; `hard` (from loadHardTasks) enables hard mode. */
export function createTwinLab(session: DemoSession, hard?: HardTasks): TwinLab {
  const arch = session.manifest.architecture;
  const tensors = architectureTensors(arch);
  const tasksByMode = new Map<boolean, Promise<Tasks>>();
  const sharedCache = new LabCache<SharedStage>(2);
  const routerCache = new LabCache<RouterStage>(3);
  const cutCache = new LabCache<CutStage>(24);
  const routedCache = new LabCache<readonly number[]>(48);
  const weightsCache = new LabCache<Float32Array>(4);
  const mixedCache = new LabCache<MixedReport>(4);
  const routingKey = (r: Resolved) => `${r.hard}|${r.lambda}|${JSON.stringify(r.shared)}|${JSON.stringify(r.exclude)}|${JSON.stringify(r.router)}|${r.temperature}|${r.topK}|${r.split}`;

  const tasksFor = (withHard: boolean): Promise<Tasks> => {
    let p = tasksByMode.get(withHard);
    if (!p) {
      p = openTasks(session, withHard ? hard : undefined);
      tasksByMode.set(withHard, p);
      p.catch(() => tasksByMode.delete(withHard));
    }
    return p;
  };

  const resolve = (s: TwinLabSettings, T: number): Resolved => {
    const lambda = s.lambda ?? DEFAULT_SHARED_LAMBDA;
    if (!Number.isFinite(lambda) || lambda < 0) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's λ of the shared expert must be a number ≥ 0, got ${lambda}.`);
    let choice: RankChoice;
    if (s.energy !== undefined) {
      if (!(s.energy > 0 && s.energy <= 1)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's energy share must be in (0, 1], got ${s.energy}.`);
      choice = { energy: s.energy };
    } else if (s.rankRatio !== undefined) {
      if (!(s.rankRatio > 0 && s.rankRatio <= 1)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's rank_ratio must be in (0, 1], got ${s.rankRatio}.`);
      choice = { rankRatio: s.rankRatio };
    } else {
      const rank = s.rank ?? TWIN_TABLE_RANK;
      if (!Number.isInteger(rank) || rank < 1) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's rank must be an integer ≥ 1, got ${rank}.`);
      choice = { rank };
    }
    const { temperature, topK } = resolveRoutingOptions({ temperature: s.temperature, topK: s.topK }, T);
    const samples = s.samples ?? 4;
    if (!Number.isInteger(samples) || samples < 0) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Routing samples per task must be an integer ≥ 0, got ${samples}.`);
    const shared: LabSharedMethod = s.shared ?? { id: 'task_arithmetic' };
    if (shared.id === 'ties' && !(shared.density > 0 && shared.density <= 1)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `The shared expert's TIES density must be in (0, 1], got ${shared.density}.`);
    if (shared.id !== 'task_arithmetic' && shared.id !== 'ties') throw new MergeLabError('PARAMETER_INVALID', `The lab builds the shared expert with task_arithmetic or ties, not "${String((shared as { id: unknown }).id)}".`);
    const exclude = [...(s.exclude ?? [])];
    const split = s.split ?? 'validation';
    if (split !== 'validation' && split !== 'test') throw new MergeLabError('PARAMETER_INVALID', `The lab scores the "validation" or the "test" split, not "${String(split)}".`);
    return { lambda, shared, choice, exclude, temperature, topK, oracle: s.oracle ?? false, hard: s.hard ?? false, router: resolveRouterOptions(s.router), samples, split };
  };

  const check = (cancel: CancelToken | undefined, what: string) => {
    if (cancel?.cancelled) throw new MergeLabError('CANCELLED', `Twin-Merging request superseded before: ${what}.`);
  };

  /** Every stage for `settings`, from the caches where they hold it. */
  async function stages(settings: TwinLabSettings, cancel: CancelToken | undefined, computed: string[]) {
    const withHard = settings.hard ?? false;
    if (withHard && !hard) {
      throw new MergeLabError('DEMO_DATA_INVALID', "Hard mode needs the demo's hard task (manifest-hard.json and its expert), which were not loaded; turn hard mode off or reload the demo.");
    }
    const t = await tasksFor(withHard);
    const T = t.all.length;
    const r = resolve(settings, T);
    const sharedKey = `${withHard}|${r.lambda}|${JSON.stringify(r.shared)}|${JSON.stringify(r.exclude)}`;
    check(cancel, 'the shared expert');
    const sh = await sharedCache.getOr(
      sharedKey,
      async () => {
        const shared = await buildSharedExpert({ recipe: sharedRecipe('base', t.all, r.shared, r.lambda), checkpoints: t.checkpoints });
        // The full spectrum: any rank up to min(m, n) and energy shares without another SVD.
        const excluded = excludedTensors(tensors.map((x) => x.name), r.exclude);
        const decomposition = decomposeExclusive(shared, t.experts, tensors, { excluded });
        const kept = Object.fromEntries(Object.entries(shared).filter(([n]) => !excluded.includes(n)));
        const featureTensors = Object.fromEntries(excluded.map((n) => [n, session.weights.base![n]!]));
        return { shared: kept, featureModel: { ...kept, ...featureTensors }, featureTensors, decomposition };
      },
      computed,
      'shared expert and SVDs',
    );
    const routerKey = `${sharedKey}|${JSON.stringify(r.router)}`;
    check(cancel, 'the router');
    const rt = await routerCache.getOr(
      routerKey,
      async () => {
        const started = performance.now();
        const features = await sharedFeatures(arch, sh.featureModel, t.val.inputs, t.val.count);
        const trained = await trainRouterOnSplit({ features, featureSize: featureWidth(arch), labels: t.val.taskOf, tasks: T }, routerOptionsOf(r.router));
        const ms = performance.now() - started;
        const logits = {
          validation: await routerLogits(trained.router, features, t.val.count),
          test: await routerLogits(trained.router, await sharedFeatures(arch, sh.featureModel, t.test.inputs, t.test.count), t.test.count),
        };
        const extra = Object.values(sh.featureTensors).reduce((n, v) => n + v.length, 0);
        return { trained, ms, params: routerParameterCount(trained.router) + extra, logits };
      },
      computed,
      'router',
    );
    const data = r.split === 'test' ? t.test : t.val;
    const routingKey = `${routerKey}|${r.temperature}|${r.topK}|${r.split}`;
    let weights = weightsCache.get(routingKey);
    if (!weights) weights = weightsCache.set(routingKey, routingWeights(rt.logits[r.split], T, { temperature: r.temperature, topK: r.topK }));
    const w = weights;

    const oracleWeights = oneHotWeights(data.taskOf, T);
    const cut = (choice: RankChoice) =>
      cutCache.getOr(
        `${sharedKey}|${JSON.stringify(choice)}|${r.split}`,
        async () => {
          // Two forwards follow: a newer request (latest wins) gets in first and stops this one.
          await nextTask();
          check(cancel, `rank ${JSON.stringify(choice)}`);
          const ex = truncateExclusive(sh.decomposition, choice);
          return { ex, oracle: accuraciesOf(await dynamicLogits(arch, sh.shared, ex, data.inputs, data.count, oracleWeights), arch.classes, data, T) };
        },
        computed,
        `oracle at ${choiceName(choice)}`,
      );
    const routed = (choice: RankChoice, c: CutStage) =>
      routedCache.getOr(
        `${routingKey}|${JSON.stringify(choice)}`,
        async () => {
          await nextTask();
          check(cancel, `routing at ${JSON.stringify(choice)}`);
          return accuraciesOf(await dynamicLogits(arch, sh.shared, c.ex, data.inputs, data.count, w), arch.classes, data, T);
        },
        computed,
        `router at ${choiceName(choice)}`,
      );
    return { t, T, r, sh, rt, w, data, cut, routed };
  }

  return {
    async view(settings, cancel) {
      const started = performance.now();
      const computed: string[] = [];
      const { t, T, r, sh, rt, w, data, cut, routed } = await stages(settings, cancel, computed);
      const scored = t.scored;
      const S = scored.length;
      const experts = session.scorer.expertAccuracies[r.split];
      const normalized = (acc: readonly number[]) => normalizedScore(Object.fromEntries(scored.map((task, i) => [task, acc[i]!])), experts, scored);
      const score = (acc: readonly number[]): TwinScore => ({ perTask: pct(acc.slice(0, S)), normalized: normalized(acc), hard: pct(acc.slice(S)) });

      const current = await cut(r.choice);
      const currentRouted = await routed(r.choice, current);
      // The sweep's ranks, capped by the largest rank the spectrum holds (demo: 64).
      const maxRank = sh.decomposition.parts.flat().reduce((m, p) => Math.max(m, p.kind === 'svd' ? p.svd.k : 0), 1);
      const sweep: TwinSweepPoint[] = [];
      for (const rank of TWIN_RANKS.filter((x) => x <= maxRank)) {
        const c = await cut({ rank });
        const routedAcc = await routed({ rank }, c);
        sweep.push({
          rank,
          router: normalized(routedAcc),
          oracle: normalized(c.oracle),
          routerPerTask: pct(routedAcc.slice(0, S)),
          oraclePerTask: pct(c.oracle.slice(0, S)),
          storage: twinStorage(tensors, c.ex, rt.params),
        });
      }

      const perTask = routingAccuracyByTask(w, data.taskOf, T);
      const chosen = argmaxTasks(w, T);
      const samples: RoutingDiagnostics['samples'][number][] = [];
      let first = 0;
      t.all.forEach((task, k) => {
        const n = t.counts[r.split][k]!;
        for (let i = 0; i < Math.min(r.samples, n); i++) {
          const s = first + i;
          samples.push({ task, index: i, routedTo: t.all[chosen[s]!]!, weights: Array.from(w.subarray(s * T, (s + 1) * T)) });
        }
        first += n;
      });
      const routing: RoutingDiagnostics = { tasks: t.all, accuracy: routingAccuracy(w, data.taskOf, T), perTask, meanWeights: meanWeightsByTask(w, data.taskOf, T), samples };
      let mixed: MixedReport | undefined;
      if (settings.mixed) {
        const key = `${routingKey(r)}|${JSON.stringify(r.choice)}`;
        mixed = await mixedCache.getOr(
          key,
          async () => {
            const sets = Object.fromEntries(scored.map((task) => [task, session.sets[r.split][task]!]));
            return mixedRouting({ arch, shared: sh.shared, featureModel: sh.featureModel, exclusive: current.ex, router: rt.trained.router, routing: { temperature: r.temperature, topK: r.topK }, tasks: t.all, experts: t.experts, pairs: mixedPairs(scored, sets) });
          },
          computed,
          'mixed inputs',
        );
      }

      const keptRanks: KeptRank[] = [];
      current.ex.tensors.forEach((tensor, j) => {
        const parts = current.ex.parts.map((row) => row[j]!);
        if (parts.every((p) => p.kind === 'lowrank')) {
          keptRanks.push({ tensor: tensor.name, shape: tensor.shape, ranks: parts.map((p) => (p.kind === 'lowrank' ? p.rank : 0)), energy: parts.map((p) => (p.kind === 'lowrank' ? p.energy : 1)) });
        }
      });

      return {
        tasks: scored,
        hardTasks: t.hardTasks,
        routedTasks: t.all,
        settings: {
          lambda: r.lambda,
          shared: r.shared,
          ...('rank' in r.choice && typeof r.choice.rank === 'number' ? { rank: r.choice.rank } : {}),
          ...('rankRatio' in r.choice ? { rankRatio: r.choice.rankRatio } : {}),
          ...('energy' in r.choice ? { energy: r.choice.energy } : {}),
          exclude: r.exclude,
          temperature: r.temperature,
          topK: r.topK,
          oracle: r.oracle,
          hard: r.hard,
          router: rt.trained.options,
          split: r.split,
        },
        expert: scored.map((task) => 100 * experts[task]!),
        router: score(currentRouted),
        oracle: score(current.oracle),
        keptRanks,
        storage: twinStorage(tensors, current.ex, rt.params),
        sweep,
        routing,
        hard: t.hardTasks.map((task, k) => ({ task, router: currentRouted[S + k]!, oracle: current.oracle[S + k]!, expert: t.hardExpert[r.split][k]!, routing: perTask[S + k]! })),
        curve: rt.trained.curve,
        routerBestEpoch: rt.trained.bestEpoch,
        routerSamples: rt.trained.samples,
        routerTrainingMs: rt.ms,
        ...(mixed ? { mixed } : {}),
        warnings: current.ex.warnings,
        milliseconds: performance.now() - started,
        computed,
      };
    },

    async model(settings, cancel) {
      const { t, r, sh, rt, cut } = await stages(settings, cancel, []);
      const current = await cut(r.choice);
      return {
        tasks: t.all,
        hardTasks: t.hardTasks,
        tensors,
        shared: sh.shared,
        exclusive: current.ex,
        router: rt.trained.router,
        ...(r.exclude.length ? { featureTensors: sh.featureTensors } : {}),
        temperature: r.temperature,
        topK: r.topK,
        sharedRecipe: sharedRecipe('base', t.all, r.shared, r.lambda),
        ...(r.exclude.length ? { exclude: r.exclude } : {}),
        architecture: arch,
        routerTraining: { options: rt.trained.options, curve: rt.trained.curve, split: 'validation (every 4th sample per task held out)', bestEpoch: rt.trained.bestEpoch, samples: rt.trained.samples },
      };
    },
  };
}

/** The routed tasks (scored, then hard) with their experts and stacked splits, as demo.ts builds them. */
async function openTasks(session: DemoSession, hard: HardTasks | undefined): Promise<Tasks> {
  const hardTasks = hard?.tasks ?? [];
  const all = [...session.tasks, ...hardTasks];
  const setOf = (split: 'validation' | 'test', t: string) => {
    const set = session.sets[split][t] ?? hard?.sets[split][t];
    if (!set) throw new MergeLabError('PARAMETER_INVALID', `No ${split} data for task "${t}".`);
    return set;
  };
  const experts: Record<string, Weights> = Object.fromEntries(all.map((t) => [t, (hard?.weights[t] ?? session.weights[t])!]));
  const hardExpert = { validation: [] as number[], test: [] as number[] };
  for (const split of ['validation', 'test'] as const) {
    for (const task of hardTasks) hardExpert[split].push((await taskAccuracies(session.manifest.architecture, experts[task]!, { [task]: setOf(split, task) }))[task]!);
  }
  return {
    scored: session.tasks,
    hardTasks,
    all,
    checkpoints: new Map<string, Checkpoint>([...session.checkpoints, ...(hard?.checkpoints ?? [])]),
    experts,
    val: stack(all.map((t) => setOf('validation', t))),
    test: stack(all.map((t) => setOf('test', t))),
    counts: { validation: all.map((t) => setOf('validation', t).count), test: all.map((t) => setOf('test', t).count) },
    hardExpert,
  };
}
