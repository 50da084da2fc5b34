/**
 * Channel Merging on text (issue 17, item 7): the LM demo's experts grouped per channel
 * (methods/channel's modelBuilder: rows clustered by k-means or average linkage, each group merged),
 * and each window looked up per task: the task is the window's own domain (oracle) or the router's
 * choice. A lookup takes one task's rows, so a window runs with the task of its largest routing
 * weight; the router's whole weights are reported too (single-domain and mixed windows).
 *
 * The router reads the BASE's mean final hidden state over the window (lm-twin.ts' windowFeatures,
 * Twin-Merging's LM router's features): the base is the one model every K and group method shares,
 * as the digits Channel Merging's router reads the base (methods/channel/demo.ts). It is trained on
 * the domains' validation windows (every 4th held out for early stopping).
 *
 * For every K = 1..T the group method and its λ/density are chosen by the oracle-routed mean gain on
 * the validation windows (K = T keeps every expert whole, one candidate suffices); the rows' K is
 * the smallest reaching kTarget % of the best K's (channel/demo.ts' chooseK), then scored on test.
 */
import type { LmDemo } from '../demo/lm-load.js';
import { lossOf, meanOf, normalizedGain, floatLmWeights, type LmLoss, type LmReferences } from '../demo/lm-windows.js';
import type { LmMethodRow } from '../demo/lm-method-table.js';
import { MergeLabError } from '../errors.js';
import type { LmConfig } from '../lm/config.js';
import { disposeLmWeights } from '../lm/load.js';
import { openLanguageModel } from '../lm/model.js';
import { scoreSequences, type ScoreOptions, type ScoreResult } from '../lm/score.js';
import { byteTokenizer } from '../lm/tokenizer.js';
import { planTensors, type ChannelModel } from '../methods/channel/channel-merge.js';
import { CLUSTERING_METHODS, type ClusteringMethod } from '../methods/channel/cluster.js';
import { DEFAULT_K_TARGET, chooseK, modelBuilder, sweptParams, type ChannelCandidate } from '../methods/channel/demo.js';
import { resolveGroupMethod } from '../methods/channel/group-method.js';
import { taskWeights } from '../methods/channel/lookup.js';
import { checkpointSource } from '../methods/channel/source.js';
import { channelStorage } from '../methods/channel/storage.js';
import { argmaxTasks, meanLargestWeight, meanWeightsByTask, routerLogits, routerParameterCount, routingAccuracy, routingWeights } from '../router/route.js';
import { trainRouterOnSplit } from '../router/train.js';
import type { RouterOptions, RoutingOptions } from '../router/types.js';
import { windowFeatures } from './lm-twin.js';

/** Group methods tried at every K on the LM demo: average, task arithmetic at two λ, TIES at two densities. */
export const LM_CHANNEL_CANDIDATES: readonly ChannelCandidate[] = [
  { method: { id: 'average' }, similarity: 'raw' },
  { method: { id: 'task_arithmetic', params: { lambda: 0.5 } }, similarity: 'raw' },
  { method: { id: 'task_arithmetic', params: { lambda: 1 } }, similarity: 'raw' },
  { method: { id: 'ties', params: { density: 0.4, lambda: 1 } }, similarity: 'raw' },
];

export interface LmChannelOptions {
  readonly clusterings?: readonly ClusteringMethod[];
  readonly candidates?: readonly ChannelCandidate[];
  /** The rows' K: a number, or chosen on validation (the default) by kTarget. */
  readonly K?: number | 'validation';
  readonly kTarget?: number;
  /** k-means' seed (default 42, the merge's). */
  readonly seed?: number;
  readonly router?: RouterOptions;
  /** Temperature and top-k of the reported weights (the lookup takes their largest either way). */
  readonly routing?: RoutingOptions;
  readonly onStep?: (step: string) => void;
}

/** One domain's test windows under one routing. */
export interface LmChannelDomain {
  readonly domain: string;
  readonly loss: LmLoss;
  readonly gain: number;
}

export interface LmChannelScore {
  readonly perDomain: readonly LmChannelDomain[];
  /** Mean gain × 100. */
  readonly normalized: number;
}

export interface LmChannelKPoint {
  readonly K: number;
  readonly groupMethod: string;
  readonly similarity: 'raw' | 'trimmed';
  readonly params: Readonly<Record<string, number>>;
  /** Oracle-routed mean gain × 100 on the validation windows. */
  readonly validation: number;
  /** K merged copies + uint8 index tables against the T experts (router apart), float32. */
  readonly bytes: number;
  readonly ratio: number;
}

export interface LmChannelClustering {
  readonly clustering: ClusteringMethod;
  readonly K: number;
  readonly kTarget: number | null;
  readonly groupMethod: string;
  readonly params: Readonly<Record<string, number>>;
  readonly kSweep: readonly LmChannelKPoint[];
  readonly oracle: LmChannelScore;
  readonly router: LmChannelScore;
  /** The mixed windows, each looked up with its largest routing weight's task. */
  readonly mixed: LmLoss;
}

