/**
 * Channel Merging's grouping step (spec "Channel Merging" 1–2): for each output channel of a
 * tensor, the T experts' task-vector rows are put into K groups by how similar they are. Two ways,
 * both plain float64 arithmetic over Float32Arrays, so the same inputs (and seed) give the same
 * groups on every backend, browser and run:
 *
 * - 'kmeans' (the default): k-means of the rows by direction, per channel and per K (kmeans.ts),
 *   seeded from the recipe's random_seed and the tensor's name. The paper clusters each channel's
 *   delta parameters into K groups by similarity; that it is k-means over unit rows is our reading.
 * - 'average_linkage': agglomerative clustering on the cosine distance, average linkage (UPGMA) via
 *   the Lance–Williams update, the closest pair first, ties to the pair whose lowest task indices
 *   are lexicographically smallest. The whole dendrogram is kept (T − 1 merges per channel), so
 *   every K from 1 to T is read off one pass. Our first reconstruction, kept as an option.
 *
 * Shared conventions (channel.json records them as `clustering`): a zero row has cosine 0 to every
 * nonzero row and agrees fully with another zero row; groups are numbered in order of their lowest
 * task index, so task 0 is always in group 0 and one partition always gets one table.
 * A tensor's rows are its output channels (its first dimension); a vector is one channel unless the
 * caller says it has one channel per element (a bias that follows its weight's rows).
 */
import { MergeLabError } from '../../errors.js';
import { tensorSeed } from '../../merge/seed.js';
import { createRandom } from '../../random.js';
import { CLUSTERING_CHOICES } from './clustering-names.js';
import { cosineMatrix, kmeansLabels } from './kmeans.js';

/** How each channel's rows are grouped (see the file header). */
export type ClusteringMethod = (typeof CLUSTERING_CHOICES)[number];
export const CLUSTERING_METHODS: readonly ClusteringMethod[] = CLUSTERING_CHOICES;
export const DEFAULT_CLUSTERING: ClusteringMethod = 'kmeans';

/** The largest task count an index table can hold as uint8 labels with room for the group count. */
export const MAX_TASKS = 255;

/**
 * A tensor's rows: `channels` rows of `width` values each. By default output channels are the first
 * dimension (torch's Linear/Conv layout) and a vector is one channel; `channels` overrides it (a
 * bias given one channel per element, to follow its weight's rows).
 */
export function channelLayout(shape: readonly number[], channels?: number): { readonly channels: number; readonly width: number } {
  const n = shape.reduce((a, b) => a * b, 1);
  const C = channels ?? (shape.length >= 2 ? shape[0]! : 1);
  return { channels: C, width: C === 0 ? 0 : n / C };
}

/**
 * The 2-D tensor whose rows a 1-D tensor's elements belong to: "X.bias" follows "X.weight" when that
 * has as many rows as the bias has elements (torch's Linear and Conv layouts). Norms and biases
 * without such a weight have none and stay one channel.
 */
export function outputChannelOwner(name: string, shape: readonly number[], shapeOf: (name: string) => readonly number[] | undefined): string | undefined {
  if (shape.length !== 1 || !/(^|\.)bias$/.test(name)) return undefined;
  const owner = name.replace(/bias$/, 'weight');
  const s = shapeOf(owner);
  return s && s.length >= 2 && s[0] === shape[0] ? owner : undefined;
}

/** A channel grouping of one tensor: the index table for any K from 1 to T. */
export interface ChannelClustering {
  readonly method: ClusteringMethod;
  readonly tasks: number;
  readonly channels: number;
  /** idx[t · channels + c] ∈ [0, K), groups numbered by their lowest task. Throws PARAMETER_OUT_OF_RANGE for K outside 1..T. */
  table(K: number, where?: string): Uint8Array;
}

export interface ClusterOptions {
  /** Default 'kmeans'. */
  readonly method?: ClusteringMethod;
  /** k-means' seed: the recipe's random_seed (mixed with the tensor's name). Default 42. */
  readonly seed?: number;
}

/**
 * Groups every channel of one tensor (see the file header). One pass over the values,
 * O(C · T² · width) multiply-adds; k-means then works on T × T cosines per channel and K, on demand.
 */
