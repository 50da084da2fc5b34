/**
 * The order torch's CPU sort (stable=False) gives, for parity at ties. torch sorts (value, index)
 * pairs with std::sort comparing values only; with libstdc++ that is introsort — median-of-three
 * quicksort down to runs of 16, heapsort past a depth limit, then insertion sort — so among equal
 * values the order depends on the whole array. This is a line-for-line model of libstdc++'s
 * std::sort, run on the index array alone: entry p's value is read through it (values[ix[p]]),
 * never moved. Every comparison std::sort makes between the pair at position a and the pair at b
 * is made here between values[ix[a]] and values[ix[b]] — the same two values, since both arrays
 * always undergo the same moves — so every branch, and with it the index order, is the same; the
 * values stay where they are, so nothing has to put them back, and a selection needs no copy of
 * them. Comparisons are on integer keys (sortKeys): the same outcomes as torch's float
 * comparator, without a NaN test per comparison. It is only needed when equal values straddle a
 * cut (select.ts decides); otherwise any order gives the same kept set.
 */

const THRESHOLD = 16;

/**
 * Where the keys come from: |x| (x's own bits, read without the sign), or signed x (a key array
 * made once). Keys are int32 whose order is torch's comparator order (sortKeys).
 */
type Keys = { readonly abs: Uint32Array; readonly descending: boolean } | { readonly signed: Int32Array };

const ABS_BITS = 0x7fffffff;
/** +∞'s bits + 1: where every NaN of |x| goes. */
const ABS_NAN = 0x7f800001;
const SIGN = 0x80000000;

/**
 * Integer keys whose order is torch's comparator order over `values` (|values| with `abs`),
 * ascending: less(a, b) ⟺ key(a) < key(b). For |x| no array is made: a non-negative float's bits
 * are ordered as the float, and min(bits, ABS_NAN) makes every NaN one key above +∞ (NaN sorts
 * last ascending and first descending in torch: the largest, in both); a descending sort reads
 * ABS_NAN − key. Signed values get their keys once: negative floats' bits reversed below the
 * positive ones, −0 and +0 one key (they compare equal), every NaN the largest key, all shifted by
 * 2^31 so that int32 comparison is the unsigned order; a descending sort negates them.
 */
function sortKeys(values: Float32Array, abs: boolean, descending: boolean): Keys {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  if (abs) return { abs: bits, descending };
  const keys = new Int32Array(values.length);
  for (let i = 0; i < keys.length; i++) {
    const b = bits[i]!;
    let u: number;
    if ((b & ABS_BITS) > 0x7f800000) u = 0xffffffff;
    else if (b === SIGN) u = SIGN;
    else u = b & SIGN ? ~b >>> 0 : (b | SIGN) >>> 0;
    // u − 2^31 as int32; negated for descending (−(−2^31) is out of range: −0x7fffffff − 1 stays the least).
    const k = (u ^ SIGN) | 0;
    keys[i] = descending ? (k === -0x80000000 ? 0x7fffffff : -k) : k;
  }
  return { signed: keys };
}

/** Indices of `values` in the order torch.sort(values, descending, stable=False) returns on CPU. */
export function torchSortOrder(values: Float32Array, descending: boolean): Int32Array {
  return torchOrder(values, descending, false);
}

/** Indices of |values| in the order torch.sort(|values|, descending) returns on CPU; `values` is only read. */
export function torchAbsSortOrder(values: Float32Array, descending: boolean): Int32Array {
  return torchOrder(values, descending, true);
}

function torchOrder(values: Float32Array, descending: boolean, abs: boolean): Int32Array {
  const n = values.length;
  const idx = identity(n);
  if (n < 2) return idx;
  new IndexIntroSort(sortKeys(values, abs, descending), idx).sort();
  return idx;
}

function identity(n: number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return idx;
}

