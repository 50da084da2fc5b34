/**
 * Sparsification of task vectors, as mergekit's sparsify.py defines it: which entries of τ to
 * keep (a 0/1 mask) and, with `rescale`, the L1 factor that restores ‖τ‖₁. Masks are computed on
 * the CPU over the task vector's values — selection and random draws are not tensor ops — and are
 * identical on every backend.
 */
import { MergeLabError } from '../errors.js';
import { bernoulliMask, uniformAt } from '../random.js';
import { stableRankRangeMask, topKAbsMask, zeroOutsideTopKAbs } from '../linalg/select.js';
import { torchAbsSortOrder } from '../linalg/torch-sort.js';
import type { OrderCache } from './types.js';

export type SparsificationKind = 'magnitude' | 'random' | 'magnitude_outliers' | 'della_magprune';

export interface SparsifyArgs {
  readonly kind: SparsificationKind;
  readonly density: number;
  readonly gamma?: number;
  readonly epsilon?: number;
  /** Rows × columns view for DELLA's per-row ranking (a 1-D tensor is one row). */
  readonly shape: readonly number[];
  readonly seed: number;
  /** Separates the random streams of the models merged into one tensor. */
  readonly stream: number;
  readonly tensorName: string;
  readonly model: string;
  readonly warn: (message: string) => void;
  /** Kept sort orders (live recompute), under keys that start with `cacheKey`. */
  readonly orderCache?: OrderCache;
  readonly cacheKey?: string;
}

/**
 * Which entries a sparsification keeps: a 0/1 mask, or — for a trim served from a kept sort order
 * (live recompute) — the entries whose rank in that order lies in [lo, hi). The rank form costs no
 * allocation per slider move: a density change moves `hi`, not a mask of n bytes.
 */
export type KeptEntries = { readonly mask: Uint8Array } | { readonly rank: Int32Array; readonly lo: number; readonly hi: number };

/** `undefined` means "keep everything" (density ≥ 1): no mask, no rescale. */
export function sparsifyMask(tau: Float32Array, a: SparsifyArgs): Uint8Array | undefined {
  const kept = sparsifyKept(tau, a);
  return kept && keptMask(kept);
}

/** As sparsifyMask, in whichever form is cheaper here (see KeptEntries). */
export function sparsifyKept(tau: Float32Array, a: SparsifyArgs): KeptEntries | undefined {
  const n = tau.length;
  const d = a.density;
  if (d >= 1) return undefined;
  switch (a.kind) {
    case 'magnitude': {
      const k = Math.floor(d * n);
      if (k <= 0) throw emptyTrim(a.model, d, n, a.tensorName);
      const rank = cachedRank(tau, a, true);
      return rank ? { rank, lo: 0, hi: k } : { mask: topKAbsMask(tau, k) };
    }
    case 'magnitude_outliers': {
      const target = Math.floor(d * n);
      let nTop = Math.floor((a.gamma ?? 0.01) * n);
      let nBot = n - target - nTop;
      if (nBot < 0) {
        nTop += nBot;
        nBot = 0;
      }
      if (nTop <= 0) {
        // mergekit keeps indices[n_bot:-n_top]; with n_top = 0 that slice is empty.
        a.warn(`gamma·n < 1 for tensor ${a.tensorName}: breadcrumbs drops every entry of ${a.model}'s task vector, as mergekit does (raise gamma or density).`);
        return { mask: new Uint8Array(n) };
      }
      const rank = cachedRank(tau, a, false);
      return rank ? { rank, lo: nBot, hi: n - nTop } : { mask: stableRankRangeMask(tau, nBot, n - nTop, true) };
    }
    case 'random':
      return { mask: bernoulliMask(a.seed, a.stream, d, n) };
    case 'della_magprune':
      return { mask: dellaMask(tau, a) };
  }
}

/**
 * The magnitude trim (TIES) applied to τ itself, for arrays a merge owns: dropped entries become
 * τ·0, as τ times the mask gives, without a mask. Same checks as sparsifyKept's 'magnitude'.
 */
export function trimMagnitudeInPlace(tau: Float32Array, a: SparsifyArgs): void {
  const n = tau.length;
  if (a.density >= 1) return;
  const k = Math.floor(a.density * n);
  if (k <= 0) throw emptyTrim(a.model, a.density, n, a.tensorName);
  zeroOutsideTopKAbs(tau, k);
}

/** A 0/1 mask packed eight entries to a byte (entry e: bit e & 7 of byte e >> 3): n/8 bytes to keep per model. */
export function packMask(mask: Uint8Array): Uint8Array {
  const bits = new Uint8Array((mask.length + 7) >>> 3);
  for (let e = 0; e < mask.length; e++) if (mask[e]) bits[e >>> 3]! |= 1 << (e & 7);
  return bits;
}

/** Entry e of a packed mask: 0 or 1. */
export function bitAt(bits: Uint8Array, e: number): number {
  return (bits[e >>> 3]! >>> (e & 7)) & 1;
}

