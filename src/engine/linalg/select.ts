/**
 * Order statistics over typed arrays, with torch's tie-breaking. mergekit sorts |τ| with
 * torch.sort/argsort, which on CPU is stable: among equal values the lower index comes first. To
 * keep "the entries at sorted positions [lo, hi)" we therefore need the values at the two cut
 * positions and, for ties there, the index order — not a full sort.
 */

/** The value at position `k` (0-based) of `values` sorted ascending. Does not modify `values`. */
export function nthSmallest(values: Float32Array, k: number): number {
  if (k < 0 || k >= values.length) throw new RangeError(`nthSmallest: position ${k} outside 0..${values.length - 1}`);
  const a = values.slice();
  let left = 0;
  let right = a.length - 1;
  while (right > left) {
    // Median of three as the pivot keeps sorted and constant inputs fast.
    const mid = (left + right) >>> 1;
    const x = a[left]!, y = a[mid]!, z = a[right]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * A 0/1 mask of the entries whose position in the stable ascending order of `keys` (ties: lower
 * index first) lies in [lo, hi). O(n) apart from two selections.
 */
export function stableRankRangeMask(keys: Float32Array, lo: number, hi: number): Uint8Array {
  const n = keys.length;
  const mask = new Uint8Array(n);
  lo = Math.max(0, lo);
  hi = Math.min(n, hi);
  if (hi <= lo) return mask;
  if (lo === 0 && hi === n) return mask.fill(1);
  // Kept values lie in [vLo, vHi]; only entries equal to a bound need their tie ordinal.
  const vLo = lo === 0 ? -Infinity : nthSmallest(keys, lo);
  const vHi = hi === n ? Infinity : nthSmallest(keys, hi - 1);
  let lessLo = 0;
  let lessHi = 0;
  for (let i = 0; i < n; i++) {
    const v = keys[i]!;
    if (v < vLo) lessLo++;
    if (v < vHi) lessHi++;
  }
  let ordLo = 0; // ties seen so far at vLo (position = lessLo + ordinal)
  let ordHi = 0;
  for (let i = 0; i < n; i++) {
    const v = keys[i]!;
    if (v > vLo && v < vHi) {
      mask[i] = 1;
    } else if (v === vLo || v === vHi) {
      const pos = v === vLo ? lessLo + ordLo++ : lessHi + ordHi++;
      mask[i] = pos >= lo && pos < hi ? 1 : 0;
    }
  }
  return mask;
}