/**
 * A 0/1 mask of the entries at positions [lo, hi) of torch's sort order of `values` (of |values|
 * with `abs`) — without sorting everything. A partition separates its two sides for good (the
 * final insertion sort never moves an element across a cut, as everything left of it is ≤ the
 * pivot ≤ everything right), so, as in quickselect, only the ranges that hold a cut position need
 * following; a range of ≤ 16 left by introsort ends up insertion-sorted, which is stable. Same
 * result as maskFromOrder(torchSortOrder). `values` is only read; beside it the selection holds one
 * index per entry, and the mask returned is written over that index array's first n bytes (it
 * keeps the array's buffer alive while it lives).
 */
export function torchSortRangeMask(values: Float32Array, descending: boolean, lo: number, hi: number, abs = false): Uint8Array {
  const n = values.length;
  lo = Math.max(0, lo);
  hi = Math.min(n, hi);
  if (hi <= lo) return new Uint8Array(n);
  const idx = identity(n);
  if (n >= 2) new IndexIntroSort(sortKeys(values, abs, descending), idx).select([lo, hi].filter((b) => b > 0 && b < n));
  // Kept entries are marked in the sign bit of their own slot (indices are below 2^31), then the
  // mask is written over the array's first bytes: byte i overwrites slot i >> 2, already read.
  for (let p = lo; p < hi; p++) {
    const i = idx[p]! & ABS_BITS;
    idx[i] = idx[i]! | SIGN;
  }
  const mask = new Uint8Array(idx.buffer, 0, n);
  for (let i = 0; i < n; i++) mask[i] = idx[i]! >>> 31;
  return mask;
}

/**
 * A selection reads keys through the index array until the range it follows is at most this
 * share of the array (the first partitions, which visit most entries, scan it in order from both
 * ends); from there on the range's keys are gathered once and moved with the indices, as pairs:
 * deeper partitions would otherwise read them scattered (~10 ns a read against ~2). The gathered
 * keys cost an eighth of an index array.
 */
const CARRY_SHARE = 8;

/**
 * libstdc++'s std::sort (and a selection by it) over the index array; see the module comment.
 * Within a range whose keys are carried (`carry`, position p's key at carry[p − off]), every move
 * of an index moves its key the same way, so `at` reads the same key either way.
 */
class IndexIntroSort {
  /** |x|'s bits (abs), else empty. */
  private readonly bits: Uint32Array;
  /** Signed keys, else empty. */
  private readonly keys: Int32Array;
  private readonly mode: 0 | 1 | 2;
  private carry: Int32Array | undefined;
  private off = 0;

  constructor(
    source: Keys,
    private readonly ix: Int32Array,
  ) {
    this.bits = 'abs' in source ? source.abs : new Uint32Array(0);
    this.keys = 'signed' in source ? source.signed : new Int32Array(0);
    this.mode = 'signed' in source ? 2 : source.descending ? 1 : 0;
  }

  /** The ascending key of entry i (an index into the values, not a position). */
  private key(i: number): number {
    if (this.mode === 2) return this.keys[i]!;
    const k = Math.min(this.bits[i]! & ABS_BITS, ABS_NAN);
    return this.mode === 1 ? ABS_NAN - k : k;
  }

  /** The key of the entry at position p. */
  private at(p: number): number {
    const c = this.carry;
    return c ? c[p - this.off]! : this.key(this.ix[p]!);
  }

  /** From now on positions [first, last) carry their keys. */
  private gather(first: number, last: number): void {
    const c = new Int32Array(last - first);
    for (let p = first; p < last; p++) c[p - first] = this.key(this.ix[p]!);
    this.carry = c;
    this.off = first;
  }

  sort(): void {
    const n = this.ix.length;
    // Every entry is visited about log n times: the keys travel with the indices from the start.
    this.gather(0, n);
    this.introsortLoop(0, n, 2 * (31 - Math.clz32(n)));
    this.finalInsertionSort(0, n);
    this.carry = undefined;
  }