/** The kept entries as a 0/1 mask. */
export function keptMask(k: KeptEntries): Uint8Array {
  if ('mask' in k) return k.mask;
  const { rank, lo, hi } = k;
  const mask = new Uint8Array(rank.length);
  for (let e = 0; e < rank.length; e++) {
    const r = rank[e]!;
    if (r >= lo && r < hi) mask[e] = 1;
  }
  return mask;
}

/**
 * Each entry's position in torch's sort order of |τ| (the inverse of that order), from the cache,
 * computed and kept on first use; undefined without a cache. Entries at ranks [lo, hi) are exactly
 * those maskFromOrder(order, lo, hi) keeps.
 */
function cachedRank(tau: Float32Array, a: SparsifyArgs, descending: boolean): Int32Array | undefined {
  if (!a.orderCache || a.cacheKey === undefined) return undefined;
  const key = `${a.cacheKey}\u0000${descending ? 'desc' : 'asc'}\u0000rank`;
  let rank = a.orderCache.get(key);
  if (!rank || rank.length !== tau.length) {
    if (a.orderCache.later?.(key, tau.length, () => sortRank(tau, descending))) return undefined;
    rank = sortRank(tau, descending);
    a.orderCache.set(key, rank);
  }
  return rank;
}

/** Each entry's position in torch's sort order of |τ|. */
function sortRank(tau: Float32Array, descending: boolean): Int32Array {
  const order = torchAbsSortOrder(tau, descending);
  const rank = new Int32Array(order.length);
  for (let p = 0; p < order.length; p++) rank[order[p]!] = p;
  return rank;
}

/** mergekit's rescaled_masked_tensor with the L1 norm: ‖τ‖₁ / ‖τ·mask‖₁, or 1 if either < 1e-7. */
export function l1RescaleFactor(tau: Float32Array, kept: Uint8Array | KeptEntries): number {
  let before = 0;
  let after = 0;
  if (kept instanceof Uint8Array || 'mask' in kept) {
    const mask = kept instanceof Uint8Array ? kept : kept.mask;
    for (let i = 0; i < tau.length; i++) {
      const v = Math.abs(tau[i]!);
      before += v;
      if (mask[i]) after += v;
    }
  } else {
    const { rank, lo, hi } = kept;
    for (let i = 0; i < tau.length; i++) {
      const v = Math.abs(tau[i]!);
      before += v;
      const r = rank[i]!;
      if (r >= lo && r < hi) after += v;
    }
  }
  // torch computes the norms in float32; round them the same way before dividing.
  before = Math.fround(before);
  after = Math.fround(after);
  if (before < 1e-7 || after < 1e-7) return 1;
  return Math.fround(before / after);
}

function dellaMask(tau: Float32Array, a: SparsifyArgs): Uint8Array {
  const n = tau.length;
  const d = a.density;
  if (d <= 0) return new Uint8Array(n);
  const eps = a.epsilon ?? 0.15;
  if (d + eps >= 1 || d - eps <= 0) throw dellaRange(a.model, d, eps, a.tensorName);
  // mergekit ranks |τ| along dim 1 (a 1-D tensor is unsqueezed to one row): for shape
  // [d0, d1, ...rest] each (i, rest) fibre of length d1 is ranked on its own.
  const shape = a.shape.length < 2 ? [1, n] : a.shape;
  const outer = shape[0]!;
  const len = shape[1]!;
  const inner = len === 0 || outer === 0 ? 0 : n / (outer * len);
  // Each entry's keep probability is drawn against its own index's uniform, so the mask is filled
  // fibre by fibre, with no array of n probabilities beside τ.
  const mask = new Uint8Array(n);
  const order = new Uint32Array(len);
  const mags = new Float32Array(len);
  for (let o = 0; o < outer; o++) {
    for (let q = 0; q < inner; q++) {
      const at = (j: number) => (o * len + j) * inner + q;
      for (let j = 0; j < len; j++) {
        order[j] = j;
        mags[j] = Math.abs(tau[at(j)]!);
      }
      order.sort((x, y) => mags[x]! - mags[y]! || x - y);
      for (let pos = 0; pos < len; pos++) {
        // (rank − min) / (max − min) with ranks 1..len is pos / (len − 1).
        const rn = len > 1 ? Math.fround(pos / (len - 1)) : 0;
        const e = at(order[pos]!);
        // The probability as the float32 a probability tensor holds.
        mask[e] = uniformAt(a.seed, a.stream, e) < Math.fround(d - eps + rn * 2 * eps) ? 1 : 0;
      }
    }
  }
  return mask;
}

export function emptyTrim(model: string, density: number, n: number, tensorName: string): MergeLabError {
  return new MergeLabError(
    'EMPTY_TRIM',
    `density ${density} of model "${model}" keeps ⌊${density}·${n}⌋ = 0 entries of tensor ${tensorName} (mergekit refuses this too); raise density to at least ${(1 / n).toPrecision(3)} for this tensor, e.g. with a filter.`,
  );
}

export function dellaRange(model: string, density: number, epsilon: number, tensorName: string): MergeLabError {
  return new MergeLabError(
    'PARAMETER_OUT_OF_RANGE',
    `DELLA needs density ± epsilon inside (0, 1); model "${model}" has density ${density} and epsilon ${epsilon} for tensor ${tensorName}. Lower epsilon or move density away from 0 and 1.`,
  );
}
