/**
 * The order torch's CPU sort (stable=False) gives, for parity at ties. torch sorts (value, index)
 * pairs with std::sort comparing values only; with libstdc++ that is introsort — median-of-three
 * quicksort down to runs of 16, heapsort past a depth limit, then insertion sort — so among equal
 * values the order depends on the whole array. This is a line-for-line model of libstdc++'s
 * std::sort over parallel key/index arrays. It is only needed when equal values straddle a cut
 * (selection.ts decides); otherwise any order gives the same kept set.
 */

const THRESHOLD = 16;

type Less = (a: number, b: number) => boolean;

/** Indices of `values` in the order torch.sort(values, descending, stable=False) returns on CPU. */
export function torchSortOrder(values: Float32Array, descending: boolean): Int32Array {
  const n = values.length;
  const keys = Float32Array.from(values);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (n < 2) return idx;
  // torch's KeyValueCompDesc/Asc: NaN sorts first descending and last ascending.
  const less: Less = descending
    ? (a, b) => (Number.isNaN(a) && !Number.isNaN(b)) || a > b
    : (a, b) => (!Number.isNaN(a) && Number.isNaN(b)) || a < b;
  new IntroSort(keys, idx, less).sort();
  return idx;
}

/**
 * The entries at positions [lo, hi) of torch's sort order — without sorting everything. A
 * partition separates its two sides for good (the final insertion sort never moves an element
 * across a cut, as everything left of it is ≤ the pivot ≤ everything right), so, as in
 * quickselect, only the ranges that hold a cut position need following; a range of ≤ 16 left by
 * introsort ends up insertion-sorted, which is stable. Same result as maskFromOrder(torchSortOrder).
 */
export function torchSortRangeMask(values: Float32Array, descending: boolean, lo: number, hi: number, work: 'copy' | 'scratch' | 'borrow' = 'copy'): Uint8Array {
  const n = values.length;
  if (hi <= lo) return new Uint8Array(n);
  // 'scratch': values are the caller's to give up, ordered here instead of a copy; 'borrow': the
  // same, then put back in their order — values must then have no sign bits set (|x|, as the
  // trims sort), as the kept entries are marked there on the way back.
  const keys = work === 'copy' ? Float32Array.from(values) : values;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const less: Less = descending
    ? (a, b) => (Number.isNaN(a) && !Number.isNaN(b)) || a > b
    : (a, b) => (!Number.isNaN(a) && Number.isNaN(b)) || a < b;
  if (n >= 2) new IntroSort(keys, idx, less).select([lo, hi].filter((b) => b > 0 && b < n));
  if (work === 'borrow') {
    // Moved back as bits, so every value (a NaN's payload too) is exactly what it was.
    const bits = new Uint32Array(keys.buffer, keys.byteOffset, n);
    unpermute(bits, idx);
    // Kept entries marked in their (free) sign bits; then the mask is written over the index
    // array's first n bytes, so it costs no array beside it.
    for (let p = lo; p < hi; p++) bits[~idx[p]!] = bits[~idx[p]!]! | 0x80000000;
    const mask = new Uint8Array(idx.buffer, 0, n);
    for (let i = 0; i < n; i++) {
      const b = bits[i]!;
      mask[i] = b >>> 31;
      bits[i] = b & 0x7fffffff;
    }
    return mask;
  }
  const mask = new Uint8Array(n);
  for (let p = lo; p < hi; p++) mask[idx[p]!] = 1;
  return mask;
}

/**
 * Moves keys[p] back to position idx[p] for every p, in place: each cycle of the permutation is
 * followed once, idx entries marked done by complementing them (indices are below 2^31).
 */
function unpermute(keys: Uint32Array, idx: Int32Array): void {
  for (let s = 0; s < idx.length; s++) {
    let d = idx[s]!;
    if (d < 0) continue;
    idx[s] = ~d;
    let carried = keys[s]!;
    while (d !== s) {
      const next = keys[d]!;
      keys[d] = carried;
      carried = next;
      const nd = idx[d]!;
      idx[d] = ~nd;
      d = nd;
    }
    keys[s] = carried;
  }
}

class IntroSort {
  constructor(
    private readonly k: Float32Array,
    private readonly ix: Int32Array,
    private readonly less: Less,
  ) {}

  sort(): void {
    const n = this.k.length;
    this.introsortLoop(0, n, 2 * (31 - Math.clz32(n)));
    this.finalInsertionSort(0, n);
  }

  /** Orders the array only as far as needed to know which entries lie before each cut in `cuts`. */
  select(cuts: readonly number[]): void {
    const n = this.k.length;
    if (cuts.length > 0) this.selectLoop(0, n, 2 * (31 - Math.clz32(n)), cuts);
  }

  private selectLoop(first: number, last: number, depth: number, cuts: readonly number[]): void {
    const holdsCut = (a: number, b: number) => cuts.some((c) => a < c && c < b);
    while (last - first > THRESHOLD) {
      if (!holdsCut(first, last)) return;
      if (depth === 0) {
        this.heapSort(first, last);
        return;
      }
      depth--;
      const cut = this.partitionPivot(first, last);
      this.selectLoop(cut, last, depth, cuts);
      last = cut;
    }
    if (holdsCut(first, last)) this.insertionSort(first, last);
  }

