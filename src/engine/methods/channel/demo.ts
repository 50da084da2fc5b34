/**
 * Channel Merging on the embedded demo: the method table's rows `channel_merging_oracle` (each
 * sample looked up with its true task) and `channel_merging` (with the router's task), a K sweep
 * 1..T with storage, the assignment map of one tensor and sign conflicts within and across groups.
 *
 * For every K, the within-group method, its λ/density and the rows clustering compares (raw or
 * trimmed) are chosen on the validation split with oracle routing, then scored once on test, as
 * the method table does for the other methods. The router is trained on the validation split's
 * features and only then applied to test; it reads the BASE model's penultimate activations: the
 * base is the one model every configuration shares, so one router serves the whole sweep, and a
 * package user has it (channel.json names it) even though the package does not store it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Weights } from '../../demo/load.js';
import type { Architecture } from '../../demo/manifest.js';
import { architectureTensors } from '../../demo/manifest.js';
import { FULL_GRID, type DemoSession, type MethodRow, type SweepGrid } from '../../demo/method-table.js';
import { MergeLabError } from '../../errors.js';
import { serializeSafetensors } from '../../io/safetensors-writer.js';
import { argmaxTasks, routerLayout, routerLogits, routerParameterCount, routerTensors, trainRouterOnSplit, type EpochStats, type RouterOptions, type RouterWeights } from '../../router/index.js';
import type { OrderCache } from '../types.js';
import {
  clusteringVectors,
  electionView,
  mergeTensor,
  planTensors,
  publicMethod,
  tensorContext,
  type ChannelModel,
  type ChannelTensor,
  type Similarity,
} from './channel-merge.js';
import { DEFAULT_CLUSTERING, clusterChannels, type ChannelClustering, type ClusteringMethod } from './cluster.js';
import { DEFAULT_RANDOM_SEED } from '../../merge/seed.js';
import { assignmentMap, type AssignmentMap } from './assignment.js';
import { addPairCounts, emptyPairCounts, pairConflictRates, pairConflicts, randomPairConflicts, type PairConflictRates } from './conflicts.js';
import { createRandom } from '../../random.js';
import { tensorSeed } from '../../merge/seed.js';
import { resolveGroupMethod, type GroupMethodSpec, type ResolvedGroupMethod } from './group-method.js';
import { oracleRoutes, routedAccuracy, type RoutedScore, type Routes } from './lookup.js';
import { buildChannelPackage, type ChannelManifest, type ChannelPackageOptions } from './package.js';
import { weightsSource, type ChannelSource } from './source.js';
import { channelStorage, type ChannelStorage } from './storage.js';

/** One configuration tried at every K. */
export interface ChannelCandidate {
  readonly method: GroupMethodSpec;
  readonly similarity: Similarity;
}

/**
 * average; task arithmetic over λ; TIES over density × λ, clustering on raw and on trimmed rows
 * (trimmed rows are what TIES' election sees, so groups then gather rows that agree after the trim).
 */
export function defaultCandidates(grid: SweepGrid = FULL_GRID): ChannelCandidate[] {
  return [
    { method: { id: 'average' }, similarity: 'raw' },
    ...grid.lambda.map((lambda): ChannelCandidate => ({ method: { id: 'task_arithmetic', params: { lambda } }, similarity: 'raw' })),
    ...(['raw', 'trimmed'] as const).flatMap((similarity) =>
      grid.density.flatMap((density) => grid.lambda.map((lambda): ChannelCandidate => ({ method: { id: 'ties', params: { density, lambda } }, similarity }))),
    ),
  ];
}

/** A method-table row with what Channel Merging adds. */
export interface ChannelRow extends MethodRow {
  readonly clustering: ClusteringMethod;
  readonly groupMethod: string;
  readonly similarity: Similarity;
  readonly storage: ChannelStorage;
  /** For the routed row: the fraction of test samples routed to their own task. */
  readonly routingAccuracy?: number;
}

