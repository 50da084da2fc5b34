/**
 * Channel Merging's clustering step (spec "Channel Merging" 1–2): for each output channel of a
 * tensor, the T experts' task-vector rows are grouped by cosine similarity with average-linkage
 * agglomerative clustering. Everything here is plain float64 arithmetic over Float32Arrays, so the
 * same inputs give the same groups on every backend, browser and run.
 *
 * Conventions (documented in channel.json as `clustering`):
 * - distance = 1 − cos, cos clamped to [−1, 1]; a zero row has cos 0 (distance 1) to every
 *   nonzero row and distance 0 to another zero row (two tasks that left a channel untouched agree).
 * - average linkage (UPGMA) via the Lance–Williams update; the closest pair of clusters merges
 *   first, ties going to the pair whose lowest task indices are lexicographically smallest.
 * - groups are numbered in order of their lowest task index, so labels are canonical: task 0 is
 *   always in group 0, and the same partition always gets the same table.
 * The whole dendrogram is kept (T − 1 merges per channel), so every K from 1 to T is read off one
 * clustering pass: a K sweep costs one pass over the weights.
 */
import { MergeLabError } from '../../errors.js';

/** The largest task count an index table can hold as uint8 labels with room for the group count. */
export const MAX_TASKS = 255;

/** A tensor's rows: `channels` rows of `width` values each (1-D and 0-D tensors are one row). */
export function channelLayout(shape: readonly number[]): { readonly channels: number; readonly width: number } {
  const n = shape.reduce((a, b) => a * b, 1);
  // Output channels are the first dimension (torch's Linear/Conv layout); a vector is one channel.
  const channels = shape.length >= 2 ? shape[0]! : 1;
  return { channels, width: channels === 0 ? 0 : n / channels };
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
}

/**
 * Average-linkage dendrograms of every channel of one tensor, from the cosine distances of the
 * rows vectors[t][c]. One pass over the values: O(C · T² · width) multiply-adds, scratch O(T²).
 */
export function clusterChannels(input: ClusterInput): ChannelDendrograms {
  const T = input.vectors.length;
  checkTaskCount(T, input.tensorName);
  const { channels, width } = channelLayout(input.shape);
  const n = channels * width;
  for (const [t, v] of input.vectors.entries()) {
    if (v.length !== n) throw new MergeLabError('SHAPE_MISMATCH', `Tensor ${input.tensorName}: task ${t}'s vector has ${v.length} values, the shape [${input.shape.join(', ')}] ${n}; every expert must have the base's shape.`);
  }
  const merges = new Uint8Array(channels * Math.max(0, T - 1) * 2);
  const gram = new Float64Array(T * T);
  const dist = new Float64Array(T * T);
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
    cosineDistances(gram, T, dist);
    agglomerate(dist, T, merges, c * (T - 1) * 2);
  }
  return { tasks: T, channels, merges };
}

function checkTaskCount(T: number, tensorName: string): void {
  if (T < 1) throw new MergeLabError('TOO_FEW_MODELS', `Channel Merging of tensor ${tensorName} needs at least one expert.`);
  if (T > MAX_TASKS) throw new MergeLabError('TOO_MANY_MODELS', `Channel Merging stores group labels as uint8, so at most ${MAX_TASKS} experts; tensor ${tensorName} has ${T}. Merge fewer experts at once.`);
}

/** dist[p][q] = 1 − cos from the upper-triangular Gram matrix (zero-row convention above). */
function cosineDistances(gram: Float64Array, T: number, dist: Float64Array): void {
  for (let p = 0; p < T; p++) {
    dist[p * T + p] = 0;
    const np = gram[p * T + p]!;
    for (let q = p + 1; q < T; q++) {
      const nq = gram[q * T + q]!;
      let d: number;
      if (np === 0 && nq === 0) d = 0;
      else if (np === 0 || nq === 0) d = 1;
      else d = 1 - Math.min(1, Math.max(-1, gram[p * T + q]! / Math.sqrt(np * nq)));
      dist[p * T + q] = d;
      dist[q * T + p] = d;
    }
  }
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
