/**
 * Twin-Merging in the language-model lab (lm-lab.ts asks here when a request carries `twin`): the
 * request's recipe is the shared expert θ*, merged by the lab's live session as any recipe; each
 * expert's delta to it is decomposed once per θ* (enough triplets for the rank asked; a larger rank
 * decomposes again) and cut to the rank without another SVD; the router (routed/lm-twin.ts: it reads
 * the mean of θ*'s final hidden states over a window) is trained once per θ* and training texts, on
 * windows of each expert's training text with every 4th held out (router/train.ts); what it reads
 * of the scored windows is kept too, per θ* and windows. Every window of
 * every task is then scored with θ* + Σt wt·Δt for its own weights: the router's, or with `oracle`
 * all on the task's expert. A probe's pieces are its windows' first predictions, routed as their
 * whole windows are, so a probe is still a prefix of the full answer.
 */
import { MergeLabError } from '../../errors.js';
import type { Checkpoint } from '../../io/types.js';
import type { LmConfig } from '../../lm/config.js';
import { disposeLmWeights } from '../../lm/load.js';
import type { ScoreOptions, ScoreResult } from '../../lm/score.js';
import type { CancelToken } from '../../merge/progress.js';
import type { ExclusiveDecomposition } from '../../methods/twin/exclusive.js';
import { LmTwinModel, contextWindows, decomposeLmTwin, lmExclusive, scoreRoutedWindows, tripletsFor, windowFeatures, type LmTensors, type LmTwinRank } from '../../routed/lm-twin.js';
import { routerLogits, routingWeights } from '../../router/route.js';
import { trainRouterOnSplit } from '../../router/train.js';
import type { TrainedRouter } from '../../router/types.js';
import type { LmLabRouting, LmLabTwin } from '../lm-lab-twin-api.js';

/** Training windows per expert when the request names no count: enough for the small router, few enough for a second of wasm. */
export const LM_TWIN_TRAINING_WINDOWS = 24;
/** Triplets decomposed at least: a rank slider's small moves need no new SVD. */
const MIN_TRIPLETS = 16;

/** What is kept between requests: one θ*'s decomposition, its router, and the scored windows' features. */
export interface LmTwinCache {
  decomposition?: { readonly key: string; readonly triplets: number; readonly value: ExclusiveDecomposition };
  router?: { readonly key: string; readonly trained: TrainedRouter };
  /** What the router reads of the scored windows through θ*: the same for a rank or temperature move, and for the full answer after its probe. */
  features?: { readonly key: string; readonly value: Float32Array };
}

/** The identity of windows of token ids (what their features are kept under). */
export function windowsKey(windows: readonly (readonly number[])[]): string {
  return windows.map((w) => w.join(',')).join(';');
}

export interface LmTwinTask {
  /** The pieces scored (a probe's prefixes or the whole windows). */
  readonly pieces: readonly (readonly number[])[];
  /** The whole windows the pieces are the first of: what the router reads. */
  readonly windows: readonly (readonly number[])[];
  /** Index of the task's expert among the request's experts. */
  readonly expert: number | undefined;
}

export interface LmTwinInputs {
  readonly config: LmConfig;
  readonly cache: LmTwinCache;
  /** θ*'s identity (its recipe, the experts): what the decomposition and router are kept under. */
  readonly sharedKey: string;
  readonly shared: LmTensors;
  /** The request's experts, in order, by id. */
  readonly experts: readonly string[];
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly twin: LmLabTwin;
  readonly tasks: readonly LmTwinTask[];
  readonly encode: (text: string) => readonly number[];
  readonly score: ScoreOptions & { readonly context: number };
  readonly cancel: CancelToken;
}