/** The best configuration at one K. */
export interface ChannelSweepRow {
  readonly K: number;
  readonly groupMethod: string;
  readonly similarity: Similarity;
  /** λ / density of the group method, when it has them. */
  readonly params: Readonly<Record<string, number>>;
  /** Oracle-routed normalized score on validation (what chose this configuration). */
  readonly validation: number;
  /** Oracle-routed test accuracy per task, percent. */
  readonly perTask: readonly number[];
  /** Oracle-routed normalized test score. */
  readonly normalized: number;
  /** Router-routed normalized test score (when a router was trained). */
  readonly routed?: number;
  readonly storage: ChannelStorage;
  /** Pairwise sign conflicts of the group method's view (trimmed for TIES), within vs across groups, and for random groupings of the same sizes. */
  readonly conflicts: PairConflictRates & { readonly random: PairConflictRates };
}

export interface ChannelDemo {
  readonly tasks: readonly string[];
  /** channel_merging_oracle, then channel_merging when a router was trained. */
  readonly rows: readonly ChannelRow[];
  /** One row per K = 1..T; storage's ratio without the router, `withRouter` with it. */
  readonly sweep: readonly ChannelSweepRow[];
  /** Of the first 2-D tensor (or `assignmentTensor`), at the rows' K and configuration. */
  readonly assignment: AssignmentMap;
  /** The rows' channel model (K and configuration of the rows), for buildChannelPackage. */
  readonly model: ChannelModel;
  readonly router?: {
    readonly features: string;
    readonly weights: RouterWeights;
    readonly params: number;
    readonly routingAccuracy: { readonly validation: number; readonly test: number };
    /** The router as trained, to share with another run on the same session. */
    readonly trained?: DemoRouter;
  };
}

export interface ChannelDemoOptions {
  /** λ and density values the default candidates sweep. Default FULL_GRID. */
  readonly grid?: SweepGrid;
  /** Configurations tried at every K (default: defaultCandidates(grid)). */
  readonly candidates?: readonly ChannelCandidate[];
  /**
   * K of the table rows and of the assignment map: a number, or 'validation' (the default): the
   * smallest K whose validation score reaches `kTarget` % of the best K's (see chooseK).
   */
  readonly K?: number | 'validation';
  /** For K 'validation': the share of the best K's validation score the chosen K must reach, in percent (default 95). */
  readonly kTarget?: number;
  /** Train the shared router (../../router) for the `channel_merging` row (default true), or use one already trained. */
  readonly router?: boolean | RouterOptions | DemoRouter;
  /** How rows are grouped (default k-means), and k-means' seed (default 42). */
  readonly clustering?: ClusteringMethod;
  readonly seed?: number;
  readonly assignmentTensor?: string;
  readonly onSweepRow?: (row: ChannelSweepRow) => void;
  readonly signal?: AbortSignal;
}