  private swap(a: number, b: number): void {
    const k = this.k;
    const ix = this.ix;
    const tk = k[a]!;
    k[a] = k[b]!;
    k[b] = tk;
    const ti = ix[a]!;
    ix[a] = ix[b]!;
    ix[b] = ti;
  }

  private introsortLoop(first: number, last: number, depth: number): void {
    while (last - first > THRESHOLD) {
      if (depth === 0) {
        this.heapSort(first, last);
        return;
      }
      depth--;
      const cut = this.partitionPivot(first, last);
      this.introsortLoop(cut, last, depth);
      last = cut;
    }
  }

  private partitionPivot(first: number, last: number): number {
    const mid = first + ((last - first) >> 1);
    this.moveMedianToFirst(first, first + 1, mid, last - 1);
    return this.unguardedPartition(first + 1, last, first);
  }

  private moveMedianToFirst(result: number, a: number, b: number, c: number): void {
    const k = this.k;
    const lt = this.less;
    if (lt(k[a]!, k[b]!)) {
      if (lt(k[b]!, k[c]!)) this.swap(result, b);
      else if (lt(k[a]!, k[c]!)) this.swap(result, c);
      else this.swap(result, a);
    } else if (lt(k[a]!, k[c]!)) this.swap(result, a);
    else if (lt(k[b]!, k[c]!)) this.swap(result, c);
    else this.swap(result, b);
  }

  private unguardedPartition(first: number, last: number, pivot: number): number {
    const k = this.k;
    const lt = this.less;
    for (;;) {
      while (lt(k[first]!, k[pivot]!)) first++;
      last--;
      while (lt(k[pivot]!, k[last]!)) last--;
      if (!(first < last)) return first;
      this.swap(first, last);
      first++;
    }
  }

  private finalInsertionSort(first: number, last: number): void {
    if (last - first > THRESHOLD) {
      this.insertionSort(first, first + THRESHOLD);
      for (let i = first + THRESHOLD; i < last; i++) this.unguardedLinearInsert(i);
    } else {
      this.insertionSort(first, last);
    }
  }

  private insertionSort(first: number, last: number): void {
    if (first === last) return;
    const k = this.k;
    const ix = this.ix;
    for (let i = first + 1; i < last; i++) {
      if (this.less(k[i]!, k[first]!)) {
        const vk = k[i]!;
        const vi = ix[i]!;
        k.copyWithin(first + 1, first, i);
        ix.copyWithin(first + 1, first, i);
        k[first] = vk;
        ix[first] = vi;
      } else {
        this.unguardedLinearInsert(i);
      }
    }
  }

  private unguardedLinearInsert(last: number): void {
    const k = this.k;
    const ix = this.ix;
    const vk = k[last]!;
    const vi = ix[last]!;
    let next = last - 1;
    while (this.less(vk, k[next]!)) {
      k[last] = k[next]!;
      ix[last] = ix[next]!;
      last = next;
      next--;
    }
    k[last] = vk;
    ix[last] = vi;
  }

  // std::__partial_sort(first, last, last): make_heap, then sort_heap.
  private heapSort(first: number, last: number): void {
    const len = last - first;
    if (len >= 2) {
      for (let parent = (len - 2) >> 1; ; parent--) {
        this.adjustHeap(first, parent, len, this.k[first + parent]!, this.ix[first + parent]!);
        if (parent === 0) break;
      }
    }
    while (last - first > 1) {
      last--;
      const vk = this.k[last]!;
      const vi = this.ix[last]!;
      this.k[last] = this.k[first]!;
      this.ix[last] = this.ix[first]!;
      this.adjustHeap(first, 0, last - first, vk, vi);
    }
  }

  private adjustHeap(first: number, hole: number, len: number, vk: number, vi: number): void {
    const k = this.k;
    const ix = this.ix;
    const top = hole;
    let child = hole;
    while (child < ((len - 1) >> 1)) {
      child = 2 * (child + 1);
      if (this.less(k[first + child]!, k[first + child - 1]!)) child--;
      k[first + hole] = k[first + child]!;
      ix[first + hole] = ix[first + child]!;
      hole = child;
    }
    if ((len & 1) === 0 && child === (len - 2) >> 1) {
      child = 2 * (child + 1);
      k[first + hole] = k[first + child - 1]!;
      ix[first + hole] = ix[first + child - 1]!;
      hole = child - 1;
    }
    // __push_heap
    let parent = (hole - 1) >> 1;
    while (hole > top && this.less(k[first + parent]!, vk)) {
      k[first + hole] = k[first + parent]!;
      ix[first + hole] = ix[first + parent]!;
      hole = parent;
      parent = (hole - 1) >> 1;
    }
    k[first + hole] = vk;
    ix[first + hole] = vi;
  }
}