/** The rank rule a request asks for; exactly one of rank and rankRatio. */
export function twinRank(t: LmLabTwin): LmTwinRank {
  if ((t.rank === undefined) === (t.rankRatio === undefined)) throw new MergeLabError('PARAMETER_INVALID', 'Twin-Merging in the language-model lab needs either a rank or a rankRatio (one of them).');
  if (t.rank !== undefined) {
    if (!Number.isInteger(t.rank) || t.rank < 1) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's rank must be a whole number ≥ 1 (got ${t.rank}).`);
    return { rank: t.rank };
  }
  if (!(t.rankRatio! > 0 && t.rankRatio! <= 1)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's rankRatio must be in (0, 1] (got ${t.rankRatio}).`);
  return { rankRatio: t.rankRatio! };
}

const cancelled = () => new MergeLabError('CANCELLED', 'The language-model evaluation was cancelled.');

/** Scores every task's pieces with the routed twin; answers each task's summed score and the routing. */
export async function scoreTwinTasks(o: LmTwinInputs): Promise<{ scores: ScoreResult[]; routing: Omit<LmLabRouting, 'tasks'> & { readonly weights: (readonly (readonly number[])[])[] } }> {
  const { config, cache, twin, experts } = o;
  const T = experts.length;
  if (T === 0) throw new MergeLabError('TOO_FEW_MODELS', 'Twin-Merging needs at least one expert.');
  const choice = twinRank(twin);
  const perExpert = twin.windowsPerExpert ?? LM_TWIN_TRAINING_WINDOWS;
  if (!Number.isInteger(perExpert) || perExpert < 1) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `windowsPerExpert must be a whole number ≥ 1 (got ${perExpert}).`);
  const problems = experts.filter((e) => !twin.training.some((t) => t.expert === e)).map((e) => `"${e}"`);
  if (problems.length) throw new MergeLabError('PARAMETER_INVALID', `Twin-Merging's router needs a training text for every expert; none names ${problems.join(', ')}.`);

  const triplets = Math.max(MIN_TRIPLETS, tripletsFor(choice, config));
  if (!cache.decomposition || cache.decomposition.key !== o.sharedKey || cache.decomposition.triplets < triplets) {
    cache.decomposition = undefined;
    cache.router = cache.router?.key.startsWith(`${o.sharedKey}\u0000`) ? cache.router : undefined;
    cache.decomposition = { key: o.sharedKey, triplets, value: await decomposeLmTwin(config, o.shared, o.checkpoints, experts, triplets, o.cancel) };
  }
  if (o.cancel.cancelled) throw cancelled();
  const model = new LmTwinModel(config, o.shared, lmExclusive(cache.decomposition.value, choice));
  try {
    const windows = o.tasks.flatMap((t) => t.windows.map((w) => w.slice(0, o.score.context + 1)));
    const training = experts.map((e) => twin.training.filter((t) => t.expert === e).flatMap((t) => contextWindows(o.encode(t.text), o.score.context)));
    const trainingPicked = training.map((w) => contextWindowsPick(w, perExpert));
    const routerKey = [o.sharedKey, JSON.stringify(twin.router ?? {}), perExpert, o.score.context, ...twin.training.map((t) => `${t.expert}\u0001${t.text}`)].join('\u0000');
    const featuresKey = [o.sharedKey, o.score.context, windowsKey(windows)].join('\u0000');
    let features = cache.features?.key === featuresKey ? cache.features.value : undefined;
    // θ*'s forward passes only when the router or the windows' features are not kept.
    if (cache.router?.key !== routerKey || !features) {
      const sharedWeights = model.sharedWeights();
      try {
        if (cache.router?.key !== routerKey) {
          const train = await windowFeatures(config, sharedWeights, trainingPicked.flat(), { cancel: o.cancel });
          const labels = Int32Array.from(trainingPicked.flatMap((w, e) => w.map(() => e)));
          const trained = await trainRouterOnSplit({ features: train, featureSize: config.hiddenSize, labels, tasks: T }, { architecture: twin.router?.architecture ?? 'small', seed: twin.router?.seed ?? 0 });
          cache.router = { key: routerKey, trained };
        }
        if (!features) {
          features = await windowFeatures(config, sharedWeights, windows, { cancel: o.cancel });
          cache.features = { key: featuresKey, value: features };
        }
      } finally {
        disposeLmWeights(sharedWeights.tensors);
      }
    }
    if (o.cancel.cancelled) throw cancelled();
    const trained = cache.router!.trained;
    const routed = routingWeights(await routerLogits(trained.router, features, windows.length), T, { temperature: twin.temperature ?? 1, ...(twin.topK !== undefined ? { topK: twin.topK } : {}) });
    // Per task, each window's weights (oracle: all on its expert, when it has one).
    let at = 0;
    const weights = o.tasks.map((t) =>
      t.windows.map(() => {
        const row = Array.from(routed.subarray(at * T, (at + 1) * T));
        at++;
        return twin.oracle && t.expert !== undefined ? row.map((_, e) => (e === t.expert ? 1 : 0)) : row;
      }),
    );
    const pieces = o.tasks.flatMap((t) => t.pieces);
    const pieceWeights = new Float32Array(pieces.length * T);
    let p = 0;
    o.tasks.forEach((t, i) => t.pieces.forEach((_, j) => pieceWeights.set(weights[i]![j]!, T * p++)));
    const scored = await scoreRoutedWindows(model, pieces, pieceWeights, o.score);
    return { scores: taskScores(o.tasks, scored), routing: { experts: [...experts], weights, router: routerSummary(trained) } };
  } finally {
    model.dispose();
  }
}

/** Each task's score: the sum of its pieces' (scored in task order). */
export function taskScores(tasks: readonly Pick<LmTwinTask, 'pieces'>[], scored: readonly ScoreResult[]): ScoreResult[] {
  let k = 0;
  return tasks.map((t): ScoreResult => {
    const own = scored.slice(k, (k += t.pieces.length));
    return { tokens: own.reduce((n, s) => n + s.tokens, 0), nll: own.reduce((n, s) => n + s.nll, 0), windows: own.flatMap((s) => s.windows) };
  });
}

/** A trained router as an answer's routing names it. */
export function routerSummary(trained: TrainedRouter): LmLabRouting['router'] {
  const best = trained.curve.find((e) => e.epoch === trained.bestEpoch);
  return { architecture: trained.options.architecture, epochs: trained.curve.length, bestEpoch: trained.bestEpoch, samples: trained.samples, heldOutAccuracy: best?.validationAccuracy ?? null };
}

/** At most `max` of `windows`, spread evenly (contextWindows' rule). */
export function contextWindowsPick<T>(windows: readonly T[], max: number): T[] {
  if (windows.length <= max) return [...windows];
  return Array.from({ length: max }, (_, k) => windows[max === 1 ? 0 : Math.round((k * (windows.length - 1)) / (max - 1))]!);
}
