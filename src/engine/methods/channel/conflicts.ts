/**
 * Why Channel Merging works, as a number: sign conflicts between tasks that share a group against
 * tasks in different groups. Pairwise, so the two rates are comparable whatever the group sizes:
 * over every channel c, entry e of its row and task pair i < j with u_i[e] ≠ 0 and u_j[e] ≠ 0,
 * the pair conflicts when the signs differ; it counts as "within" when idx[i][c] = idx[j][c], else
 * "across". u are the vectors the group method's election sees (TIES family: trimmed over the whole
 * tensor, weighted — diagnostics' electionVectors), or the raw task vectors for other methods.
 * The whole-tensor rate (spec "Diagnostics") counts entries, not pairs; this one counts pairs.
 */
import { channelLayout } from './cluster.js';

/** Raw counts, so tensors and the whole model pool as ratios of sums. */
export interface PairConflictCounts {
  withinPairs: number;
  withinConflicts: number;
  acrossPairs: number;
  acrossConflicts: number;
}

export interface PairConflictRates {
  /** withinConflicts / withinPairs; null when no pair shares a group (K = T). */
  readonly within: number | null;
  /** acrossConflicts / acrossPairs; null when no pair is split (K = 1). */
  readonly across: number | null;
  /** Over all pairs, grouping ignored (the rate merging every expert at once faces). */
  readonly all: number | null;
  readonly withinPairs: number;
  readonly acrossPairs: number;
}

export function emptyPairCounts(): PairConflictCounts {
  return { withinPairs: 0, withinConflicts: 0, acrossPairs: 0, acrossConflicts: 0 };
}

export function addPairCounts(into: PairConflictCounts, c: PairConflictCounts): PairConflictCounts {
  into.withinPairs += c.withinPairs;
  into.withinConflicts += c.withinConflicts;
  into.acrossPairs += c.acrossPairs;
  into.acrossConflicts += c.acrossConflicts;
  return into;
}

export function pairConflictRates(c: PairConflictCounts): PairConflictRates {
  const pairs = c.withinPairs + c.acrossPairs;
  return {
    within: c.withinPairs > 0 ? c.withinConflicts / c.withinPairs : null,
    across: c.acrossPairs > 0 ? c.acrossConflicts / c.acrossPairs : null,
    all: pairs > 0 ? (c.withinConflicts + c.acrossConflicts) / pairs : null,
    withinPairs: c.withinPairs,
    acrossPairs: c.acrossPairs,
  };
}

/** Pair counts of one tensor for its index table idx[t · C + c] (C: `channels`, by default the tensor's first dimension). */
export function pairConflicts(vectors: readonly Float32Array[], table: Uint8Array, shape: readonly number[], channels?: number): PairConflictCounts {
  const T = vectors.length;
  const { channels: C, width } = channelLayout(shape, channels);
  const counts = emptyPairCounts();
  const sign = new Int8Array(T);
  const same = new Uint8Array(T * T);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) same[i * T + j] = table[i * C + c] === table[j * C + c] ? 1 : 0;
    for (let e = c * width; e < (c + 1) * width; e++) {
      let nonzero = 0;
      for (let t = 0; t < T; t++) {
        const x = vectors[t]![e]!;
        sign[t] = x > 0 ? 1 : x < 0 ? -1 : 0;
        if (sign[t]) nonzero++;
      }
      if (nonzero < 2) continue;
      for (let i = 0; i < T; i++) {
        const si = sign[i]!;
        if (!si) continue;
        for (let j = i + 1; j < T; j++) {
          const sj = sign[j]!;
          if (!sj) continue;
          const conflict = si !== sj ? 1 : 0;
          if (same[i * T + j]) {
            counts.withinPairs++;
            counts.withinConflicts += conflict;
          } else {
            counts.acrossPairs++;
            counts.acrossConflicts += conflict;
          }
        }
      }
    }
  }
  return counts;
}

/** Random groupings drawn per channel for the baseline. */
export const RANDOM_DRAWS = 8;

/**
 * The same counts for random groupings of the same sizes: per channel, the tasks' labels are
 * shuffled (so each group keeps its size, only who is in it changes), `draws` times from a seeded
 * generator, counts summed. Grouping by similarity only helps if its within-group rate is below
 * this one's: a random split of the same sizes has, in expectation, the all-pairs rate within and
 * across alike.
 */
export function randomPairConflicts(vectors: readonly Float32Array[], table: Uint8Array, shape: readonly number[], channels: number | undefined, random: () => number, draws = RANDOM_DRAWS): PairConflictCounts {
  const T = vectors.length;
  const C = table.length / Math.max(1, T);
  const counts = emptyPairCounts();
  const shuffled = new Uint8Array(table.length);
  const labels = new Array<number>(T);
  for (let d = 0; d < draws; d++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < T; t++) labels[t] = table[t * C + c]!;
      for (let i = T - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [labels[i], labels[j]] = [labels[j]!, labels[i]!];
      }
      for (let t = 0; t < T; t++) shuffled[t * C + c] = labels[t]!;
    }
    addPairCounts(counts, pairConflicts(vectors, shuffled, shape, channels));
  }
  return counts;
}
