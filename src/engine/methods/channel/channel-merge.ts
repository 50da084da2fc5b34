/**
 * Channel Merging of a whole model (spec "Channel Merging", seed paper arXiv 2412.15283; no public
 * code, this is our reconstruction): per tensor, group the experts' task-vector rows per output
 * channel into K groups (cluster.ts: k-means by default, average linkage as an option), merge each
 * group with the chosen method (group-merge.ts), and keep the K merged copies with a uint8 index
 * table. A bias follows its weight's rows element by element (cluster.ts' outputChannelOwner), so a
 * task's bias entry comes from the same group as the row it is added to. Also the K sweep for
 * checkpoints dropped without data: storage, per-task reconstruction error and sign conflicts for
 * every K, from one clustering pass per tensor.
 */
import { electionVectors } from '../../diagnostics/sign-conflict.js';
import { MergeLabError } from '../../errors.js';
import { DEFAULT_RANDOM_SEED, tensorSeed } from '../../merge/seed.js';
import type { OrderCache } from '../types.js';
import { assignmentMap, type AssignmentMap } from './assignment.js';
import { DEFAULT_CLUSTERING, channelLayout, checkGroupCount, clusterChannels, outputChannelOwner, type ChannelClustering, type ClusteringMethod } from './cluster.js';
import { addPairCounts, emptyPairCounts, pairConflictRates, pairConflicts, type PairConflictRates } from './conflicts.js';
import { resolveGroupMethod, type GroupMethodSpec, type ResolvedGroupMethod } from './group-method.js';
import { mergeGroups } from './group-merge.js';
import type { ChannelSource, ChannelTensorSpec } from './source.js';
import { channelStorage, type ChannelStorage } from './storage.js';

/**
 * What rows are compared when clustering. 'raw': the task vectors τt. 'trimmed': what the group
 * method's election sees — for the TIES family τt trimmed over the whole tensor (and weighted);
 * for methods without a trim and an election it is the same as 'raw'.
 */
export type Similarity = 'raw' | 'trimmed';

export interface ChannelTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /**
   * Rows of the index table's second dimension: shape[0] for ≥ 2-D tensors; for a bias that
   * follows its weight's rows, one per element; 1 for other vectors and scalars.
   */
  readonly channels: number;
  /** K full-weight copies, group g's values at [g·numel, (g+1)·numel); W_t[c] = groups[idx[t][c]][c]. */
  readonly groups: Float32Array;
  /** idx[t · channels + c] ∈ [0, K). */
  readonly index: Uint8Array;
}

export interface ChannelModel {
  readonly tasks: readonly string[];
  readonly baseName: string;
  readonly K: number;
  readonly method: { readonly id: string; readonly params: Readonly<Record<string, number | boolean>>; readonly singletons: 'expert' | 'method' };
  readonly similarity: Similarity;
  /** How rows were grouped, and k-means' seed (the recipe's random_seed). */
  readonly clustering: ClusteringMethod;
  readonly seed: number;
  readonly tensors: readonly ChannelTensor[];
}

export interface ChannelMergeOptions {
  /** Groups per channel, 1..T. */
  readonly K: number;
  /** Default { id: 'average' }. */
  readonly method?: GroupMethodSpec;
  /** Default 'raw'. */
  readonly similarity?: Similarity;
  /** Default 'kmeans'. */
  readonly clustering?: ClusteringMethod;
  /** Seeds DARE/DELLA masks and k-means (default 42). */
  readonly randomSeed?: number;
  readonly warn?: (message: string) => void;
  readonly orderCache?: OrderCache;
  /** After each tensor (progress). */
  readonly onTensor?: (name: string, done: number, total: number) => void;
  /** Stops between tensors with CANCELLED. */
  readonly signal?: AbortSignal;
}

