/**
 * Which entries torch.topk(values, k, largest=True) returns on the CPU (torch 1.13), ties
 * included: its kernel (TopKImpl.h) fills (value, index) pairs and runs libstdc++'s
 * std::partial_sort over them when k·64 ≤ n, else std::nth_element at k − 1, comparing values
 * only (NaN largest). Which of several equal values make the cut depends on those algorithms'
 * exact moves, so this is a line-for-line model of them (introselect: median-of-three partitions,
 * heap-select past the depth limit, insertion sort below 4 elements). A 16-bit tensor has many
 * equal values; sce's selection by variance meets them at its cut.
 */

type Pairs = { readonly v: Float32Array; readonly ix: Int32Array };

/** torch's comparator for largest: x sorts before y. */
function before(x: number, y: number): boolean {
  return (Number.isNaN(x) && !Number.isNaN(y)) || x > y;
}

/** A 0/1 mask of the k entries torch.topk(values, k) returns. */
export function torchTopkMask(values: Float32Array, k: number): Uint8Array {
  const n = values.length;
  const mask = new Uint8Array(n);
  if (k <= 0) return mask;
  if (k >= n) return mask.fill(1);
  const p: Pairs = { v: Float32Array.from(values), ix: Int32Array.from({ length: n }, (_, i) => i) };
  if (k * 64 <= n) heapSelect(p, 0, k, n);
  else introselect(p, 0, k - 1, n, 2 * (31 - Math.clz32(n)));
  for (let i = 0; i < k; i++) mask[p.ix[i]!] = 1;
  return mask;
}

function swap(p: Pairs, a: number, b: number): void {
  const tv = p.v[a]!;
  p.v[a] = p.v[b]!;
  p.v[b] = tv;
  const ti = p.ix[a]!;
  p.ix[a] = p.ix[b]!;
  p.ix[b] = ti;
}

function introselect(p: Pairs, first: number, nth: number, last: number, depth: number): void {
  while (last - first > 3) {
    if (depth === 0) {
      heapSelect(p, first, nth + 1, last);
      swap(p, first, nth);
      return;
    }
    depth--;
    const cut = partitionPivot(p, first, last);
    if (cut <= nth) first = cut;
    else last = cut;
  }
  insertionSort(p, first, last);
}

function partitionPivot(p: Pairs, first: number, last: number): number {
  const mid = first + ((last - first) >> 1);
  moveMedianToFirst(p, first, first + 1, mid, last - 1);
  return unguardedPartition(p, first + 1, last, first);
}

function moveMedianToFirst(p: Pairs, result: number, a: number, b: number, c: number): void {
  const v = p.v;
  if (before(v[a]!, v[b]!)) {
    if (before(v[b]!, v[c]!)) swap(p, result, b);
    else if (before(v[a]!, v[c]!)) swap(p, result, c);
    else swap(p, result, a);
  } else if (before(v[a]!, v[c]!)) swap(p, result, a);
  else if (before(v[b]!, v[c]!)) swap(p, result, c);
  else swap(p, result, b);
}

function unguardedPartition(p: Pairs, first: number, last: number, pivot: number): number {
  const v = p.v;
  for (;;) {
    while (before(v[first]!, v[pivot]!)) first++;
    last--;
    while (before(v[pivot]!, v[last]!)) last--;
    if (!(first < last)) return first;
    swap(p, first, last);
    first++;
  }
}

function insertionSort(p: Pairs, first: number, last: number): void {
  if (first === last) return;
  const { v, ix } = p;
  for (let i = first + 1; i < last; i++) {
    const vv = v[i]!;
    const vi = ix[i]!;
    if (before(vv, v[first]!)) {
      v.copyWithin(first + 1, first, i);
      ix.copyWithin(first + 1, first, i);
      v[first] = vv;
      ix[first] = vi;
    } else {
      let hole = i;
      while (before(vv, v[hole - 1]!)) {
        v[hole] = v[hole - 1]!;
        ix[hole] = ix[hole - 1]!;
        hole--;
      }
      v[hole] = vv;
      ix[hole] = vi;
    }
  }
}

/** std::__heap_select: a heap of [first, middle), then each later element that sorts before its top replaces it. */
function heapSelect(p: Pairs, first: number, middle: number, last: number): void {
  const len = middle - first;
  if (len >= 2) {
    for (let parent = (len - 2) >> 1; ; parent--) {
      adjustHeap(p, first, parent, len, p.v[first + parent]!, p.ix[first + parent]!);
      if (parent === 0) break;
    }
  }
  for (let i = middle; i < last; i++) {
    if (before(p.v[i]!, p.v[first]!)) {
      // __pop_heap(first, middle, i)
      const vv = p.v[i]!;
      const vi = p.ix[i]!;
      p.v[i] = p.v[first]!;
      p.ix[i] = p.ix[first]!;
      adjustHeap(p, first, 0, len, vv, vi);
    }
  }
}

function adjustHeap(p: Pairs, first: number, hole: number, len: number, vv: number, vi: number): void {
  const { v, ix } = p;
  const top = hole;
  let child = hole;
  while (child < ((len - 1) >> 1)) {
    child = 2 * (child + 1);
    if (before(v[first + child]!, v[first + child - 1]!)) child--;
    v[first + hole] = v[first + child]!;
    ix[first + hole] = ix[first + child]!;
    hole = child;
  }
  if ((len & 1) === 0 && child === (len - 2) >> 1) {
    child = 2 * (child + 1);
    v[first + hole] = v[first + child - 1]!;
    ix[first + hole] = ix[first + child - 1]!;
    hole = child - 1;
  }
  let parent = (hole - 1) >> 1;
  while (hole > top && before(v[first + parent]!, vv)) {
    v[first + hole] = v[first + parent]!;
    ix[first + hole] = ix[first + parent]!;
    hole = parent;
    parent = (hole - 1) >> 1;
  }
  v[first + hole] = vv;
  ix[first + hole] = vi;
}
