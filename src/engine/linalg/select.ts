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
 * Integer keys whose unsigned order is the float order: for |x|, the bits without the sign; for
 * signed x, negative floats reversed below the positive ones. −0 and +0 get the same key, as
 * they compare equal.
 */
function orderKeys(values: Float32Array, abs: boolean): Uint32Array {
  const f = new Float32Array(values.length);
  f.set(values);
  const keys = new Uint32Array(f.buffer);
  for (let i = 0; i < keys.length; i++) {
    const b = keys[i]!;
    if (abs) keys[i] = b & 0x7fffffff;
    else if (b === SIGN) keys[i] = SIGN;
    else keys[i] = b & SIGN ? ~b >>> 0 : (b | SIGN) >>> 0;
  }
  return keys;
}

/** The key at position k (0-based) of `keys` sorted ascending: 16 high bits, then 16 low bits. */
/** Up to this many keys, a sort beats the radix histogram. */
const SMALL_SELECT = 2048;

function radixSelect(keys: Uint32Array, k: number): number {
  // Two passes over a 65,536-bin histogram cost more than sorting a small tensor (an MoE
  // checkpoint has 10^5 of those): the k-th smallest of a sorted copy is the same key.
  if (keys.length <= SMALL_SELECT) return keys.slice().sort()[k]!;
  const hist = new Uint32Array(65536);
  for (let i = 0; i < keys.length; i++) hist[keys[i]! >>> 16]!++;
  let high = 0;
  let before = 0;
  while (before + hist[high]! <= k) before += hist[high++]!;
  hist.fill(0);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
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
  const keys = orderKeys(values, false);
  const key = radixSelect(keys, k);
  const at = keys.indexOf(key);
  return values[at]! === 0 ? 0 : values[at]!;
}

/** A 0/1 mask of the k entries torch.argsort(|x|, descending=True)[:k] keeps: TIES's trim. */
export function topKAbsMask(x: Float32Array, k: number): Uint8Array {
  const n = x.length;
  const mask = new Uint8Array(n);
  if (k <= 0) return mask;
  if (k >= n) return mask.fill(1);
  const keys = orderKeys(x, true);
  const threshold = radixSelect(keys, n - k);
  let above = 0;
  for (let i = 0; i < n; i++) if (keys[i]! > threshold) above++;
  let ties = k - above;
  let equal = 0;
  for (let i = 0; i < n; i++) if (keys[i]! === threshold) equal++;
  if (ties < equal) return torchSortRangeMask(absolute(x), true, 0, k);
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
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
 * breadcrumbs' trim from both ends.
 */
export function stableRankRangeMask(values: Float32Array, lo: number, hi: number, abs = false): Uint8Array {
  const n = values.length;
  const mask = new Uint8Array(n);
  lo = Math.max(0, lo);
  hi = Math.min(n, hi);
  if (hi <= lo) return mask;
  if (lo === 0 && hi === n) return mask.fill(1);
  const keys = orderKeys(values, abs);
  // Kept keys lie in [kLo, kHi]; only entries equal to a bound need their tie ordinal.
  const kLo = radixSelect(keys, lo);
  const kHi = radixSelect(keys, hi - 1);
  let lessLo = 0;
  let lessHi = 0;
  let equalLo = 0;
  let equalHi = 0;
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
    if (key < kLo) lessLo++;
    if (key < kHi) lessHi++;
    if (key === kLo) equalLo++;
    if (key === kHi) equalHi++;
  }
  // A tie group cut in two at either end: torch's sort order decides which members stay.
  if ((lo > lessLo && lo < lessLo + equalLo) || (hi > lessHi && hi < lessHi + equalHi)) {
    return torchSortRangeMask(abs ? absolute(values) : values, false, lo, hi);
  }
  let ordLo = 0;
  let ordHi = 0;
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
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