/** Channel-merges every tensor of `source` into K groups. */
export async function channelMerge(source: ChannelSource, options: ChannelMergeOptions): Promise<ChannelModel> {
  const T = source.tasks.length;
  checkGroupCount(options.K, T, 'this merge');
  const method = resolveGroupMethod(options.method);
  const similarity = options.similarity ?? 'raw';
  const clustering = options.clustering ?? DEFAULT_CLUSTERING;
  const seed = options.randomSeed ?? DEFAULT_RANDOM_SEED;
  const tensors = await eachTensor(source, options.signal, 'Channel Merging', async (spec, base, experts, owner) => {
    const ctx = tensorContext(source, spec.name, spec.shape, base, experts, method, { ...options, channels: spec.channels });
    const c = owner ?? clusterChannels({ tensorName: spec.name, shape: spec.shape, vectors: clusteringVectors(ctx, similarity) }, { method: clustering, seed });
    const merged = await mergeTensor(ctx, c, options.K);
    return { result: merged, clustering: c };
  }, options.onTensor);
  return { tasks: source.tasks, baseName: source.baseName, K: options.K, method: publicMethod(method), similarity, clustering, seed, tensors };
}

/** A tensor to merge with the rows it is grouped by: its own, or (a bias) its weight's, one per element. */
export interface PlannedTensor extends ChannelTensorSpec {
  /** The 2-D tensor whose clustering this one follows. */
  readonly owner?: string;
  /** Index-table channels when not the default layout (a following bias: one per element). */
  readonly channels?: number;
}

/**
 * The source's tensors in working order: each weight before the biases that follow its rows
 * (outputChannelOwner), everything else as listed.
 */
export function planTensors(tensors: readonly ChannelTensorSpec[]): PlannedTensor[] {
  const shapes = new Map(tensors.map((t) => [t.name, t.shape]));
  const followers = new Map<string, PlannedTensor[]>();
  const planned = tensors.map((t): PlannedTensor => {
    const owner = outputChannelOwner(t.name, t.shape, (n) => shapes.get(n));
    if (!owner) return t;
    const p = { ...t, owner, channels: t.shape[0]! };
    followers.set(owner, [...(followers.get(owner) ?? []), p]);
    return p;
  });
  return planned.filter((t) => !t.owner).flatMap((t) => [t, ...(followers.get(t.name) ?? [])]);
}

/**
 * Runs `work` on every tensor of `source` in planTensors' order, handing a following bias its
 * weight's clustering (kept only until its followers are done), and returns the results in the
 * source's order. Checks `signal` between tensors.
 */
export async function eachTensor<R>(
  source: ChannelSource,
  signal: AbortSignal | undefined,
  what: string,
  work: (spec: PlannedTensor, base: Float32Array, experts: readonly Float32Array[], owner: ChannelClustering | undefined) => Promise<{ result: R; clustering: ChannelClustering }>,
  onTensor?: (name: string, done: number, total: number) => void,
): Promise<R[]> {
  const plan = planTensors(source.tensors);
  const waiting = new Map<string, number>();
  for (const p of plan) if (p.owner) waiting.set(p.owner, (waiting.get(p.owner) ?? 0) + 1);
  const kept = new Map<string, ChannelClustering>();
  const results = new Map<string, R>();
  for (const [i, spec] of plan.entries()) {
    if (signal?.aborted) throw new MergeLabError('CANCELLED', `${what} cancelled after ${i} of ${plan.length} tensors.`);
    const { base, experts } = await source.read(spec.name);
    const owner = spec.owner ? kept.get(spec.owner) : undefined;
    const { result, clustering } = await work(spec, base, experts, owner);
    results.set(spec.name, result);
    if (waiting.has(spec.name)) kept.set(spec.name, clustering);
    if (spec.owner) {
      const left = waiting.get(spec.owner)! - 1;
      waiting.set(spec.owner, left);
      if (left === 0) kept.delete(spec.owner);
    }
    onTensor?.(spec.name, i + 1, plan.length);
  }
  return source.tensors.map((t) => results.get(t.name)!);
}

/** One tensor's inputs with everything the steps below share. */
export interface TensorContext {
  readonly tensorName: string;
  readonly shape: readonly number[];
  /** Index-table channels when not the default layout (a bias following its weight's rows). */
  readonly channels?: number;
  readonly base: Float32Array;
  readonly experts: readonly Float32Array[];
  readonly taskNames: readonly string[];
  readonly baseName: string;
  readonly method: ResolvedGroupMethod;
  readonly randomSeed: number;
  readonly warn: (message: string) => void;
  readonly orderCache?: OrderCache;
  /** τt = θt − θ0 in float32, computed on first use. */
  taus(): readonly Float32Array[];
}