export function clusterChannels(input: ClusterInput, options: ClusterOptions = {}): ChannelClustering {
  const method = options.method ?? DEFAULT_CLUSTERING;
  if (!CLUSTERING_METHODS.includes(method)) {
    throw new MergeLabError('PARAMETER_INVALID', `Channel Merging's clustering must be ${CLUSTERING_METHODS.join(' or ')}, not "${String(method)}".`);
  }
  const T = input.vectors.length;
  const cos = channelCosines(input);
  const C = cos.length / Math.max(1, T * T);
  if (method === 'average_linkage') {
    const d = dendrogramsFromCosines(cos, T, T === 0 ? 0 : C);
    return { method, tasks: T, channels: d.channels, table: (K, where) => groupTable(d, K, where ?? `tensor ${input.tensorName}`) };
  }
  const seed = tensorSeed(options.seed ?? 42, input.tensorName);
  const tables = new Map<number, Uint8Array>();
  return {
    method,
    tasks: T,
    channels: C,
    table(K, where) {
      checkGroupCount(K, T, where ?? `tensor ${input.tensorName}`);
      let table = tables.get(K);
      if (!table) {
        // One stream per K, so a table does not depend on which other Ks were asked for first.
        const random = createRandom((seed ^ Math.imul(K, 0x9e3779b1)) >>> 0);
        table = new Uint8Array(T * C);
        for (let c = 0; c < C; c++) kmeansLabels(cos.subarray(c * T * T, (c + 1) * T * T), T, K, random, table, c, C);
        tables.set(K, table);
      }
      return table;
    },
  };
}

/** Dendrograms of every channel of one tensor: for channel c, merge s joined the clusters led by tasks `a` and `b` (a < b). */
export interface ChannelDendrograms {
  readonly tasks: number;
  readonly channels: number;
  /** [channels × (tasks − 1) × 2]: the lowest task index of each of the two clusters merged at each step. */
  readonly merges: Uint8Array;
}

export interface ClusterInput {
  readonly tensorName: string;
  readonly shape: readonly number[];
  /**
   * One vector per task, in task order, flattened like the tensor: the task vectors τt = θt − θ0,
   * or what a method's election sees (trimmed, weighted) when clustering on trimmed rows.
   */
  readonly vectors: readonly Float32Array[];
  /** Rows to group, when not the tensor's first dimension (see channelLayout). */
  readonly channels?: number;
}

/**
 * The cosine matrix (T × T, full) of every channel's rows vectors[t][c], channels one after the
 * other. One pass over the values: O(C · T² · width) multiply-adds.
 */
export function channelCosines(input: ClusterInput): Float64Array {
  const T = input.vectors.length;
  checkTaskCount(T, input.tensorName);
  const { channels, width } = channelLayout(input.shape, input.channels);
  const n = channels * width;
  if (!Number.isInteger(width)) throw new MergeLabError('SHAPE_MISMATCH', `Tensor ${input.tensorName}: [${input.shape.join(', ')}] cannot be cut into ${channels} channels.`);
  for (const [t, v] of input.vectors.entries()) {
    if (v.length !== n) throw new MergeLabError('SHAPE_MISMATCH', `Tensor ${input.tensorName}: task ${t}'s vector has ${v.length} values, the shape [${input.shape.join(', ')}] ${n}; every expert must have the base's shape.`);
  }
  const out = new Float64Array(channels * T * T);
  const gram = new Float64Array(T * T);
  const row = new Float64Array(T);
  const vs = input.vectors;
  for (let c = 0; c < channels; c++) {
    gram.fill(0);
    const from = c * width;
    for (let j = from; j < from + width; j++) {
      for (let t = 0; t < T; t++) row[t] = vs[t]![j]!;
      // Upper triangle with the diagonal (the squared norms); zeros add nothing and are common after a trim.
      for (let p = 0; p < T; p++) {
        const x = row[p]!;
        if (x === 0) continue;
        for (let q = p; q < T; q++) gram[p * T + q]! += x * row[q]!;
      }
    }
    cosineMatrix(gram, T, out.subarray(c * T * T, (c + 1) * T * T));
  }
  return out;
}

/** Average-linkage dendrograms of every channel from its cosine matrix (cosine distance 1 − cos). */
export function dendrogramsFromCosines(cos: Float64Array, T: number, channels: number): ChannelDendrograms {
  const merges = new Uint8Array(channels * Math.max(0, T - 1) * 2);
  const dist = new Float64Array(T * T);
  for (let c = 0; c < channels; c++) {
    const g = cos.subarray(c * T * T, (c + 1) * T * T);
    for (let p = 0; p < T; p++) {
      dist[p * T + p] = 0;
      for (let q = p + 1; q < T; q++) {
        // Two zero rows agree (distance 0); a zero row is at 1 from every other row.
        const d = g[p * T + p] === 0 && g[q * T + q] === 0 ? 0 : 1 - g[p * T + q]!;
        dist[p * T + q] = d;
        dist[q * T + p] = d;
      }
    }
    agglomerate(dist, T, merges, c * (T - 1) * 2);
  }
  return { tasks: T, channels, merges };
}