export async function channelDemo(s: DemoSession, options: ChannelDemoOptions = {}): Promise<ChannelDemo> {
  const arch = s.manifest.architecture;
  const tasks = s.tasks;
  const T = tasks.length;
  const fixedK = options.K ?? 'validation';
  if (fixedK !== 'validation' && (!Number.isInteger(fixedK) || fixedK < 1 || fixedK > T)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `K for the Channel Merging rows must be 1..${T} or "validation"; got ${fixedK}.`);
  const kTarget = options.kTarget ?? DEFAULT_K_TARGET;
  if (!(kTarget > 0 && kTarget <= 100)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `kTarget must be in (0, 100] percent of the best K's validation score; got ${kTarget}.`);
  const candidates = options.candidates ?? defaultCandidates(options.grid);
  if (candidates.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'Channel Merging on the demo needs at least one candidate configuration.');
  const shapes = architectureTensors(arch).map((t) => ({ name: t.name, shape: t.shape }));
  const source = weightsSource({ base: s.weights.base!, experts: tasks.map((t) => s.weights[t]!), tasks, shapes });
  const builder = await modelBuilder(source, { clustering: options.clustering, seed: options.seed });
  const oracle = { validation: oracleRoutes(tasks, s.sets.validation), test: oracleRoutes(tasks, s.sets.test) };
  const pct = (a: Readonly<Record<string, number>>) => tasks.map((t) => 100 * a[t]!);

  const router =
    options.router === false ? undefined : typeof options.router === 'object' && 'weights' in options.router ? options.router : await demoRouter(s, typeof options.router === 'object' ? options.router : {});
  // The package's storage leaves the router out of its ratio and counts it apart (withRouter).
  const planned = planTensors(shapes);
  const storageAt = (K: number) => channelStorage(planned, T, K, router ? { routerParams: router.params } : {});

  const sweep: ChannelSweepRow[] = [];
  const chosen = new Map<number, { model: ChannelModel; routed?: RoutedScore }>();
  for (let K = 1; K <= T; K++) {
    let best: { score: number; model: ChannelModel; resolved: ResolvedGroupMethod; candidate: ChannelCandidate } | undefined;
    for (const candidate of candidates) {
      if (options.signal?.aborted) throw new MergeLabError('CANCELLED', `Channel Merging demo cancelled at K = ${K}.`);
      const resolved = resolveGroupMethod(candidate.method);
      const model = await builder.build(resolved, candidate.similarity, K);
      const v = await routedAccuracy(arch, model, s.sets.validation, oracle.validation, s.scorer.expertAccuracies.validation);
      // Strictly greater: on a tie the earlier (simpler) candidate stays.
      if (!best || v.normalized! > best.score) best = { score: v.normalized!, model, resolved, candidate };
    }
    const test = await routedAccuracy(arch, best!.model, s.sets.test, oracle.test, s.scorer.expertAccuracies.test);
    const routed = router ? await routedAccuracy(arch, best!.model, s.sets.test, router.test, s.scorer.expertAccuracies.test) : undefined;
    const row: ChannelSweepRow = {
      K,
      groupMethod: best!.resolved.id,
      similarity: best!.candidate.similarity,
      params: sweptParams(best!.resolved),
      validation: best!.score,
      perTask: pct(test.accuracies),
      normalized: test.normalized!,
      ...(routed ? { routed: routed.normalized! } : {}),
      storage: storageAt(K),
      conflicts: builder.conflicts(best!.resolved, best!.model),
    };
    sweep.push(row);
    chosen.set(K, { model: best!.model, ...(routed ? { routed } : {}) });
    options.onSweepRow?.(row);
  }

  const rowsK = fixedK === 'validation' ? chooseK(sweep, kTarget) : fixedK;
  const at = sweep[rowsK - 1]!;
  const pick = chosen.get(rowsK)!;
  const kChoice: Record<string, number> = fixedK === 'validation' ? { kTarget } : {};
  const rowBase = { clustering: options.clustering ?? DEFAULT_CLUSTERING, groupMethod: at.groupMethod, similarity: at.similarity, storage: at.storage, params: { K: rowsK, ...kChoice, ...at.params } };
  const rows: ChannelRow[] = [{ method: 'channel_merging_oracle', perTask: at.perTask, normalized: at.normalized, ...rowBase }];
  if (router) {
    const routed = pick.routed!;
    rows.push({ method: 'channel_merging', perTask: pct(routed.accuracies), normalized: routed.normalized!, routingAccuracy: routed.routingAccuracy, ...rowBase });
  }
  const tensorName = options.assignmentTensor ?? shapes.find((x) => x.shape.length === 2)!.name;
  const tensor = pick.model.tensors.find((x) => x.name === tensorName);
  if (!tensor) throw new MergeLabError('TENSOR_NOT_FOUND', `The demo has no tensor "${tensorName}" to map; pick one of ${shapes.map((x) => x.name).join(', ')}.`);
  return {
    tasks,
    rows,
    sweep,
    assignment: assignmentMap(tensor, tasks, rowsK),
    model: pick.model,
    ...(router
      ? { router: { features: 'penultimate activations (hidden ReLU) of the base model', weights: router.weights, params: router.params, routingAccuracy: router.accuracy, trained: router } }
      : {}),
  };
}

/** The share of the best K's validation score the table's K must reach (percent), when K is chosen on validation. */
export const DEFAULT_K_TARGET = 95;

/**
 * The table's K, chosen on validation: more groups store more (K merged copies) and score higher on
 * validation (K = T is the experts themselves), so "the best K on validation" would always be T. The
 * rule is the smallest K whose oracle-routed validation score reaches kTarget % of the best K's —
 * the fewest groups that keep nearly all of what grouping can give. The rule is ours: what we could
 * read of the Channel Merging paper gives no rule for picking K.
 */
export function chooseK(sweep: readonly Pick<ChannelSweepRow, 'K' | 'validation'>[], kTarget: number): number {
  const best = Math.max(...sweep.map((r) => r.validation));
  const enough = sweep.filter((r) => r.validation >= (kTarget / 100) * best).sort((a, b) => a.K - b.K);
  return enough[0]!.K;
}