export function tensorContext(
  source: Pick<ChannelSource, 'tasks' | 'baseName'>,
  tensorName: string,
  shape: readonly number[],
  base: Float32Array,
  experts: readonly Float32Array[],
  method: ResolvedGroupMethod,
  options: Pick<ChannelMergeOptions, 'randomSeed' | 'warn' | 'orderCache'> & { readonly taus?: readonly Float32Array[]; readonly channels?: number } = {},
): TensorContext {
  let taus: readonly Float32Array[] | undefined = options.taus;
  return {
    tensorName,
    shape,
    ...(options.channels !== undefined ? { channels: options.channels } : {}),
    base,
    experts,
    taskNames: source.tasks,
    baseName: source.baseName,
    method,
    randomSeed: options.randomSeed ?? DEFAULT_RANDOM_SEED,
    warn: options.warn ?? (() => undefined),
    ...(options.orderCache ? { orderCache: options.orderCache } : {}),
    taus: () =>
      (taus ??= experts.map((e) => {
        const tau = new Float32Array(base.length);
        for (let j = 0; j < tau.length; j++) tau[j] = e[j]! - base[j]!;
        return tau;
      })),
  };
}

/**
 * The vectors the method's TIES election sees (trimmed over the whole tensor, weighted), through
 * diagnostics' electionVectors so charts and clustering use the merge's own trims; the raw τ for
 * methods without an election.
 */
export function electionView(ctx: TensorContext): readonly Float32Array[] {
  if (!ctx.method.method) return ctx.taus();
  return electionVectors({
    method: ctx.method.id,
    tensorName: ctx.tensorName,
    shape: ctx.shape,
    taus: ctx.taus().map((tau, t) => ({ model: ctx.taskNames[t]!, tau, params: ctx.method.perModel })),
    global: ctx.method.global,
    seed: tensorSeed(ctx.randomSeed, ctx.tensorName),
    warn: ctx.warn,
    ...(ctx.orderCache ? { orderCache: ctx.orderCache, cacheKey: (model: string) => `${ctx.tensorName}\u0000${model}\u0000${ctx.baseName}` } : {}),
  }).vectors;
}

export function clusteringVectors(ctx: TensorContext, similarity: Similarity): readonly Float32Array[] {
  return similarity === 'trimmed' ? electionView(ctx) : ctx.taus();
}

/** The K groups of one tensor from its clustering (or, for a following bias, its weight's). */
export async function mergeTensor(ctx: TensorContext, c: ChannelClustering, K: number): Promise<ChannelTensor> {
  const channels = channelLayout(ctx.shape, ctx.channels).channels;
  if (c.channels !== channels) {
    throw new MergeLabError('INTERNAL', `Tensor ${ctx.tensorName} has ${channels} channels but its clustering ${c.channels}.`);
  }
  const index = c.table(K, `tensor ${ctx.tensorName}`);
  const groups = await mergeGroups({
    tensorName: ctx.tensorName,
    shape: ctx.shape,
    channels,
    base: ctx.base,
    experts: ctx.experts,
    taskNames: ctx.taskNames,
    baseName: ctx.baseName,
    table: index,
    K,
    method: ctx.method,
    randomSeed: ctx.randomSeed,
    warn: ctx.warn,
    ...(ctx.orderCache ? { orderCache: ctx.orderCache } : {}),
  });
  return { name: ctx.tensorName, shape: ctx.shape, channels, groups, index };
}

export function publicMethod(m: ResolvedGroupMethod): ChannelModel['method'] {
  return { id: m.id, params: m.params, singletons: m.singletons };
}

/** One K of a sweep over checkpoints without data. */
export interface ChannelSweepPoint {
  readonly K: number;
  readonly storage: ChannelStorage;
  /**
   * Per task, ‖W_t − θ_t‖ / ‖θ_t − θ0‖ over the whole model (Frobenius, all tensors pooled):
   * 0 means task t's looked-up weights are its expert's; 1 means as far as the base is.
   */
  readonly reconstruction: readonly number[];
  readonly meanReconstruction: number;
  /** Sign conflicts between tasks sharing a group against tasks in different groups (conflicts.ts). */
  readonly conflicts: PairConflictRates;
  /** The groups of `assignmentTensor` at this K, when asked for. */
  readonly assignment?: AssignmentMap;
}