  /** Orders the array only as far as needed to know which entries lie before each cut in `cuts`. */
  select(cuts: readonly number[]): void {
    const n = this.ix.length;
    if (cuts.length > 0) this.selectLoop(0, n, 2 * (31 - Math.clz32(n)), cuts);
  }

  private selectLoop(first: number, last: number, depth: number, cuts: readonly number[]): void {
    const holdsCut = (a: number, b: number) => cuts.some((c) => a < c && c < b);
    // The range that gathers its keys lets them go when it is done (another cut's range may follow).
    const gathers = !this.carry && holdsCut(first, last) && (last - first) * CARRY_SHARE <= this.ix.length;
    if (gathers) this.gather(first, last);
    while (last - first > THRESHOLD) {
      if (!holdsCut(first, last)) break;
      if (depth === 0) {
        this.heapSort(first, last);
        break;
      }
      depth--;
      const cut = this.partitionPivot(first, last);
      this.selectLoop(cut, last, depth, cuts);
      last = cut;
    }
    if (last - first <= THRESHOLD && holdsCut(first, last)) this.insertionSort(first, last);
    if (gathers) this.carry = undefined;
  }

  private swap(a: number, b: number): void {
    const ix = this.ix;
    const t = ix[a]!;
    ix[a] = ix[b]!;
    ix[b] = t;
    const c = this.carry;
    if (c) {
      const o = this.off;
      const k = c[a - o]!;
      c[a - o] = c[b - o]!;
      c[b - o] = k;
    }
  }

  /** Moves position `from` to `to` (index, and key where carried). */
  private move(from: number, to: number): void {
    this.ix[to] = this.ix[from]!;
    const c = this.carry;
    if (c) c[to - this.off] = c[from - this.off]!;
  }

  /** Puts entry `i` with key `k` at position p. */
  private put(p: number, i: number, k: number): void {
    this.ix[p] = i;
    const c = this.carry;
    if (c) c[p - this.off] = k;
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
    return this.carry ? this.carriedPartition(first + 1, last, first) : this.unguardedPartition(first + 1, last, first);
  }

  private moveMedianToFirst(result: number, a: number, b: number, c: number): void {
    const ka = this.at(a);
    const kb = this.at(b);
    const kc = this.at(c);
    if (ka < kb) {
      if (kb < kc) this.swap(result, b);
      else if (ka < kc) this.swap(result, c);
      else this.swap(result, a);
    } else if (ka < kc) this.swap(result, a);
    else if (kb < kc) this.swap(result, c);
    else this.swap(result, b);
  }

  /**
   * The pivot stays at `pivot` throughout (the scan starts after it), so its key is read once. The
   * descending |x| sort (TIES's trim) has its keys worked out inline: this loop visits most entries
   * several times over, and a call per key cost about half of it.
   */
  private unguardedPartition(first: number, last: number, pivot: number): number {
    const ix = this.ix;
    const kp = this.at(pivot);
    if (this.mode === 1) {
      const bits = this.bits;
      // key(i) < kp ⟺ ABS_NAN − min(|bits|, ABS_NAN) < kp ⟺ min(|bits|, ABS_NAN) > ABS_NAN − kp.
      const cut = ABS_NAN - kp;
      for (;;) {
        while (Math.min(bits[ix[first]!]! & ABS_BITS, ABS_NAN) > cut) first++;
        last--;
        while (cut > Math.min(bits[ix[last]!]! & ABS_BITS, ABS_NAN)) last--;
        if (!(first < last)) return first;
        const t = ix[first]!;
        ix[first] = ix[last]!;
        ix[last] = t;
        first++;
      }
    }
    for (;;) {
      while (this.key(ix[first]!) < kp) first++;
      last--;
      while (kp < this.key(ix[last]!)) last--;
      if (!(first < last)) return first;
      const t = ix[first]!;
      ix[first] = ix[last]!;
      ix[last] = t;
      first++;
    }
  }