/** The rows' model as a package (router.safetensors included when the demo trained one). */
export function channelDemoPackage(demo: Pick<ChannelDemo, 'tasks' | 'model' | 'router'>, options: Omit<ChannelPackageOptions, 'router'> = {}): { files: Record<string, Uint8Array>; manifest: ChannelManifest } {
  const r = demo.router;
  return buildChannelPackage(demo.model, {
    ...options,
    ...(r
      ? { router: { bytes: serializeSafetensors(routerTensors(r.weights)), params: r.params, info: { features: r.features, layout: routerLayout(r.weights), tasks: demo.tasks, routingAccuracy: r.routingAccuracy } } }
      : {}),
  });
}

/** The λ / density a group method was resolved with (the sweep rows' params). */
export function sweptParams(r: ResolvedGroupMethod): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ['lambda', 'density'] as const) if (typeof r.params[k] === 'number') out[k] = r.params[k];
  return out;
}

/** The model builder of a source (see modelBuilder). */
export type ModelBuilder = Awaited<ReturnType<typeof modelBuilder>>;

/**
 * Builds channel models for many configurations from one read of the weights: task vectors once
 * per tensor, clusterings once per (tensor, rows compared), sort orders of |τ| once per tensor.
 * `clustering` and `seed` fix how rows are grouped (default k-means, seed 42).
 */
export async function modelBuilder(source: ChannelSource, grouping: { readonly clustering?: ClusteringMethod; readonly seed?: number } = {}) {
  const clustering = grouping.clustering ?? DEFAULT_CLUSTERING;
  const seed = grouping.seed ?? DEFAULT_RANDOM_SEED;
  const orderCache = mapCache();
  const plan = planTensors(source.tensors);
  const tensors = await Promise.all(
    plan.map(async (spec) => {
      const { base, experts } = await source.read(spec.name);
      const taus = tensorContext(source, spec.name, spec.shape, base, experts, resolveGroupMethod()).taus();
      return { spec, base, experts, taus };
    }),
  );
  const clusterings = new Map<string, ChannelClustering>();
  const contexts = (resolved: ResolvedGroupMethod) =>
    tensors.map((t) => tensorContext(source, t.spec.name, t.spec.shape, t.base, t.experts, resolved, { taus: t.taus, orderCache, channels: t.spec.channels, randomSeed: seed }));
  const inSourceOrder = <T extends { readonly name: string }>(xs: readonly T[]) => source.tensors.map((t) => xs.find((x) => x.name === t.name)!);
  return {
    async build(resolved: ResolvedGroupMethod, similarity: Similarity, K: number): Promise<ChannelModel> {
      const out: ChannelTensor[] = [];
      const ctxs = contexts(resolved);
      for (const [i, ctx] of ctxs.entries()) {
        // Trimmed rows depend on the trim (per-model settings, rescale), not on λ; raw rows on nothing.
        const trim = JSON.stringify([resolved.id, resolved.perModel, resolved.global.rescale ?? null]);
        const keyOf = (name: string) => `${name}\u0000${similarity === 'raw' ? 'raw' : trim}`;
        const owner = plan[i]!.owner;
        let c = clusterings.get(keyOf(owner ?? ctx.tensorName));
        if (!c) {
          // planTensors puts an owner before its followers, so only owners and lone tensors get here.
          c = clusterChannels({ tensorName: ctx.tensorName, shape: ctx.shape, vectors: clusteringVectors(ctx, similarity) }, { method: clustering, seed });
          clusterings.set(keyOf(ctx.tensorName), c);
        }
        out.push(await mergeTensor(ctx, c, K));
      }
      return { tasks: source.tasks, baseName: source.baseName, K, method: publicMethod(resolved), similarity, clustering, seed, tensors: inSourceOrder(out) };
    },
    /** Pairwise sign conflicts within and across the model's groups, and for random groupings of the same sizes. */
    conflicts(resolved: ResolvedGroupMethod, model: ChannelModel): PairConflictRates & { readonly random: PairConflictRates } {
      const counts = emptyPairCounts();
      const random = emptyPairCounts();
      for (const ctx of contexts(resolved)) {
        const t = model.tensors.find((x) => x.name === ctx.tensorName)!;
        const view = electionView(ctx);
        addPairCounts(counts, pairConflicts(view, t.index, ctx.shape, t.channels));
        // Seeded per tensor and K, so the baseline is the same whatever else was asked before.
        addPairCounts(random, randomPairConflicts(view, t.index, ctx.shape, t.channels, createRandom(tensorSeed(seed + model.K, `random groups ${ctx.tensorName}`))));
      }
      return { ...pairConflictRates(counts), random: pairConflictRates(random) };
    },
  };
}