export interface LmChannelResult {
  readonly domains: readonly string[];
  readonly router: {
    readonly architecture: string;
    readonly reads: string;
    readonly params: number;
    readonly epochs: number;
    readonly bestEpoch: number;
    readonly samples: { readonly training: number; readonly heldOut: number };
    readonly heldOutAccuracy: number | null;
    /** Share of the test domain windows whose largest weight is their domain. */
    readonly testAccuracy: number;
    /** Mean routing weights of each domain's test windows (row: true domain, column: task). */
    readonly meanWeights: readonly (readonly number[])[];
  };
  readonly mixed: {
    readonly ids: readonly string[];
    readonly weights: readonly (readonly number[])[];
    readonly meanLargestWeight: number;
    readonly base: LmLoss;
    readonly experts: Readonly<Record<string, LmLoss>>;
  };
  readonly clusterings: readonly LmChannelClustering[];
  /** channel_merging (router) then channel_merging_oracle, per clustering. */
  readonly rows: readonly LmMethodRow[];
}

/** Windows scored each with the task a job gives it: one looked-up model per task, shared by every job. */
export interface LookupJob {
  readonly windows: readonly (readonly number[])[];
  readonly task: ArrayLike<number>;
}

export async function scoreLookups(config: LmConfig, model: ChannelModel, jobs: readonly LookupJob[], options: ScoreOptions): Promise<ScoreResult[][]> {
  const out = jobs.map((j) => new Array<ScoreResult>(j.windows.length));
  for (let t = 0; t < model.tasks.length; t++) {
    const at: [number, number][] = [];
    jobs.forEach((j, k) => j.windows.forEach((_, i) => j.task[i] === t && at.push([k, i])));
    if (at.length === 0) continue;
    const w = floatLmWeights(config, taskWeights(model, t), `Channel Merging's ${model.tasks[t]} lookup`);
    try {
      const scores = await scoreSequences(config, w, at.map(([k, i]) => jobs[k]!.windows[i]!), options);
      at.forEach(([k, i], n) => (out[k]![i] = scores[n]!));
    } finally {
      disposeLmWeights(w.tensors);
    }
  }
  return out;
}

const labelsOf = (sets: readonly (readonly unknown[])[]) => Int32Array.from(sets.flatMap((s, d) => s.map(() => d)));
const splitBy = <T>(flat: readonly T[], sets: readonly (readonly unknown[])[]) => {
  let at = 0;
  return sets.map((s) => flat.slice(at, (at += s.length)));
};