  /** unguardedPartition where the keys are carried: the same comparisons and moves, on pairs. */
  private carriedPartition(first: number, last: number, pivot: number): number {
    const ix = this.ix;
    const c = this.carry!;
    const o = this.off;
    const kp = c[pivot - o]!;
    for (;;) {
      while (c[first - o]! < kp) first++;
      last--;
      while (kp < c[last - o]!) last--;
      if (!(first < last)) return first;
      const t = ix[first]!;
      ix[first] = ix[last]!;
      ix[last] = t;
      const k = c[first - o]!;
      c[first - o] = c[last - o]!;
      c[last - o] = k;
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
    for (let i = first + 1; i < last; i++) {
      if (this.at(i) < this.at(first)) {
        const vi = this.ix[i]!;
        const vk = this.at(i);
        for (let p = i; p > first; p--) this.move(p - 1, p);
        this.put(first, vi, vk);
      } else {
        this.unguardedLinearInsert(i);
      }
    }
  }

  private unguardedLinearInsert(last: number): void {
    const vi = this.ix[last]!;
    const vk = this.at(last);
    let next = last - 1;
    while (vk < this.at(next)) {
      this.move(next, last);
      last = next;
      next--;
    }
    this.put(last, vi, vk);
  }

  // std::__partial_sort(first, last, last): make_heap, then sort_heap.
  private heapSort(first: number, last: number): void {
    const len = last - first;
    if (len >= 2) {
      for (let parent = (len - 2) >> 1; ; parent--) {
        this.adjustHeap(first, parent, len, this.ix[first + parent]!, this.at(first + parent));
        if (parent === 0) break;
      }
    }
    while (last - first > 1) {
      last--;
      const vi = this.ix[last]!;
      const vk = this.at(last);
      this.move(first, last);
      this.adjustHeap(first, 0, last - first, vi, vk);
    }
  }

  private adjustHeap(first: number, hole: number, len: number, vi: number, vk: number): void {
    const top = hole;
    let child = hole;
    while (child < ((len - 1) >> 1)) {
      child = 2 * (child + 1);
      if (this.at(first + child) < this.at(first + child - 1)) child--;
      this.move(first + child, first + hole);
      hole = child;
    }
    if ((len & 1) === 0 && child === (len - 2) >> 1) {
      child = 2 * (child + 1);
      this.move(first + child - 1, first + hole);
      hole = child - 1;
    }
    // __push_heap
    let parent = (hole - 1) >> 1;
    while (hole > top && this.at(first + parent) < vk) {
      this.move(first + parent, first + hole);
      hole = parent;
      parent = (hole - 1) >> 1;
    }
    this.put(first + hole, vi, vk);
  }
}

/**
 * TIES's trim where equal magnitudes straddle the cut: the mask of torch.argsort(|x|,
 * descending)[:k], given the magnitude at the cut (`threshold`, |x|'s bits, not a NaN) and how many
 * entries have it (`tied`). The same std::sort selection as torchSortRangeMask, on different
 * bookkeeping: entries above or below the threshold are kept or dropped by their magnitude alone,
 * wherever the sort leaves them, so only the tied entries' identities need following. Each
 * position holds its entry's key, a tied entry's as −1 − (its ordinal among the tied): every
 * comparison reads one sequential int32 instead of a value through an index (the scattered reads
 * were most of a large tensor's trim), and every move is the one the index sort makes, so the tied
 * entries end where torch puts them. Beside x it holds one int32 per entry, as the index sort does.
 */
export function torchTopKAbsTieMask(x: Float32Array, k: number, threshold: number, tied: number): Uint8Array {
  const n = x.length;
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  const { keys, tiedAt } = selectTied(bits, k, threshold, tied);
  // The keys are read: the mask is written over their first n bytes (byte i over slot i >> 2, already passed).
  const mask = new Uint8Array(keys.buffer, 0, n);
  // A NaN's bits are above +∞'s, so above any threshold: kept, as its largest key says.
  for (let i = 0; i < n; i++) mask[i] = (bits[i]! & ABS_BITS) > threshold ? 1 : 0;
  for (let j = 0; j < tied; j++) if (tiedAt[j]! & SIGN) mask[tiedAt[j]! & ABS_BITS] = 1;
  return mask;
}

/**
 * As torchTopKAbsTieMask, applied to x itself: every entry the trim drops becomes x·0 (the signed
 * zero, or NaN for ±∞, that a product with the mask gives), with no mask made. Each entry's bits
 * are read before it is written.
 */
export function torchTopKAbsTieZero(x: Float32Array, k: number, threshold: number, tied: number): void {
  const n = x.length;
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  const { tiedAt } = selectTied(bits, k, threshold, tied);
  // x·1 or x·0 without a branch (which entries the trim drops is random: a branch mispredicts
  // often): (threshold − 1 − |bits|) >>> 31 is 1 exactly when |bits| ≥ threshold.
  for (let i = 0; i < n; i++) x[i] = x[i]! * ((threshold - 1 - (bits[i]! & ABS_BITS)) >>> 31);
  for (let j = 0; j < tied; j++) if (!(tiedAt[j]! & SIGN)) x[tiedAt[j]!] = x[tiedAt[j]!]! * 0;
}

/**
 * The std::sort selection of the top k by magnitude, following the tied entries: their indices
 * (tiedAt, in index order), each marked in its sign bit when the cut keeps it; and the key array,
 * spent, for a caller to write over.
 */
function selectTied(bits: Uint32Array, k: number, threshold: number, tied: number): { keys: Int32Array; tiedAt: Int32Array } {
  const n = bits.length;
  if (!(threshold >= 0 && threshold <= 0x7f800000)) throw new RangeError(`torch top-k ties: threshold bits ${threshold} are not a magnitude below NaN`);
  const keys = new Int32Array(n);
  const tiedAt = new Int32Array(tied);
  let t = 0;
  // The threshold is no NaN, so an entry ties exactly when its bits equal it; every NaN's key is 0.
  for (let i = 0; i < n; i++) {
    const a = bits[i]! & ABS_BITS;
    if (a === threshold) {
      tiedAt[t] = i;
      keys[i] = -1 - t++;
    } else keys[i] = a >= ABS_NAN ? 0 : ABS_NAN - a;
  }
  if (t !== tied) throw new RangeError(`torch top-k ties: ${t} entries at the threshold, ${tied} expected`);
  if (k > 0 && k < n) new TieSelect(keys, ABS_NAN - threshold).select(k);
  for (let p = 0; p < k; p++) {
    const c = keys[p]!;
    if (c < 0) tiedAt[-1 - c] = tiedAt[-1 - c]! | SIGN;
  }
  return { keys, tiedAt };
}

/**
 * IndexIntroSort's selection (libstdc++'s std::sort followed only where the cut lies) over encoded
 * keys: c ≥ 0 is a key, c < 0 a tied entry whose key is `tiedKey`. The comparisons and moves are
 * IndexIntroSort's, line for line.
 */
class TieSelect {
  constructor(
    private readonly k: Int32Array,
    private readonly tiedKey: number,
  ) {}

