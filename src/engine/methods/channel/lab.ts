/**
 * Channel Merging in the lab: demo.ts's pieces with caches, so that the K slider is a lookup.
 *
 *   once per session            → task vectors and |τ| sort orders (demo.ts's modelBuilder, one per
 *   (and grouping)                grouping), and the router on the base's features (it serves
 *                                 every K and method)
 *   per group method + rows     → clusterings per tensor (in the builder), then for every K = 1..T
 *   compared (similarity)         the merged groups, their oracle- and router-routed scores on the
 *                                 split asked for (validation by default, test on request),
 *                                 storage, and sign conflicts within and across groups beside
 *                                 random groupings of the same sizes (~0.1 s per K)
 *
 * A method change computes the whole K sweep (the chart needs it; the requested K first); a K move
 * afterwards only reads the caches and cuts the assignment map of the chosen tensor. The numbers are
 * demo.ts's (channelDemo with that one candidate) at the same settings.
 */
import type { DemoSession } from '../../demo/method-table.js';
import { architectureTensors } from '../../demo/manifest.js';
import { MergeLabError } from '../../errors.js';
import { nextTask } from '../../next-task.js';
import type { CancelToken } from '../../merge/progress.js';
import { resolveRouterOptions, routerOptionsOf } from '../../router/train.js';
import type { EpochStats, RouterOptions } from '../../router/types.js';
import { LabCache } from '../twin/lab.js';
import { assignmentMap, type AssignmentMap } from './assignment.js';
import type { ChannelModel, Similarity } from './channel-merge.js';
import { CLUSTERING_METHODS, DEFAULT_CLUSTERING, checkGroupCount, type ClusteringMethod } from './cluster.js';
import { planTensors } from './channel-merge.js';
import type { PairConflictRates } from './conflicts.js';
import { channelDemoPackage, demoRouter, modelBuilder, sweptParams, type ModelBuilder } from './demo.js';
import { AVERAGE, resolveGroupMethod, type GroupMethodSpec } from './group-method.js';
import { oracleRoutes, routedAccuracies, routedAccuracy, type RoutedScore } from './lookup.js';
import type { ChannelManifest } from './package.js';
import { weightsSource } from './source.js';
import { channelStorage, type ChannelStorage } from './storage.js';

export interface ChannelLabSettings {
  /** Groups per channel, 1..T (default 2). */
  readonly K?: number;
  /** The within-group method (default average). */
  readonly method?: GroupMethodSpec;
  /** Rows compared when clustering (default raw task vectors). */
  readonly similarity?: Similarity;
  /** How rows are grouped (default k-means). */
  readonly clustering?: ClusteringMethod;
  /** The lab's headline score is the oracle's (true-task lookup). Both are always computed. */
  readonly oracle?: boolean;
  /** The tensor whose assignment map the view holds (default: the first 2-D one). */
  readonly tensor?: string;
  /** The router's training options. */
  readonly router?: RouterOptions;
  /** The split scored: 'validation' (the default, what sliders move on) or the held-out 'test'. */
  readonly split?: 'validation' | 'test';
}

/** Test accuracies of one routing, percent. */
export interface ChannelScore {
  readonly perTask: readonly number[];
  readonly normalized: number;
}

/** One K of the sweep at the view's method. */
export interface ChannelKPoint {
  readonly K: number;
  readonly oracle: ChannelScore;
  readonly routed: ChannelScore;
  /** The package at this K (storage.ts: its ratio leaves the router out; `withRouter` counts it). */
  readonly storage: ChannelStorage;
  /** Pairwise sign conflicts of the group method's view (trimmed for TIES), within vs across groups, and for random groupings of the same sizes. */
  readonly conflicts: ChannelConflicts;
}

/** Sign conflicts within and across the groups, and the same for random groupings of the same sizes. */
export type ChannelConflicts = PairConflictRates & { readonly random: PairConflictRates };