function checkTaskCount(T: number, tensorName: string): void {
  if (T < 1) throw new MergeLabError('TOO_FEW_MODELS', `Channel Merging of tensor ${tensorName} needs at least one expert.`);
  if (T > MAX_TASKS) throw new MergeLabError('TOO_MANY_MODELS', `Channel Merging stores group labels as uint8, so at most ${MAX_TASKS} experts; tensor ${tensorName} has ${T}. Merge fewer experts at once.`);
}

/**
 * Average-linkage agglomeration of T items down to one cluster, writing each step's pair of
 * cluster leaders (lowest member index) into `out` at `at`. `dist` is overwritten.
 * Scanning leaders in increasing order and replacing the best only on a strictly smaller distance
 * is what breaks ties by task order.
 */
export function agglomerate(dist: Float64Array, T: number, out: Uint8Array, at = 0): void {
  const size = new Int32Array(T).fill(1);
  const alive = new Uint8Array(T).fill(1);
  for (let step = 0; step < T - 1; step++) {
    let best = Infinity;
    let ba = -1;
    let bb = -1;
    for (let a = 0; a < T; a++) {
      if (!alive[a]) continue;
      for (let b = a + 1; b < T; b++) {
        if (!alive[b]) continue;
        const d = dist[a * T + b]!;
        if (d < best) {
          best = d;
          ba = a;
          bb = b;
        }
      }
    }
    // NaN distances cannot occur (norms are finite sums of float32 squares); -1 would mean a bug.
    if (ba < 0) throw new MergeLabError('INTERNAL', 'Channel clustering found no pair to merge.');
    out[at + step * 2] = ba;
    out[at + step * 2 + 1] = bb;
    const sa = size[ba]!;
    const sb = size[bb]!;
    for (let x = 0; x < T; x++) {
      if (!alive[x] || x === ba || x === bb) continue;
      // Lance–Williams for UPGMA: the size-weighted mean keeps d(A∪B, X) the mean over member pairs.
      const d = (sa * dist[ba * T + x]! + sb * dist[bb * T + x]!) / (sa + sb);
      dist[ba * T + x] = d;
      dist[x * T + ba] = d;
    }
    size[ba] = sa + sb;
    alive[bb] = 0;
  }
}

/**
 * The index table for K groups: idx[t · C + c] ∈ [0, K), groups numbered by their lowest task.
 * Throws PARAMETER_OUT_OF_RANGE for K outside 1..T.
 */
export function groupTable(d: ChannelDendrograms, K: number, tensorName = 'this tensor'): Uint8Array {
  const T = d.tasks;
  checkGroupCount(K, T, tensorName);
  const C = d.channels;
  const table = new Uint8Array(T * C);
  const leader = new Uint8Array(T);
  const label = new Int16Array(T);
  for (let c = 0; c < C; c++) {
    for (let t = 0; t < T; t++) leader[t] = t;
    const at = c * (T - 1) * 2;
    for (let s = 0; s < T - K; s++) {
      const a = d.merges[at + s * 2]!;
      const b = d.merges[at + s * 2 + 1]!;
      // Merges name leaders, and a leader stays the lowest index of its cluster, so relabel b's members.
      for (let t = 0; t < T; t++) if (leader[t] === b) leader[t] = a;
    }
    label.fill(-1);
    let next = 0;
    for (let t = 0; t < T; t++) {
      const l = leader[t]!;
      if (label[l] === -1) label[l] = next++;
      table[t * C + c] = label[l]!;
    }
  }
  return table;
}

export function checkGroupCount(K: number, T: number, where: string): void {
  if (!Number.isInteger(K) || K < 1 || K > T) {
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Channel Merging's group count K must be an integer from 1 to the number of experts (${T}); got ${K} for ${where}.`);
  }
}

/** Members of group g at channel c, in task order. */
export function groupMembers(table: Uint8Array, T: number, C: number, c: number, g: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < T; t++) if (table[t * C + c] === g) out.push(t);
  return out;
}