  private at(p: number): number {
    const c = this.k[p]!;
    return c < 0 ? this.tiedKey : c;
  }

  select(cut: number): void {
    const n = this.k.length;
    this.selectLoop(0, n, 2 * (31 - Math.clz32(n)), cut);
  }

  private selectLoop(first: number, last: number, depth: number, cut: number): void {
    while (last - first > THRESHOLD) {
      if (!(first < cut && cut < last)) break;
      if (depth === 0) {
        this.heapSort(first, last);
        break;
      }
      depth--;
      const mid = this.partitionPivot(first, last);
      this.selectLoop(mid, last, depth, cut);
      last = mid;
    }
    if (last - first <= THRESHOLD && first < cut && cut < last) this.insertionSort(first, last);
  }

  private swap(a: number, b: number): void {
    const k = this.k;
    const t = k[a]!;
    k[a] = k[b]!;
    k[b] = t;
  }

  private partitionPivot(first: number, last: number): number {
    const mid = first + ((last - first) >> 1);
    this.moveMedianToFirst(first, first + 1, mid, last - 1);
    return this.unguardedPartition(first + 1, last, first);
  }

  private moveMedianToFirst(result: number, a: number, b: number, c: number): void {
    const ka = this.at(a);
    const kb = this.at(b);
    const kc = this.at(c);
    if (ka < kb) {
      if (kb < kc) this.swap(result, b);
      else if (ka < kc) this.swap(result, c);
      else this.swap(result, a);
    } else if (ka < kc) this.swap(result, a);
    else if (kb < kc) this.swap(result, c);
    else this.swap(result, b);
  }