export interface ChannelView {
  readonly tasks: readonly string[];
  readonly settings: {
    readonly K: number;
    readonly method: { readonly id: string; readonly params: Readonly<Record<string, number>> };
    readonly similarity: Similarity;
    readonly clustering: ClusteringMethod;
    readonly oracle: boolean;
    readonly tensor: string;
    readonly split: 'validation' | 'test';
  };
  /** Each expert on its own task (the split scored, percent). */
  readonly expert: readonly number[];
  readonly oracle: ChannelScore;
  readonly routed: ChannelScore;
  /** The package at K: the same accounting merge-lab merge prints (router apart, in `withRouter`). */
  readonly storage: ChannelStorage;
  readonly conflicts: ChannelConflicts;
  /** K = 1..T; with `{ sweep: 'known' }`, only the Ks already worked out (see `sweepComplete`). */
  readonly sweep: readonly ChannelKPoint[];
  /** Whether `sweep` holds every K. */
  readonly sweepComplete: boolean;
  readonly assignment: AssignmentMap;
  /** Tensors the assignment map can show. */
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[]; readonly channels: number }[];
  readonly router: {
    readonly features: string;
    readonly params: number;
    readonly routingAccuracy: { readonly validation: number; readonly test: number };
    /** Its curve: per epoch, training and held-out loss and accuracy; the epoch kept. */
    readonly curve: readonly EpochStats[];
    readonly bestEpoch: number;
    readonly options: Required<RouterOptions>;
  };
  readonly milliseconds: number;
  readonly computed: readonly string[];
}

export interface ChannelViewOptions {
  /**
   * 'all' (default): the view waits for every K of the sweep. 'known': the view is out once the
   * chosen K is worked out, its sweep holding only the Ks already known; asking again with 'all'
   * fills the sweep in. A λ or density move costs one K first instead of T (each ~60 ms here).
   */
  readonly sweep?: 'all' | 'known';
}

export interface ChannelLab {
  view(settings: ChannelLabSettings, cancel?: CancelToken, options?: ChannelViewOptions): Promise<ChannelView>;
  /** The package's files at `settings` (router.safetensors included), as channelDemoPackage builds them. */
  package(settings: ChannelLabSettings, cancel?: CancelToken): Promise<{ files: Record<string, Uint8Array>; manifest: ChannelManifest }>;
}

interface KStage {
  readonly model: ChannelModel;
  readonly oracle: RoutedScore;
  readonly conflicts: ChannelConflicts;
}

const ROUTER_FEATURES = 'penultimate activations (hidden ReLU) of the base model';

