/**
 * Channel Merging's merge step (spec "Channel Merging" 3): given the index table of a tensor,
 * merge the rows of each group's members into K full-weight copies G[g] (same shape as the
 * tensor), so that task t's weights are W_t[c] = G[idx[t][c]][c].
 *
 * Semantics within a group follow mergekit's method on the members only, and reuse its code:
 * - the method's `prepare` sees every expert's whole tensor once, so trims (TIES' top-k, DARE's
 *   masks, L1 rescale) are taken over the WHOLE tensor, exactly as when merging all experts;
 * - its `block` is then run once per group slot g with the experts that are not in g at a channel
 *   given the base's row there (τ = 0). A zero task vector has sign 0, so the TIES election, the
 *   disjoint mean's divisor and every sum see only the group's members, per entry.
 * The one thing a zero τ does not remove is the divisor of `normalize` without an election
 * (task_arithmetic / dare_linear with normalize: true divide by Σ w over ALL models): those rows
 * are rescaled by Σ_all w / Σ_members w afterwards. With K = 1 every row has all members and the
 * result is the registry method's own output, bit for bit.
 *
 * 'average' is the plain mean of the members' weights, summed in float32 in task order and
 * divided once, which is what `linear` with equal weights computes (tf.addN then a division).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_RANDOM_SEED, tensorSeed } from '../../merge/seed.js';
import type { ModelValues, OrderCache } from '../types.js';
import { channelLayout, checkGroupCount } from './cluster.js';
import { AVERAGE, type ResolvedGroupMethod } from './group-method.js';

export interface GroupMergeInput {
  readonly tensorName: string;
  readonly shape: readonly number[];
  /** Index-table channels when not the default layout (a bias following its weight's rows: one per element). */
  readonly channels?: number;
  readonly base: Float32Array;
  /** θt in task order. */
  readonly experts: readonly Float32Array[];
  /** Model names in task order (random streams and sort-order cache keys follow them). */
  readonly taskNames: readonly string[];
  /** The base's name, for sort-order cache keys. Default 'base'. */
  readonly baseName?: string;
  /** idx[t · C + c] ∈ [0, K). */
  readonly table: Uint8Array;
  readonly K: number;
  readonly method: ResolvedGroupMethod;
  /** random_seed for DARE/DELLA masks (default mergekit-lab's 42); the tensor's seed is derived as the runner does. */
  readonly randomSeed?: number;
  readonly warn?: (message: string) => void;
  /** Kept sort orders of |τ| (density sweeps then cost O(n) per model, not a sort). */
  readonly orderCache?: OrderCache;
  /** Largest block handed to tfjs at once, in elements (rounded down to whole rows). Default 2^20. */
  readonly maxBlockElements?: number;
}

/** The K merged copies of one tensor, group g's values at [g·n, (g+1)·n). */
export async function mergeGroups(input: GroupMergeInput): Promise<Float32Array> {
  const T = input.experts.length;
  checkGroupCount(input.K, T, `tensor ${input.tensorName}`);
  const n = input.base.length;
  const out = new Float32Array(input.K * n);
  if (input.method.id === AVERAGE || !input.method.method) averageGroups(input, out);
  else await methodGroups(input, out);
  if (input.method.singletons === 'expert') copySingletons(input, out);
  return out;
}

function averageGroups(input: GroupMergeInput, out: Float32Array): void {
  const { channels: C, width } = channelLayout(input.shape, input.channels);
  const T = input.experts.length;
  const n = input.base.length;
  const acc = new Float32Array(width);
  for (let c = 0; c < C; c++) {
    const from = c * width;
    for (let g = 0; g < input.K; g++) {
      let members = 0;
      for (let t = 0; t < T; t++) {
        if (input.table[t * C + c] !== g) continue;
        const row = input.experts[t]!.subarray(from, from + width);
        if (members === 0) acc.set(row);
        else for (let j = 0; j < width; j++) acc[j] = acc[j]! + row[j]!;
        members++;
      }
      const dest = out.subarray(g * n + from, g * n + from + width);
      for (let j = 0; j < width; j++) dest[j] = acc[j]! / members;
    }
  }
}