/** An OrderCache over a plain Map. */
export function mapCache(): OrderCache {
  const m = new Map<string, Int32Array>();
  return { get: (k) => m.get(k), set: (k, v) => void m.set(k, v) };
}

/** A router trained on the demo's base features, with its routes on both splits. */
export interface DemoRouter {
  readonly weights: RouterWeights;
  readonly params: number;
  readonly test: Routes;
  readonly validation: Routes;
  /** Routing accuracy on the whole validation split (three quarters of it trained on) and on test. */
  readonly accuracy: { readonly validation: number; readonly test: number };
  readonly curve: readonly EpochStats[];
  readonly bestEpoch: number;
  readonly options: Required<RouterOptions>;
}

/** The shared router (../../router) trained on the base's features of the validation split (every 4th sample per task held out for its curve and early stopping). */
export async function demoRouter(
  s: DemoSession,
  options: RouterOptions,
): Promise<DemoRouter> {
  const arch = s.manifest.architecture;
  const T = s.tasks.length;
  const split = async (name: 'validation' | 'test') => {
    const sets = s.tasks.map((t) => s.sets[name][t]!);
    const count = sets.reduce((n, x) => n + x.count, 0);
    const features = await penultimateFeatures(arch, s.weights.base!, sets.map((x) => x.inputs), count);
    const labels = new Int32Array(count);
    let at = 0;
    sets.forEach((x, t) => labels.fill(t, at, (at += x.count)));
    return { sets, count, features, labels };
  };
  const v = await split('validation');
  const width = v.count ? v.features.length / v.count : 0;
  const trained = await trainRouterOnSplit({ features: v.features, featureSize: width, labels: v.labels, tasks: T }, options);
  const router = trained.router;
  const routesOf = async (x: Awaited<ReturnType<typeof split>>) => {
    const chosen = argmaxTasks(await routerLogits(router, x.features, x.count), T);
    let right = 0;
    for (let i = 0; i < x.count; i++) if (chosen[i] === x.labels[i]) right++;
    let at = 0;
    const routes = Object.fromEntries(s.tasks.map((t, i) => [t, chosen.slice(at, (at += x.sets[i]!.count))]));
    return { routes, accuracy: x.count ? right / x.count : 0 };
  };
  const val = await routesOf(v);
  const test = await routesOf(await split('test'));
  return {
    weights: router,
    params: routerParameterCount(router),
    test: test.routes,
    validation: val.routes,
    accuracy: { validation: val.accuracy, test: test.accuracy },
    curve: trained.curve,
    bestEpoch: trained.bestEpoch,
    options: trained.options,
  };
}

/**
 * The activations feeding the last layer (the demo MLP's hidden ReLU), count × width. The same
 * features as Twin-Merging's sharedFeatures, computed from plain weights here.
 */
export async function penultimateFeatures(arch: Architecture, weights: Weights, inputs: readonly Float32Array[], count: number): Promise<Float32Array> {
  if (arch.layers.length < 2) throw new MergeLabError('PARAMETER_INVALID', 'The router reads penultimate activations; a one-layer model has none.');
  const size = arch.input.height * arch.input.width;
  const all = new Float32Array(count * size);
  let at = 0;
  for (const x of inputs) {
    all.set(x.subarray(0, Math.min(x.length, all.length - at)), at);
    at += x.length;
  }
  const h = tf.tidy(() => {
    let a = tf.mul(tf.tensor2d(all, [count, size]), arch.input.scale) as tf.Tensor2D;
    for (const l of arch.layers.slice(0, -1)) {
      const w = tf.transpose(tf.tensor2d(weights[l.weight]!, [l.outputs, l.inputs]));
      const z = tf.add(tf.matMul(a, w), tf.tensor1d(weights[l.bias]!)) as tf.Tensor2D;
      a = l.activation === 'relu' ? tf.relu(z) : z;
    }
    return a;
  });
  try {
    return Float32Array.from((await h.data()) as Float32Array);
  } finally {
    h.dispose();
  }
}