export function createChannelLab(session: DemoSession): ChannelLab {
  const arch = session.manifest.architecture;
  const tasks = session.tasks;
  const T = tasks.length;
  const shapes = architectureTensors(arch).map((t) => ({ name: t.name, shape: t.shape }));
  // A bias that follows its weight has one channel per element (channel-merge.ts' planTensors).
  const planned = planTensors(shapes);
  const tensorList = shapes.map((t) => {
    const p = planned.find((x) => x.name === t.name)!;
    return { ...t, channels: p.channels ?? (t.shape.length >= 2 ? t.shape[0]! : 1) };
  });
  const oracleRoutesOf = { validation: oracleRoutes(tasks, session.sets.validation), test: oracleRoutes(tasks, session.sets.test) };
  const builders = new Map<ClusteringMethod, Promise<ModelBuilder>>();
  const routers = new LabCache<Awaited<ReturnType<typeof demoRouter>>>(2);
  const models = new LabCache<KStage>(3 * T);
  const routedCache = new LabCache<RoutedScore>(6 * T);

  const score = (r: RoutedScore): ChannelScore => ({ perTask: tasks.map((t) => 100 * r.accuracies[t]!), normalized: r.normalized! });

  async function stages(settings: ChannelLabSettings, cancel: CancelToken | undefined, computed: string[]) {
    const K = settings.K ?? Math.min(2, T);
    checkGroupCount(K, T, 'the lab');
    const resolved = resolveGroupMethod(settings.method ?? { id: AVERAGE });
    const similarity = settings.similarity ?? 'raw';
    if (similarity !== 'raw' && similarity !== 'trimmed') throw new MergeLabError('PARAMETER_INVALID', `Channel Merging compares rows "raw" or "trimmed", not "${String(similarity)}".`);
    const clustering = settings.clustering ?? DEFAULT_CLUSTERING;
    if (!CLUSTERING_METHODS.includes(clustering)) throw new MergeLabError('PARAMETER_INVALID', `Channel Merging groups rows by ${CLUSTERING_METHODS.join(' or ')}, not "${String(clustering)}".`);
    const routerOptions = resolveRouterOptions(settings.router);
    const split = settings.split ?? 'validation';
    if (split !== 'validation' && split !== 'test') throw new MergeLabError('PARAMETER_INVALID', `The lab scores the "validation" or the "test" split, not "${String(split)}".`);
    const sets = session.sets[split];
    const experts = session.scorer.expertAccuracies[split];
    const check = (what: string) => {
      if (cancel?.cancelled) throw new MergeLabError('CANCELLED', `Channel Merging request superseded before: ${what}.`);
    };
    let builder = builders.get(clustering);
    if (!builder) {
      computed.push('task vectors');
      const made = modelBuilder(weightsSource({ base: session.weights.base!, experts: tasks.map((t) => session.weights[t]!), tasks, shapes }), { clustering });
      builders.set(clustering, made);
      made.catch(() => builders.delete(clustering));
      builder = made;
    }
    const b = await builder;
    const routerKey = JSON.stringify(routerOptions);
    check('the router');
    const router = await routers.getOr(routerKey, () => demoRouter(session, routerOptionsOf(routerOptions)), computed, 'router');
    const methodKey = JSON.stringify([resolved.id, resolved.params, resolved.singletons, similarity, clustering, split]);
    const atK = async (k: number) => {
      const m = await models.getOr(
        `${methodKey}|${k}`,
        async () => {
          // ~60 ms of work per K: a newer request (latest wins) gets in first and stops this one.
          await nextTask();
          check(`K = ${k}`);
          const model = await b.build(resolved, similarity, k);
          // The router sends most samples where the oracle does: both scored in one pass.
          const [oracle, routed] = await routedAccuracies(arch, model, sets, [oracleRoutesOf[split], router[split]], experts);
          routedCache.set(`${methodKey}|${k}|${routerKey}`, routed!);
          computed.push(`router at K = ${k}`);
          return { model, oracle: oracle!, conflicts: b.conflicts(resolved, model) };
        },
        computed,
        `groups at K = ${k}`,
      );
      const routed = await routedCache.getOr(`${methodKey}|${k}|${routerKey}`, () => routedAccuracy(arch, m.model, sets, router[split], experts), computed, `router at K = ${k}`);
      return { ...m, routed };
    };
    /** K's stages if both are cached, else undefined (nothing is computed). */
    const knownAtK = (k: number) => {
      const m = models.get(`${methodKey}|${k}`);
      const routed = m && routedCache.get(`${methodKey}|${k}|${routerKey}`);
      return m && routed ? { ...m, routed } : undefined;
    };
    return { K, resolved, similarity, clustering, split, experts, router, atK, knownAtK };
  }

  return {
    async view(settings, cancel, options = {}) {
      const started = performance.now();
      const computed: string[] = [];
      const { K, resolved, similarity, clustering, split, experts, router, atK, knownAtK } = await stages(settings, cancel, computed);
      const current = await atK(K);
      const sweep: ChannelKPoint[] = [];
      for (let k = 1; k <= T; k++) {
        const p = k === K ? current : options.sweep === 'known' ? knownAtK(k) : await atK(k);
        if (!p) continue;
        sweep.push({
          K: k,
          oracle: score(p.oracle),
          routed: score(p.routed),
          storage: channelStorage(tensorList, T, k, { routerParams: router.params }),
          conflicts: p.conflicts,
        });
      }
      const tensorName = settings.tensor ?? shapes.find((x) => x.shape.length === 2)!.name;
      const tensor = current.model.tensors.find((x) => x.name === tensorName);
      if (!tensor) throw new MergeLabError('TENSOR_NOT_FOUND', `The demo has no tensor "${tensorName}" to map; pick one of ${shapes.map((x) => x.name).join(', ')}.`);
      return {
        tasks,
        settings: { K, method: { id: resolved.id, params: sweptParams(resolved) }, similarity, clustering, oracle: settings.oracle ?? false, tensor: tensorName, split },
        expert: tasks.map((t) => 100 * experts[t]!),
        oracle: score(current.oracle),
        routed: score(current.routed),
        storage: channelStorage(tensorList, T, K, { routerParams: router.params }),
        conflicts: current.conflicts,
        sweep,
        sweepComplete: sweep.length === T,
        assignment: assignmentMap(tensor, tasks, K),
        tensors: tensorList,
        router: { features: ROUTER_FEATURES, params: router.params, routingAccuracy: router.accuracy, curve: router.curve, bestEpoch: router.bestEpoch, options: router.options },
        milliseconds: performance.now() - started,
        computed,
      };
    },

    async package(settings, cancel) {
      const { K, router, atK } = await stages(settings, cancel, []);
      const { model } = await atK(K);
      return channelDemoPackage({ tasks, model, router: { features: ROUTER_FEATURES, weights: router.weights, params: router.params, routingAccuracy: router.accuracy } });
    },
  };
}