export interface ChannelSweep {
  readonly tasks: readonly string[];
  readonly method: ChannelModel['method'];
  readonly similarity: Similarity;
  readonly clustering: ClusteringMethod;
  readonly points: readonly ChannelSweepPoint[];
}

/**
 * Every K in `Ks` (default 1..T) from one clustering pass per tensor: what a user with checkpoints
 * but no data can judge K by. Memory: one tensor's inputs and K merged copies at a time.
 */
export async function channelSweep(
  source: ChannelSource,
  options: Omit<ChannelMergeOptions, 'K'> & { readonly Ks?: readonly number[]; readonly assignmentTensor?: string },
): Promise<ChannelSweep> {
  const T = source.tasks.length;
  const Ks = options.Ks ?? Array.from({ length: T }, (_, i) => i + 1);
  for (const K of Ks) checkGroupCount(K, T, 'the sweep');
  const method = resolveGroupMethod(options.method);
  const similarity = options.similarity ?? 'raw';
  const err = Ks.map(() => new Float64Array(T));
  const norm = new Float64Array(T);
  const conflicts = Ks.map(() => emptyPairCounts());
  const assignments: (AssignmentMap | undefined)[] = Ks.map(() => undefined);
  if (options.assignmentTensor !== undefined && !source.tensors.some((t) => t.name === options.assignmentTensor)) {
    throw new MergeLabError('TENSOR_NOT_FOUND', `No tensor "${options.assignmentTensor}" to map groups of; the models have ${source.tensors.slice(0, 5).map((t) => t.name).join(', ')}${source.tensors.length > 5 ? ', …' : ''}.`);
  }
  const clustering = options.clustering ?? DEFAULT_CLUSTERING;
  const seed = options.randomSeed ?? DEFAULT_RANDOM_SEED;
  const channelsOf = new Map<string, number>();
  await eachTensor(source, options.signal, 'Channel sweep', async (spec, base, experts, owner) => {
    const ctx = tensorContext(source, spec.name, spec.shape, base, experts, method, { ...options, channels: spec.channels });
    const d = owner ?? clusterChannels({ tensorName: spec.name, shape: spec.shape, vectors: clusteringVectors(ctx, similarity) }, { method: clustering, seed });
    const taus = ctx.taus();
    for (let t = 0; t < T; t++) norm[t]! += sumSquares(taus[t]!);
    const view = electionView(ctx);
    for (const [k, K] of Ks.entries()) {
      const merged = await mergeTensor(ctx, d, K);
      channelsOf.set(spec.name, merged.channels);
      for (let t = 0; t < T; t++) err[k]![t]! += reconstructionSquares(merged, t, experts[t]!);
      addPairCounts(conflicts[k]!, pairConflicts(view, merged.index, spec.shape, merged.channels));
      if (spec.name === options.assignmentTensor) assignments[k] = assignmentMap(merged, source.tasks, K);
    }
    return { result: undefined, clustering: d };
  }, options.onTensor);
  const points = Ks.map((K, k) => {
    const reconstruction = Array.from(err[k]!, (e, t) => (norm[t]! > 0 ? Math.sqrt(e / norm[t]!) : Math.sqrt(e) > 0 ? Infinity : 0));
    return {
      K,
      storage: channelStorage(source.tensors.map((t) => ({ shape: t.shape, channels: channelsOf.get(t.name) })), T, K),
      reconstruction,
      meanReconstruction: reconstruction.reduce((a, b) => a + b, 0) / T,
      conflicts: pairConflictRates(conflicts[k]!),
      ...(assignments[k] ? { assignment: assignments[k] } : {}),
    };
  });
  return { tasks: source.tasks, method: publicMethod(method), similarity, clustering, points };
}

function sumSquares(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return s;
}

/** Σ (W_t − θ_t)² over one tensor, W_t looked up through the table. */
function reconstructionSquares(m: ChannelTensor, t: number, expert: Float32Array): number {
  const n = expert.length;
  const width = m.channels === 0 ? 0 : n / m.channels;
  let s = 0;
  for (let c = 0; c < m.channels; c++) {
    const g = m.index[t * m.channels + c]!;
    const off = g * n;
    for (let j = c * width; j < (c + 1) * width; j++) {
      const d = m.groups[off + j]! - expert[j]!;
      s += d * d;
    }
  }
  return s;
}