  private unguardedPartition(first: number, last: number, pivot: number): number {
    const k = this.k;
    const tiedKey = this.tiedKey;
    const kp = this.at(pivot);
    for (;;) {
      for (;;) {
        const c = k[first]!;
        if ((c < 0 ? tiedKey : c) < kp) first++;
        else break;
      }
      last--;
      for (;;) {
        const c = k[last]!;
        if (kp < (c < 0 ? tiedKey : c)) last--;
        else break;
      }
      if (!(first < last)) return first;
      const t = k[first]!;
      k[first] = k[last]!;
      k[last] = t;
      first++;
    }
  }

  private insertionSort(first: number, last: number): void {
    if (first === last) return;
    for (let i = first + 1; i < last; i++) {
      if (this.at(i) < this.at(first)) {
        const v = this.k[i]!;
        for (let p = i; p > first; p--) this.k[p] = this.k[p - 1]!;
        this.k[first] = v;
      } else {
        this.unguardedLinearInsert(i);
      }
    }
  }

  private unguardedLinearInsert(last: number): void {
    const v = this.k[last]!;
    const vk = this.at(last);
    let next = last - 1;
    while (vk < this.at(next)) {
      this.k[last] = this.k[next]!;
      last = next;
      next--;
    }
    this.k[last] = v;
  }

  // std::__partial_sort(first, last, last): make_heap, then sort_heap.
  private heapSort(first: number, last: number): void {
    const len = last - first;
    if (len >= 2) {
      for (let parent = (len - 2) >> 1; ; parent--) {
        this.adjustHeap(first, parent, len, this.k[first + parent]!);
        if (parent === 0) break;
      }
    }
    while (last - first > 1) {
      last--;
      const v = this.k[last]!;
      this.k[last] = this.k[first]!;
      this.adjustHeap(first, 0, last - first, v);
    }
  }

  private adjustHeap(first: number, hole: number, len: number, v: number): void {
    const top = hole;
    const vk = v < 0 ? this.tiedKey : v;
    let child = hole;
    while (child < ((len - 1) >> 1)) {
      child = 2 * (child + 1);
      if (this.at(first + child) < this.at(first + child - 1)) child--;
      this.k[first + hole] = this.k[first + child]!;
      hole = child;
    }
    if ((len & 1) === 0 && child === (len - 2) >> 1) {
      child = 2 * (child + 1);
      this.k[first + hole] = this.k[first + child - 1]!;
      hole = child - 1;
    }
    // __push_heap
    let parent = (hole - 1) >> 1;
    while (hole > top && this.at(first + parent) < vk) {
      this.k[first + hole] = this.k[first + parent]!;
      hole = parent;
      parent = (hole - 1) >> 1;
    }
    this.k[first + hole] = v;
  }
}