/** Runs Channel Merging on the LM demo; see the file header. Leaves no tensor behind. */
export async function lmChannelDemo(demo: LmDemo, references: LmReferences, options: LmChannelOptions = {}): Promise<LmChannelResult> {
  const { config } = demo;
  const sets = references.sets;
  const domains = sets.domains;
  const T = domains.length;
  const step = options.onStep ?? (() => undefined);
  const candidates = options.candidates ?? LM_CHANNEL_CANDIDATES;
  const clusterings = options.clusterings ?? CLUSTERING_METHODS;
  const fixedK = options.K ?? 'validation';
  if (candidates.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'Channel Merging on the LM demo needs at least one candidate group method.');
  if (fixedK !== 'validation' && !(Number.isInteger(fixedK) && fixedK >= 1 && fixedK <= T)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `K for the Channel Merging rows must be 1..${T} or "validation"; got ${fixedK}.`);
  const kTarget = options.kTarget ?? DEFAULT_K_TARGET;

  step('channel router on the base');
  const base = await openLanguageModel({ label: 'base', config, tokenizer: byteTokenizer() }, demo.checkpoints.get('base')!);
  let features: { router: Float32Array; test: Float32Array; mixed: Float32Array };
  try {
    features = {
      router: await windowFeatures(config, base.weights, sets.router.flat()),
      test: await windowFeatures(config, base.weights, sets.test.flat()),
      mixed: await windowFeatures(config, base.weights, sets.mixed),
    };
  } finally {
    base.dispose();
  }
  const trained = await trainRouterOnSplit({ features: features.router, featureSize: config.hiddenSize, labels: labelsOf(sets.router), tasks: T }, options.router ?? {});
  const route = async (f: Float32Array, count: number) => routingWeights(await routerLogits(trained.router, f, count), T, options.routing ?? {});
  const testLabels = labelsOf(sets.test);
  const testWeights = await route(features.test, testLabels.length);
  const mixedWeights = await route(features.mixed, sets.mixed.length);
  const testRoutes = argmaxTasks(testWeights, T);
  const mixedRoutes = argmaxTasks(mixedWeights, T);
  const kept = trained.curve.find((e) => e.epoch === trained.bestEpoch);

  const source = checkpointSource(demo.checkpoints, 'base', domains);
  const planned = planTensors(source.tensors);
  const valFlat = sets.validation.flat();
  const valLabels = labelsOf(sets.validation);
  const score = (loss: (d: number) => LmLoss): LmChannelScore => {
    const perDomain = domains.map((domain, d) => {
      const l = loss(d);
      return { domain, loss: l, gain: normalizedGain(references.loss('base', 'test', d).loss, l.loss, references.loss(domain, 'test', d).loss) };
    });
    return { perDomain, normalized: 100 * meanOf(perDomain.map((p) => p.gain)) };
  };

  const results: LmChannelClustering[] = [];
  for (const clustering of clusterings) {
    const builder = await modelBuilder(source, { clustering, ...(options.seed !== undefined ? { seed: options.seed } : {}) });
    const kSweep: LmChannelKPoint[] = [];
    const models = new Map<number, ChannelModel>();
    for (let K = 1; K <= T; K++) {
      let best: { point: LmChannelKPoint; model: ChannelModel } | undefined;
      // At K = T every group is one expert, kept whole: every candidate gives the experts.
      for (const candidate of K === T ? candidates.slice(0, 1) : candidates) {
        const resolved = resolveGroupMethod(candidate.method);
        step(`channel_merging ${clustering} K ${K} ${resolved.id} ${Object.entries(sweptParams(resolved)).map(([k, v]) => `${k} ${v}`).join(' ')} on validation`);
        const model = await builder.build(resolved, candidate.similarity, K);
        const [scores] = await scoreLookups(config, model, [{ windows: valFlat, task: valLabels }], { context: sets.context });
        const validation = 100 * meanOf(references.gains('validation', splitBy(scores!, sets.validation)));
        const storage = channelStorage(planned, T, K);
        const point = { K, groupMethod: resolved.id, similarity: candidate.similarity, params: sweptParams(resolved), validation, bytes: storage.packageBytes, ratio: storage.ratio };
        if (!best || validation > best.point.validation) best = { point, model };
      }
      kSweep.push(best!.point);
      models.set(K, best!.model);
    }
    const K = fixedK === 'validation' ? chooseK(kSweep, kTarget) : fixedK;
    const model = models.get(K)!;
    step(`channel_merging ${clustering} K ${K} on test`);
    const [oracle, routed, mixed] = await scoreLookups(config, model, [
      { windows: sets.test.flat(), task: testLabels },
      { windows: sets.test.flat(), task: testRoutes },
      { windows: sets.mixed, task: mixedRoutes },
    ], { context: sets.context });
    const oracleBy = splitBy(oracle!, sets.test);
    const routedBy = splitBy(routed!, sets.test);
    const at = kSweep[K - 1]!;
    results.push({
      clustering,
      K,
      kTarget: fixedK === 'validation' ? kTarget : null,
      groupMethod: at.groupMethod,
      params: at.params,
      kSweep,
      oracle: score((d) => lossOf(oracleBy[d]!, sets.test[d]!, true)),
      router: score((d) => lossOf(routedBy[d]!, sets.test[d]!, true)),
      mixed: lossOf(mixed!, sets.mixed, false),
    });
  }

  const rowOf = (c: LmChannelClustering, method: string, s: LmChannelScore): LmMethodRow => ({
    method,
    setting: c.kTarget !== null ? { kTarget: c.kTarget } : { K: c.K },
    clustering: c.clustering,
    groupMethod: c.groupMethod,
    params: { K: c.K, ...c.params },
    validation: c.kSweep[c.K - 1]!.validation,
    perTask: s.perDomain.map((p) => 100 * p.gain),
    normalized: s.normalized,
    bitsPerByte: s.perDomain.map((p) => p.loss.bitsPerByte),
  });
  return {
    domains,
    router: {
      architecture: trained.options.architecture,
      reads: "the mean of the base's final hidden states over the window's tokens",
      params: routerParameterCount(trained.router),
      epochs: trained.curve.length,
      bestEpoch: trained.bestEpoch,
      samples: trained.samples,
      heldOutAccuracy: kept?.validationAccuracy ?? null,
      testAccuracy: routingAccuracy(testWeights, testLabels, T),
      meanWeights: meanWeightsByTask(testWeights, testLabels, T),
    },
    mixed: {
      ids: sets.mixedIds,
      weights: sets.mixed.map((_, i) => Array.from(mixedWeights.subarray(i * T, (i + 1) * T))),
      meanLargestWeight: meanLargestWeight(mixedWeights, T),
      base: references.mixed('base'),
      experts: Object.fromEntries(domains.map((d) => [d, references.mixed(d)])),
    },
    clusterings: results,
    rows: results.flatMap((c) => [rowOf(c, 'channel_merging', c.router), rowOf(c, 'channel_merging_oracle', c.oracle)]),
  };
}
