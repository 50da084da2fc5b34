/**
 * Order statistics over float32 arrays, with torch's tie-breaking. mergekit keeps "the entries at
 * positions [lo, hi) of torch.sort(|τ|)". Only the values at the two cut positions matter, found by
 * a two-pass radix select on order-preserving integer keys of the float bits (O(n), no
 * comparisons). When equal values straddle a cut, which of them torch keeps depends on its sort
 * algorithm: then, and only then, the full order is computed by torch-sort.ts.
 */
import { torchSortRangeMask, torchTopKAbsTieMask, torchTopKAbsTieZero } from './torch-sort.js';

const SIGN = 0x80000000;

/**
 * Integer keys whose unsigned order is torch's order of signed x: negative floats reversed below
 * the positive ones; −0 and +0 get the same key, as they compare equal; every NaN the largest key,
 * as torch sorts NaN last. (For |x| no copy is needed: its keys are x's own bits without the sign,
 * read through ABS_KEY; there NaNs keep their payloads, so a cut at a NaN is left to torch-sort.ts.)
 */
function orderKeys(values: Float32Array): Uint32Array {
  const keys = new Uint32Array(values.length);
  keys.set(new Uint32Array(values.buffer, values.byteOffset, values.length));
  for (let i = 0; i < keys.length; i++) {
    const b = keys[i]!;
    if ((b & ABS_KEY) > INFINITY_KEY) keys[i] = WHOLE_KEY;
    else if (b === SIGN) keys[i] = SIGN;
    else keys[i] = b & SIGN ? ~b >>> 0 : (b | SIGN) >>> 0;
  }
  return keys;
}

/** Key masks: the bits of |x| are x's bits without the sign; signed keys are used whole. */
const ABS_KEY = 0x7fffffff;
const WHOLE_KEY = 0xffffffff;
/** +∞'s bits: |x| keys above it are NaNs, each with its own payload (torch holds them all equal). */
const INFINITY_KEY = 0x7f800000;

/** x's bits, read as keys through ABS_KEY: |x| in order, without a copy. */
function bitsOf(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

/** Up to this many keys, a sort beats the radix histogram. */
const SMALL_SELECT = 2048;

/** The key at a position of the sorted keys, with how many keys are below it and how many equal it. */
interface Selected {
  readonly key: number;
  readonly less: number;
  readonly equal: number;
}

/**
 * The key at position k (0-based) of the keys (each `& m`) sorted ascending: 16 high bits, then 16
 * low bits. The second histogram counts exactly the keys that share the high bits, so it also
 * gives how many keys lie below the answer and how many equal it: no third pass to count them.
 */
function radixSelect(keys: Uint32Array, k: number, m: number = WHOLE_KEY): Selected {
  // Two passes over a 65,536-bin histogram cost more than sorting a small tensor (an MoE
  // checkpoint has 10^5 of those): the k-th smallest of a sorted copy is the same key.
  if (keys.length <= SMALL_SELECT) {
    const sorted = Uint32Array.from(keys, (v) => (v & m) >>> 0).sort();
    const key = sorted[k]!;
    let less = k;
    while (less > 0 && sorted[less - 1] === key) less--;
    let end = k + 1;
    while (end < sorted.length && sorted[end] === key) end++;
    return { key, less, equal: end - less };
  }
  const hist = new Uint32Array(65536);
  for (let i = 0; i < keys.length; i++) hist[((keys[i]! & m) >>> 0) >>> 16]!++;
  let high = 0;
  let before = 0;
  while (before + hist[high]! <= k) before += hist[high++]!;
  hist.fill(0);
  for (let i = 0; i < keys.length; i++) {
    const key = (keys[i]! & m) >>> 0;
    if (key >>> 16 === high) hist[key & 0xffff]!++;
  }
  let low = 0;
  while (before + hist[low]! <= k) before += hist[low++]!;
  return { key: ((high << 16) | low) >>> 0, less: before, equal: hist[low]! };
}

function checkPosition(n: number, k: number): void {
  if (!(k >= 0 && k < n)) throw new RangeError(`order statistic: position ${k} outside 0..${n - 1}`);
}

/** The value at position `k` (0-based) of `values` sorted ascending. Does not modify `values`. */
export function nthSmallest(values: Float32Array, k: number): number {
  checkPosition(values.length, k);
  const keys = orderKeys(values);
  const { key } = radixSelect(keys, k);
  const at = keys.indexOf(key);
  return values[at]! === 0 ? 0 : values[at]!;
}

/**
 * A 0/1 mask of the k entries torch.argsort(|x|, descending=True)[:k] keeps: TIES's trim. Keys are
 * read from x's own bits, and x is only read. The k-th largest |x| is found by selection (two
 * passes); only when equal magnitudes straddle the cut does torch's own order decide which of them
 * stay (torch-sort.ts, one index per entry).
 */
export function topKAbsMask(x: Float32Array, k: number): Uint8Array {
  const n = x.length;
  if (k <= 0) return new Uint8Array(n);
  if (k >= n) return new Uint8Array(n).fill(1);
  const keys = bitsOf(x);
  // Descending position k − 1 is ascending position n − k.
  const { key: threshold, less, equal } = radixSelect(keys, n - k, ABS_KEY);
  const ties = k - (n - less - equal);
  // A cut among |x|'s NaNs (keys that differ where torch holds them equal) takes the index sort.
  if (threshold > INFINITY_KEY) return torchSortRangeMask(x, true, 0, k, true);
  if (ties < equal) return torchTopKAbsTieMask(x, k, threshold, equal);
  // Every entry equal to the threshold is kept (ties === equal): no order among them matters.
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) if ((keys[i]! & ABS_KEY) >= threshold) mask[i] = 1;
  return mask;
}

