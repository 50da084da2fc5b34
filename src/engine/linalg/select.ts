/**
 * Order statistics over float32 arrays, with torch's tie-breaking. mergekit keeps "the entries at
 * positions [lo, hi) of torch.sort(|τ|)". Only the values at the two cut positions matter, found by
 * a two-pass radix select on order-preserving integer keys of the float bits (O(n), no
 * comparisons). When equal values straddle a cut, which of them torch keeps depends on its sort
 * algorithm: then, and only then, the full order is computed by torch-sort.ts.
 */
import { torchSortRangeMask } from './torch-sort.js';

const SIGN = 0x80000000;

/**
 * Integer keys whose unsigned order is the float order of signed x: negative floats reversed
 * below the positive ones; −0 and +0 get the same key, as they compare equal. (For |x| no copy is
 * needed: its keys are x's own bits without the sign, read through ABS_KEY.)
 */
function orderKeys(values: Float32Array): Uint32Array {
  const keys = new Uint32Array(values.length);
  keys.set(new Uint32Array(values.buffer, values.byteOffset, values.length));
  for (let i = 0; i < keys.length; i++) {
    const b = keys[i]!;
    if (b === SIGN) keys[i] = SIGN;
    else keys[i] = b & SIGN ? ~b >>> 0 : (b | SIGN) >>> 0;
  }
  return keys;
}

/** Key masks: the bits of |x| are x's bits without the sign; signed keys are used whole. */
const ABS_KEY = 0x7fffffff;
const WHOLE_KEY = 0xffffffff;

/** x's bits, read as keys through ABS_KEY: |x| in order, without a copy. */
function bitsOf(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}

/** Up to this many keys, a sort beats the radix histogram. */
const SMALL_SELECT = 2048;

/** The key at position k (0-based) of the keys (each `& m`) sorted ascending: 16 high bits, then 16 low bits. */
function radixSelect(keys: Uint32Array, k: number, m: number = WHOLE_KEY): number {
  // Two passes over a 65,536-bin histogram cost more than sorting a small tensor (an MoE
  // checkpoint has 10^5 of those): the k-th smallest of a sorted copy is the same key.
  if (keys.length <= SMALL_SELECT) return Uint32Array.from(keys, (v) => (v & m) >>> 0).sort()[k]!;
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
  return ((high << 16) | low) >>> 0;
}

function checkPosition(n: number, k: number): void {
  if (!(k >= 0 && k < n)) throw new RangeError(`order statistic: position ${k} outside 0..${n - 1}`);
}

/** The value at position `k` (0-based) of `values` sorted ascending. Does not modify `values`. */
export function nthSmallest(values: Float32Array, k: number): number {
  checkPosition(values.length, k);
  const keys = orderKeys(values);
  const key = radixSelect(keys, k);
  const at = keys.indexOf(key);
  return values[at]! === 0 ? 0 : values[at]!;
}

/**
 * How a selection over |x| may use x when torch's own order is needed: 'copy' sorts a copy of |x|;
 * 'borrow' sorts x itself as |x| and puts it back as it was (signs included) before returning,
 * so a streaming merge needs no second array of the tensor's size.
 */
export type AbsWork = 'copy' | 'borrow';

/** Entries at positions [lo, hi) of torch.sort(|x|, descending), per `work`. */
function torchAbsRange(x: Float32Array, descending: boolean, lo: number, hi: number, work: AbsWork): Uint8Array {
  if (work === 'copy') return torchSortRangeMask(absolute(x), descending, lo, hi, 'scratch');
  const n = x.length;
  const bits = bitsOf(x);
  const signs = new Uint32Array((n + 31) >>> 5);
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    signs[i >>> 5]! |= (b >>> 31) << (i & 31);
    bits[i] = b & ABS_KEY;
  }
  const mask = torchSortRangeMask(x, descending, lo, hi, 'borrow');
  for (let i = 0; i < n; i++) bits[i] = bits[i]! | (((signs[i >>> 5]! >>> (i & 31)) & 1) << 31);
  return mask;
}

/**
 * A 0/1 mask of the k entries torch.argsort(|x|, descending=True)[:k] keeps: TIES's trim. Keys are
 * read from x's own bits; x is left as it was (see AbsWork for the rare case that needs a sort).
 */
export function topKAbsMask(x: Float32Array, k: number, work: AbsWork = 'copy'): Uint8Array {
  const n = x.length;
  if (k <= 0) return new Uint8Array(n);
  if (k >= n) return new Uint8Array(n).fill(1);
  const keys = bitsOf(x);
  const threshold = radixSelect(keys, n - k, ABS_KEY);
  let above = 0;
  let equal = 0;
  for (let i = 0; i < n; i++) {
    const key = keys[i]! & ABS_KEY;
    if (key > threshold) above++;
    else if (key === threshold) equal++;
  }
  let ties = k - above;
  if (ties < equal) return torchAbsRange(x, true, 0, k, work);
  // Allocated only now: beside torch's sort above it would be one more array of n.
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const key = keys[i]! & ABS_KEY;
    if (key > threshold) mask[i] = 1;
    else if (key === threshold && ties > 0) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}

/**
 * A 0/1 mask of the entries at positions [lo, hi) of torch.sort(values) (of |values| with `abs`):
 * breadcrumbs' trim from both ends. `work` as for topKAbsMask (|values| only).
 */
export function stableRankRangeMask(values: Float32Array, lo: number, hi: number, abs = false, work: AbsWork = 'copy'): Uint8Array {
  const n = values.length;
  lo = Math.max(0, lo);
  hi = Math.min(n, hi);
  if (hi <= lo) return new Uint8Array(n);
  if (lo === 0 && hi === n) return new Uint8Array(n).fill(1);
  const keys = abs ? bitsOf(values) : orderKeys(values);
  const m = abs ? ABS_KEY : WHOLE_KEY;
  // Kept keys lie in [kLo, kHi]; only entries equal to a bound need their tie ordinal.
  const kLo = radixSelect(keys, lo, m);
  const kHi = radixSelect(keys, hi - 1, m);
  let lessLo = 0;
  let lessHi = 0;
  let equalLo = 0;
  let equalHi = 0;
  for (let i = 0; i < n; i++) {
    const key = (keys[i]! & m) >>> 0;
    if (key < kLo) lessLo++;
    if (key < kHi) lessHi++;
    if (key === kLo) equalLo++;
    if (key === kHi) equalHi++;
  }
  // A tie group cut in two at either end: torch's sort order decides which members stay.
  if ((lo > lessLo && lo < lessLo + equalLo) || (hi > lessHi && hi < lessHi + equalHi)) {
    return abs ? torchAbsRange(values, false, lo, hi, work) : torchSortRangeMask(values, false, lo, hi);
  }
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

/** |x| element-wise, as a new array. */
export function absolute(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.abs(x[i]!);
  return out;
}
