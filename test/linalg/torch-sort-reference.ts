/**
 * The literal model of torch's CPU sort (stable=False) the selections are checked against: libstdc++'s
 * std::sort over parallel key/index arrays, both moved, comparing floats as torch's comparator does
 * (NaN largest). This is the form src/engine/linalg/torch-sort.ts had before it read keys through
 * the index array; the property tests hold the index-only sort and every selection to it.
 */
const THRESHOLD = 16;

type Less = (a: number, b: number) => boolean;

/** Indices of `values` in the order torch.sort(values, descending, stable=False) returns on CPU. */
export function referenceSortOrder(values: Float32Array, descending: boolean): Int32Array {
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