/**
 * TIES's trim applied to x itself: the entries topKAbsMask(x, k) drops become x·0 (the signed
 * zero, or NaN for ±∞, a product with the mask gives), the kept ones stay as they are; no mask is
 * made where the cut is not among NaNs. For a streaming merge's own task vectors.
 */
export function zeroOutsideTopKAbs(x: Float32Array, k: number): void {
  const n = x.length;
  if (k >= n) return;
  if (k <= 0) {
    for (let i = 0; i < n; i++) x[i] = x[i]! * 0;
    return;
  }
  const keys = bitsOf(x);
  // The same cut as topKAbsMask's: the k-th largest |x|, and torch's order only where ties straddle it.
  const { key: threshold, less, equal } = radixSelect(keys, n - k, ABS_KEY);
  if (threshold > INFINITY_KEY) {
    const mask = torchSortRangeMask(x, true, 0, k, true);
    for (let i = 0; i < n; i++) if (!mask[i]) x[i] = x[i]! * 0;
    return;
  }
  if (k - (n - less - equal) < equal) return torchTopKAbsTieZero(x, k, threshold, equal);
  // x·1 or x·0 without a branch, as torchTopKAbsTieZero: 1 exactly when |bits| ≥ threshold.
  for (let i = 0; i < n; i++) x[i] = x[i]! * ((threshold - 1 - (keys[i]! & ABS_KEY)) >>> 31);
}

/**
 * A 0/1 mask of the entries at positions [lo, hi) of torch.sort(values) (of |values| with `abs`):
 * breadcrumbs' trim from both ends. `values` is only read.
 */
export function stableRankRangeMask(values: Float32Array, lo: number, hi: number, abs = false): Uint8Array {
  const n = values.length;
  lo = Math.max(0, lo);
  hi = Math.min(n, hi);
  if (hi <= lo) return new Uint8Array(n);
  if (lo === 0 && hi === n) return new Uint8Array(n).fill(1);
  const keys = abs ? bitsOf(values) : orderKeys(values);
  const m = abs ? ABS_KEY : WHOLE_KEY;
  // Kept keys lie in [kLo, kHi]; only entries equal to a bound need their tie ordinal.
  const { key: kLo, less: lessLo, equal: equalLo } = radixSelect(keys, lo, m);
  const { key: kHi, less: lessHi, equal: equalHi } = radixSelect(keys, hi - 1, m);
  // A tie group cut in two at either end: torch's sort order decides which members stay.
  // So does a cut among |x|'s NaNs, whose keys differ where torch holds them equal.
  const straddles = (lo > lessLo && lo < lessLo + equalLo) || (hi > lessHi && hi < lessHi + equalHi);
  if (straddles || (abs && kHi > INFINITY_KEY)) return torchSortRangeMask(values, false, lo, hi, abs);
  const mask = new Uint8Array(n);
  let ordLo = 0;
  let ordHi = 0;
  for (let i = 0; i < n; i++) {
    const key = (keys[i]! & m) >>> 0;
    if (key > kLo && key < kHi) mask[i] = 1;
    else if (key === kLo || key === kHi) {
      // No group straddles a cut, so any order within a group gives the same mask.
      const pos = key === kLo ? lessLo + ordLo++ : lessHi + ordHi++;
      mask[i] = pos >= lo && pos < hi ? 1 : 0;
    }
  }
  return mask;
}

/** 1 for the entries at positions [lo, hi) of `order`. */
export function maskFromOrder(order: Int32Array, lo: number, hi: number): Uint8Array {
  const mask = new Uint8Array(order.length);
  for (let p = lo; p < hi; p++) mask[order[p]!] = 1;
  return mask;
}