async function methodGroups(input: GroupMergeInput, out: Float32Array): Promise<void> {
  const r = input.method;
  const method = r.method!;
  const { channels: C, width } = channelLayout(input.shape, input.channels);
  const n = input.base.length;
  const baseName = input.baseName ?? 'base';
  // mergekit's order: the listed models, then the base appended (it is not listed).
  const models: ModelValues[] = [
    ...input.experts.map((values, t) => ({ model: input.taskNames[t] ?? `task${t}`, isBase: false, values, params: r.perModel })),
    { model: baseName, isBase: true, values: input.base, params: {} },
  ];
  const prepared = method.prepare({
    tensorName: input.tensorName,
    shape: input.shape,
    models,
    global: r.global,
    seed: tensorSeed(input.randomSeed ?? DEFAULT_RANDOM_SEED, input.tensorName),
    warn: input.warn ?? (() => undefined),
    ...(input.orderCache ? { orderCache: input.orderCache } : {}),
  });
  const rowsPerBlock = Math.max(1, Math.floor((input.maxBlockElements ?? 1 << 20) / Math.max(1, width)));
  const fix = !r.consensus && r.normalize ? divisorFix(input, C) : undefined;
  for (let g = 0; g < input.K; g++) {
    for (let r0 = 0; r0 < C; r0 += rowsPerBlock) {
      const r1 = Math.min(C, r0 + rowsPerBlock);
      const start = r0 * width;
      const end = r1 * width;
      const values: Float32Array[] = input.experts.map((expert, t) => {
        const v = new Float32Array(end - start);
        for (let c = r0; c < r1; c++) {
          const src = input.table[t * C + c] === g ? expert : input.base;
          v.set(src.subarray(c * width, (c + 1) * width), (c - r0) * width);
        }
        return v;
      });
      values.push(input.base.subarray(start, end));
      const merged = tf.tidy(() => prepared.block(values.map((v) => tf.tensor1d(v, 'float32')), start, end));
      try {
        out.set((await merged.data()) as Float32Array, g * n + start);
      } finally {
        merged.dispose();
      }
    }
    if (fix) fix(g, out.subarray(g * n, (g + 1) * n));
  }
}

/**
 * For normalize without an election: the block divided by Σ w over all experts; rows whose group
 * has fewer members are rescaled to divide by their members' Σ w instead (gta.ts's divisor rule:
 * a sum below 1e-8 in magnitude divides by 1).
 */
function divisorFix(input: GroupMergeInput, C: number): (g: number, group: Float32Array) => void {
  const T = input.experts.length;
  const { width } = channelLayout(input.shape, input.channels);
  const w = Math.fround(Number(input.method.perModel.weight ?? 1));
  const divisor = (s: number) => (Math.abs(s) < 1e-8 ? 1 : s);
  let total = 0;
  for (let t = 0; t < T; t++) total = Math.fround(total + w);
  return (g, group) => {
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let t = 0; t < T; t++) if (input.table[t * C + c] === g) sum = Math.fround(sum + w);
      if (sum === total) continue;
      const factor = divisor(total) / divisor(sum);
      for (let j = c * width; j < (c + 1) * width; j++) {
        const b = input.base[j]!;
        group[j] = b + (group[j]! - b) * factor;
      }
    }
  };
}

function copySingletons(input: GroupMergeInput, out: Float32Array): void {
  const { channels: C, width } = channelLayout(input.shape, input.channels);
  const T = input.experts.length;
  const n = input.base.length;
  const count = new Int32Array(input.K);
  const only = new Int32Array(input.K);
  for (let c = 0; c < C; c++) {
    count.fill(0);
    for (let t = 0; t < T; t++) {
      const g = input.table[t * C + c]!;
      count[g]!++;
      only[g] = t;
    }
    for (let g = 0; g < input.K; g++) {
      if (count[g] !== 1) continue;
      out.set(input.experts[only[g]!]!.subarray(c * width, (c + 1) * width), g * n + c * width);
    }
  }
}
