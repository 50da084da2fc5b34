/**
 * Singular value decomposition for Twin-Merging (each expert-minus-shared delta truncated to rank
 * r, spec "Twin-Merging" step 2) and the lab's SVD spectrum chart (spec "Diagnostics").
 *
 * Pure, synchronous Float64 code over row-major arrays: it runs the same in Node, a worker and
 * tests, and needs no tfjs. Two algorithms:
 * - exactSvd: one-sided (Hestenes) Jacobi, which is accurate in the small singular values and
 *   gives orthonormal factors to rounding. It works on the k = min(m, n) rows of the smaller side,
 *   first compressed to a k × k triangle by a Householder LQ when the other side is longer, so a
 *   sweep costs O(k³) whatever the long side is.
 * - randomizedSvd: Halko, Martinsson & Tropp, "Finding structure with randomness" (2011),
 *   Algorithms 4.4 (randomized subspace iteration) and 5.1 (direct SVD of the projection), for a
 *   few leading triplets of a large matrix at O(mn(rank + oversample)) per pass over it.
 *
 * Internally everything is kept as sets of rows (k × L row-major), so every inner loop runs over
 * contiguous memory, and the input matrix is only ever read row by row. randomizedSvd's passes
 * over A and its orthonormalisations run on WebAssembly SIMD kernels (kernels.ts, float64 pairs,
 * the same bits everywhere); the exact path is plain JavaScript, as it was.
 */
import { MergeLabError } from '../errors.js';
import { createRandom } from '../random.js';
import { KernelHeap, roundUp } from './kernels.js';

export interface Svd {
  readonly m: number;
  readonly n: number;
  /** Number of singular triplets kept. */
  readonly k: number;
  /** m × k, row-major, orthonormal columns. */
  readonly u: Float64Array;
  /** k singular values, descending, ≥ 0. */
  readonly s: Float64Array;
  /** n × k, row-major, orthonormal columns: A ≈ U·diag(s)·Vᵀ. */
  readonly v: Float64Array;
}

export interface RandomizedSvdOptions {
  /** Triplets wanted (k = min(rank, m, n)). */
  rank: number;
  /** Extra sketch columns beyond `rank` (default 10): the error bound loosens quickly below ~5. */
  oversample?: number;
  /** Subspace iterations (default 4): each sharpens a slowly decaying spectrum by another power. */
  powerIterations?: number;
  /** Seed of the Gaussian test matrix (default 0): same seed, same result. */
  seed?: number;
}

/**
 * At or below this min(m, n), truncatedSvd computes every triplet exactly. Measured (Node 20, one
 * core of a 2-core EPYC VM): exact 64 × 64 takes 7 ms and 64 × 1024 35 ms, against 2 and 20 ms
 * for randomized rank 8 — too little to give up the optimal truncation for. Past it exact grows
 * as min(m, n)³ (128 × 128: 51 ms vs 5 ms; 256 × 256: 430 ms vs 15 ms) while randomized stays near
 * 10 passes over A.
 */
export const EXACT_SVD_MAX_MIN_DIM = 64;

const EPS = 2.220446049250313e-16;
/** A Jacobi sweep converges quadratically once close; this only stops a pathological input. */
const MAX_SWEEPS = 60;

// ---------------------------------------------------------------------------------------------
// Validation

function checkDims(m: number, n: number, where: string): void {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || n < 1) {
    throw new MergeLabError('PARAMETER_INVALID', `${where}: matrix shape ${m} × ${n} is not valid; m and n must be positive integers.`);
  }
}

function checkMatrix(a: ArrayLike<number>, m: number, n: number, where: string): void {
  checkDims(m, n, where);
  if (a.length !== m * n) {
    throw new MergeLabError(
      'SHAPE_MISMATCH',
      `${where}: the matrix has ${a.length} values but its shape ${m} × ${n} needs ${m * n}; pass the row-major data of an m × n matrix.`,
    );
  }
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (!Number.isFinite(x)) {
      throw new MergeLabError(
        'PARAMETER_INVALID',
        `${where}: entry (${Math.floor(i / n)}, ${i % n}) is ${x}; the SVD needs finite values — check the tensor for overflow or NaN first.`,
      );
    }
  }
}

function checkCount(value: number, min: number, name: string, where: string): void {
  if (!Number.isInteger(value) || value < min) {
    throw new MergeLabError('PARAMETER_INVALID', `${where}: ${name} is ${value}; it must be an integer ≥ ${min}.`);
  }
}

function checkSvd(svd: Svd, where: string): void {
  const { m, n, k, u, s, v } = svd;
  checkDims(m, n, where);
  if (!Number.isInteger(k) || k < 0 || k > Math.min(m, n) || u.length !== m * k || s.length !== k || v.length !== n * k) {
    throw new MergeLabError(
      'SHAPE_MISMATCH',
      `${where}: the SVD's factors do not fit together (m ${m}, n ${n}, k ${k}, u ${u.length}, s ${s.length}, v ${v.length}); pass an Svd from exactSvd, randomizedSvd or truncatedSvd.`,
    );
  }
}

/** The rank asked of reconstruct/frobeniusError: all triplets by default, at most k of them. */
function keptRank(svd: Svd, rank: number | undefined, where: string): number {
  if (rank === undefined) return svd.k;
  checkCount(rank, 0, 'rank', where);
  return Math.min(rank, svd.k);
}

// ---------------------------------------------------------------------------------------------
// Small dense kernels over row sets

/**
 * Divides w in place by the power of two nearest its largest |entry| (exact) and returns the
 * exponent, to multiply σ back by (scaleBy). Both algorithms work with squared norms and products
 * of entries: scaled to about 1, those stay normal doubles for every finite input. Entries below
 * 2^−300 of the largest are then set to 0: their squares would be subnormal, whose lost precision
 * breaks the orthogonality of the normalised rows, and they change σ by under 1e−88 relative.
 */
function rescale(w: Float64Array): number {
  let maxAbs = 0;
  for (let i = 0; i < w.length; i++) maxAbs = Math.max(maxAbs, Math.abs(w[i]!));
  if (maxAbs === 0) return 0;
  const e = Math.round(Math.log2(maxAbs));
  const floor = 2 ** -300;
  for (let i = 0; i < w.length; i++) {
    const x = scaleBy(w[i]!, -e);
    w[i] = Math.abs(x) < floor ? 0 : x;
  }
  return e;
}

/** σ1 can exceed the largest double when entries come within √k of it. */
function checkRepresentable(sigma: Float64Array): void {
  if (sigma.length > 0 && !Number.isFinite(sigma[0]!)) {
    throw new MergeLabError('PARAMETER_INVALID', `SVD: the largest singular value exceeds the double range (entries near ${Number.MAX_VALUE}); scale the matrix down first.`);
  }
}

/** 2^e as two factors, each a normal double: 2^±1074 alone would overflow or flush. */
function halves(e: number): [number, number] {
  const half = Math.trunc(e / 2);
  return [2 ** half, 2 ** (e - half)];
}

/** x·2^e, exactly unless the result is subnormal. */
function scaleBy(x: number, e: number): number {
  const [h1, h2] = halves(e);
  return x * h1 * h2;
}

function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  // Four partial sums break the add dependency chain (about 2× faster in V8) and round no worse.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    s0 += x[xo + i]! * y[yo + i]!;
    s1 += x[xo + i + 1]! * y[yo + i + 1]!;
    s2 += x[xo + i + 2]! * y[yo + i + 2]!;
    s3 += x[xo + i + 3]! * y[yo + i + 3]!;
  }
  for (; i < len; i++) s0 += x[xo + i]! * y[yo + i]!;
  return s0 + s1 + s2 + s3;
}

function swapRows(w: Float64Array, po: number, qo: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const t = w[po + i]!;
    w[po + i] = w[qo + i]!;
    w[qo + i] = t;
  }
}

/** Applies the plane rotation [c −s; s c] to rows p and q (length len) of w. */
function rotateRows(w: Float64Array, po: number, qo: number, len: number, c: number, s: number): void {
  for (let i = 0; i < len; i++) {
    const x = w[po + i]!;
    const y = w[qo + i]!;
    w[po + i] = c * x - s * y;
    w[qo + i] = s * x + c * y;
  }
}

/**
 * The row operations of the Householder steps: JavaScript (JS_ROWS, the exact SVD's), or the SIMD
 * kernels over rows held in a KernelHeap's memory (heapRows, the randomized SVD's).
 */
interface RowOps {
  dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number;
  /** dst[do + j] −= d·src[so + j] for j < len. */
  axpy(d: number, src: Float64Array, so: number, dst: Float64Array, dstOffset: number, len: number): void;
  /** A zeroed array these operations can work on. */
  alloc(length: number): Float64Array;
}

const JS_ROWS: RowOps = {
  dot,
  axpy(d, src, so, dst, dstOffset, len) {
    for (let j = 0; j < len; j++) dst[dstOffset + j]! -= d * src[so + j]!;
  },
  alloc: (length) => new Float64Array(length),
};

/** RowOps on the SIMD kernels: every array they see is a view into `heap`'s memory (alloc's). */
function heapRows(heap: KernelHeap): RowOps {
  return {
    dot: (x, xo, y, yo, len) => heap.dot(x.byteOffset + 8 * xo, y.byteOffset + 8 * yo, len),
    axpy: (d, src, so, dst, dstOffset, len) => heap.axpy(d, src.byteOffset + 8 * so, dst.byteOffset + 8 * dstOffset, len),
    alloc: (length) => heap.f64(length).view,
  };
}

/**
 * Householder LQ of the k × L row-major w (k ≤ L), in place: P·w = Lmat·Qᵀ with Lmat k × k lower
 * triangular, Qᵀ k × L with orthonormal rows and P a row permutation (perm[i] = the original row
 * at position i; the identity unless `pivot`). On return row i of w holds reflector i in positions
 * i..L−1 (H_i = I − beta_i·v·vᵀ; beta_i = 0 means no reflection, for an all-zero remainder).
 * Expects w rescaled (rescale) to a largest entry near 1.
 * Pivoting brings the row with the largest remaining norm first (Businger–Golub), which makes
 * |Lmat_ii| decrease: the graded triangle that lets Jacobi converge in few sweeps.
 */
function householderLq(w: Float64Array, k: number, L: number, pivot: boolean, ops: RowOps = JS_ROWS): { lower: Float64Array; beta: Float64Array; perm: Int32Array } {
  const lower = new Float64Array(k * k);
  const beta = new Float64Array(k);
  const perm = Int32Array.from({ length: k }, (_, i) => i);
  // Remaining squared norms, downdated after each step and recomputed when cancellation would
  // make the downdate meaningless (as LAPACK's xGEQP3 does).
  const rest = new Float64Array(pivot ? k : 0);
  const fresh = new Float64Array(pivot ? k : 0);
  if (pivot) for (let r = 0; r < k; r++) fresh[r] = rest[r] = ops.dot(w, r * L, w, r * L, L);
  for (let i = 0; i < k; i++) {
    if (pivot) {
      let best = i;
      for (let r = i + 1; r < k; r++) if (rest[r]! > rest[best]!) best = r;
      if (best !== i) {
        for (let j = 0; j < L; j++) {
          const t = w[i * L + j]!;
          w[i * L + j] = w[best * L + j]!;
          w[best * L + j] = t;
        }
        [perm[i], perm[best]] = [perm[best]!, perm[i]!];
        [rest[i], rest[best]] = [rest[best]!, rest[i]!];
        [fresh[i], fresh[best]] = [fresh[best]!, fresh[i]!];
      }
    }
    const io = i * L + i;
    const len = L - i;
    const norm = Math.sqrt(ops.dot(w, io, w, io, len));
    // w was rescaled to a largest entry near 1: a remainder below 2^−300 is zero at the
    // resolution rescale keeps, and its reflector (1/norm²) would overflow.
    if (!(norm > 2 ** -300)) continue;
    const x0 = w[io]!;
    // Reflect onto −sign(x0)·‖x‖ so that v0 = x0 + sign(x0)‖x‖ never cancels.
    const alpha = x0 >= 0 ? -norm : norm;
    w[io] = x0 - alpha;
    const b = 1 / (norm * (norm + Math.abs(x0)));
    beta[i] = b;
    lower[i * k + i] = alpha;
    for (let r = i + 1; r < k; r++) {
      const ro = r * L + i;
      const d = b * ops.dot(w, ro, w, io, len);
      if (d !== 0) ops.axpy(d, w, io, w, ro, len);
      if (pivot) {
        const left = rest[r]! - w[ro]! ** 2;
        if (left <= 1e-6 * fresh[r]!) fresh[r] = rest[r] = ops.dot(w, ro + 1, w, ro + 1, len - 1);
        else rest[r] = left;
      }
    }
  }
  for (let r = 1; r < k; r++) for (let c = 0; c < r; c++) lower[r * k + c] = w[r * L + c]!;
  return { lower, beta, perm };
}

/**
 * Rows y (count × L) ← [x 0]·H_{k−1}···H_0 for x count × k: the rows of x expressed through the
 * orthonormal Qᵀ of householderLq (y = x·Qᵀ). With `identity` (x = I), row r skips H_j for j > r,
 * whose support misses e_r.
 */
function applyLqReflectors(
  x: Float64Array,
  count: number,
  k: number,
  reflectors: Float64Array,
  beta: Float64Array,
  L: number,
  identity: boolean,
  ops: RowOps = JS_ROWS,
): Float64Array {
  const y = ops.alloc(count * L);
  for (let r = 0; r < count; r++) {
    const yo = r * L;
    for (let c = 0; c < k; c++) y[yo + c] = x[r * k + c]!;
    for (let i = identity ? Math.min(r, k - 1) : k - 1; i >= 0; i--) {
      const b = beta[i]!;
      if (b === 0) continue;
      const vo = i * L + i;
      const d = b * ops.dot(y, yo + i, reflectors, vo, L - i);
      if (d === 0) continue;
      ops.axpy(d, reflectors, vo, y, yo + i, L - i);
    }
  }
  return y;
}

/**
 * Orthonormal rows (k × L, k ≤ L) spanning at least the row space of w, worked out on the SIMD
 * kernels in a memory of their own (w is copied there; the result is copied back out).
 */
function orthonormalRows(w: Float64Array, k: number, L: number): Float64Array {
  const heap = new KernelHeap(2 * k * L * 8 + 64);
  const ops = heapRows(heap);
  const rows = ops.alloc(k * L);
  rows.set(w);
  rescale(rows);
  const { beta } = householderLq(rows, k, L, false, ops);
  const eye = new Float64Array(k * k);
  for (let i = 0; i < k; i++) eye[i * k + i] = 1;
  return applyLqReflectors(eye, k, k, rows, beta, L, true, ops).slice();
}

/**
 * One-sided Jacobi on the rows of w (k × L), in place: rotations J (accumulated into the k × k
 * rows of `rot`, which starts as the identity) until J·w has mutually orthogonal rows. Then
 * w = Jᵀ·diag(σ)·Zᵀ with σ the row norms and Zᵀ the normalised rows.
 */
function rowJacobi(w: Float64Array, k: number, L: number, rot: Float64Array): void {
  const norms = new Float64Array(k);
  // Rows count as orthogonal once |cos angle| is at the rounding level of a length-L dot product.
  const tol = EPS * Math.max(16, Math.sqrt(L) * 4);
  for (let sweep = 0; ; sweep++) {
    // Fresh norms each sweep: the cheap α − tγ updates below drift by rounding.
    let max = 0;
    for (let i = 0; i < k; i++) max = Math.max(max, (norms[i] = dot(w, i * L, w, i * L, L)));
    // In a rank-deficient matrix, each sweep orthogonalises the rounding noise left in the null
    // rows again, shrinking it geometrically toward subnormal numbers, where norms and the
    // normalised row lose their precision. Below 2^−300 of the largest row (the floor rescale
    // also uses) a row is zero for every purpose: zeroing it moves no σ by a visible amount.
    for (let i = 0; i < k; i++) {
      if (norms[i]! > 0 && norms[i]! < max * 2 ** -600) {
        w.fill(0, i * L, i * L + L);
        norms[i] = 0;
      }
    }
    if (sweep === MAX_SWEEPS) return;
    let rotated = false;
    for (let p = 0; p < k - 1; p++) {
      const po = p * L;
      // de Rijk (1989): the largest remaining row goes first, which saves sweeps (13 → 9 on a
      // random 256 × 256) and leaves the rows roughly sorted.
      {
        let best = p;
        for (let r = p + 1; r < k; r++) if (norms[r]! > norms[best]!) best = r;
        if (best !== p) {
          swapRows(w, po, best * L, L);
          swapRows(rot, p * k, best * k, k);
          [norms[p], norms[best]] = [norms[best]!, norms[p]!];
        }
      }
      for (let q = p + 1; q < k; q++) {
        const alpha = norms[p]!;
        const betaQ = norms[q]!;
        if (alpha === 0 || betaQ === 0) continue;
        const qo = q * L;
        const gamma = dot(w, po, w, qo, L);
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha) * Math.sqrt(betaQ)) continue;
        rotated = true;
        // Rutishauser's formulas: the smaller root t = tan θ keeps the rotation below 45°.
        const zeta = (betaQ - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotateRows(w, po, qo, L, c, s);
        rotateRows(rot, p * k, q * k, k, c, s);
        // The cheap updates cancel when a row nearly vanishes (e.g. two equal rows), and a
        // wrong or negative norm there would steer later rotations: recompute those.
        const floor = 1e-3 * Math.max(alpha, betaQ);
        norms[p] = alpha - t * gamma;
        norms[q] = betaQ + t * gamma;
        if (norms[p]! < floor) norms[p] = dot(w, po, w, po, L);
        if (norms[q]! < floor) norms[q] = dot(w, qo, w, qo, L);
      }
    }
    if (!rotated) return;
  }
}

/**
 * Normalises the rows of z (k × d) by sigma, and replaces the rows whose σ is 0 by unit vectors
 * orthogonal to all others: they span the null space, where any orthonormal completion is right.
 */
function normaliseRows(z: Float64Array, k: number, d: number, sigma: Float64Array): void {
  let missing = 0;
  for (let r = 0; r < k; r++) {
    const s = sigma[r]!;
    if (s > 0) {
      const inv = 1 / s;
      for (let j = 0; j < d; j++) z[r * d + j]! *= inv;
    } else missing++;
  }
  if (missing === 0) return;
  // colSq[j] = Σ over accepted rows of row[j]²  = 1 − ‖(I − P)e_j‖²: the least-covered basis
  // vector always keeps a residual ≥ (d − accepted)/d, so Gram–Schmidt on it cannot break down.
  const colSq = new Float64Array(d);
  const accepted: number[] = [];
  for (let r = 0; r < k; r++) {
    if (!(sigma[r]! > 0)) continue;
    accepted.push(r);
    for (let j = 0; j < d; j++) colSq[j]! += z[r * d + j]! ** 2;
  }
  for (let r = 0; r < k; r++) {
    if (sigma[r]! > 0) continue;
    let best = 0;
    for (let j = 1; j < d; j++) if (colSq[j]! < colSq[best]!) best = j;
    const ro = r * d;
    z.fill(0, ro, ro + d);
    z[ro + best] = 1;
    if (colSq[best]! > 0) {
      // Two passes: one leaves rounding-level components along the accepted rows ("twice is
      // enough", Kahan and Parlett).
      for (let pass = 0; pass < 2; pass++) {
        for (const a of accepted) {
          const proj = dot(z, ro, z, a * d, d);
          for (let j = 0; j < d; j++) z[ro + j]! -= proj * z[a * d + j]!;
        }
      }
      const inv = 1 / Math.sqrt(dot(z, ro, z, ro, d));
      for (let j = 0; j < d; j++) z[ro + j]! *= inv;
    }
    accepted.push(r);
    for (let j = 0; j < d; j++) colSq[j]! += z[ro + j]! ** 2;
  }
}

/**
 * SVD of the k × L row set w (k ≤ L), destroying w: w = Gᵀ·diag(σ)·Hᵀ, with the left vectors as
 * the rows of g (k × k) and the right vectors as the rows of h (k × L), sorted by σ descending.
 */
function rowSvd(w: Float64Array, k: number, L: number): { g: Float64Array; sigma: Float64Array; h: Float64Array } {
  const exponent = rescale(w);

  const rot = new Float64Array(k * k);
  for (let i = 0; i < k; i++) rot[i * k + i] = 1;
  const sorted = (norms: Float64Array) => Array.from({ length: k }, (_, i) => i).sort((x, y) => norms[y]! - norms[x]! || x - y);
  const rowNorms = (x: Float64Array, d: number) => Float64Array.from({ length: k }, (_, i) => Math.sqrt(dot(x, i * d, x, i * d, d)));
  const sigma = new Float64Array(k);
  const g = new Float64Array(k * k);
  let h: Float64Array;
  // A longer side is first compressed to the k × k triangle, so a sweep costs O(k³) not O(k²L).
  // Square inputs skip it: with de Rijk's ordering it saved no sweeps there (9 both ways on a
  // random 256 × 256) and costs about 3k³ flops.
  if (L > k) {
    // Drmač & Veselić (2008): P·w = Lmat·Qᵀ, then Jacobi on the rows of X = Lmatᵀ. X = Jᵀ·Σ·Yᵀ
    // gives w = Pᵀ·Y·Σ·(J·Qᵀ): left vectors Pᵀ·Y, right vectors the rotations through Qᵀ.
    const { lower, beta, perm } = householderLq(w, k, L, true);
    const x = transpose(lower, k, k);
    rowJacobi(x, k, k, rot);
    const raw = rowNorms(x, k);
    const order = sorted(raw);
    const y = new Float64Array(k * k);
    const jr = new Float64Array(k * k);
    for (let c = 0; c < k; c++) {
      const src = order[c]!;
      sigma[c] = raw[src]!;
      y.set(x.subarray(src * k, src * k + k), c * k);
      jr.set(rot.subarray(src * k, src * k + k), c * k);
    }
    normaliseRows(y, k, k, sigma);
    for (let c = 0; c < k; c++) for (let i = 0; i < k; i++) g[c * k + perm[i]!] = y[c * k + i]!;
    h = applyLqReflectors(jr, k, k, w, beta, L, false);
  } else {
    // w = Jᵀ·Σ·Zᵀ straight from the rotated rows.
    rowJacobi(w, k, L, rot);
    const raw = rowNorms(w, L);
    const order = sorted(raw);
    h = new Float64Array(k * L);
    for (let c = 0; c < k; c++) {
      const src = order[c]!;
      sigma[c] = raw[src]!;
      g.set(rot.subarray(src * k, src * k + k), c * k);
      h.set(w.subarray(src * L, src * L + L), c * L);
    }
    normaliseRows(h, k, L, sigma);
  }
  if (exponent !== 0) for (let i = 0; i < k; i++) sigma[i] = scaleBy(sigma[i]!, exponent);
  checkRepresentable(sigma);
  return { g, sigma, h };
}

/** out (rows × cols) = transpose of x (cols × rows), both row-major. */
function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < cols; i++) for (let j = 0; j < rows; j++) out[j * cols + i] = x[i * rows + j]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Exact SVD

/**
 * Every singular triplet (k = min(m, n)) of the m × n row-major matrix a, by one-sided Jacobi in
 * Float64. Columns of U and V for zero singular values are an arbitrary orthonormal completion.
 */
export function exactSvd(a: ArrayLike<number>, m: number, n: number): Svd {
  checkMatrix(a, m, n, 'exactSvd');
  return exactSvdUnchecked(a, m, n);
}

function exactSvdUnchecked(a: ArrayLike<number>, m: number, n: number): Svd {
  if (m <= n) {
    // A = Gᵀ Σ Hᵀ: the rows of A are the row set, U = Gᵀ, V = H.
    const w = Float64Array.from(a);
    const { g, sigma, h } = rowSvd(w, m, n);
    return { m, n, k: m, u: transpose(g, m, m), s: sigma, v: transpose(h, n, m) };
  }
  // Aᵀ = Gᵀ Σ Hᵀ, so A = H Σ G: U = H, V = Gᵀ.
  const w = transpose(a, n, m);
  const { g, sigma, h } = rowSvd(w, n, m);
  return { m, n, k: n, u: transpose(h, m, n), s: sigma, v: transpose(g, n, n) };
}

// ---------------------------------------------------------------------------------------------
// Randomized SVD

/** Standard normal draws from the repo's seeded mulberry32 stream, by Box–Muller. */
function gaussian(count: number, seed: number): Float64Array {
  const random = createRandom(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    // 1 − u lies in (0, 1], so the log never sees 0.
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/**
 * The sketch's two products with A on the SIMD kernels (kernels.ts), A copied once into their
 * memory, zero-padded to the kernels' blocks: mulAXt(xt) = (A·X)ᵀ (l × m) for X given by its rows
 * xt (l × n), and mulXtA(xt) = Xᵀ·A (l × n) for xt l × m. A float64 input is read scaled by 2^−e
 * (exact), so its products stay in double range whatever its magnitude (σ is scaled back at the
 * end); a float32 one cannot overflow a double and is read as it is (e = 0).
 */
function products(a: ArrayLike<number>, m: number, n: number, l: number) {
  const f32 = a instanceof Float32Array;
  const [mp, np, lp] = [roundUp(m, 4), roundUp(n, 4), roundUp(l, 4)];
  const wide = Math.max(mp, np);
  const heap = new KernelHeap(mp * np * (f32 ? 4 : 8) + 2 * lp * wide * 8 + 64);
  let e = 0;
  if (!f32) {
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
    e = maxAbs > 0 ? Math.round(Math.log2(maxAbs)) : 0;
  }
  const [h1, h2] = halves(-e);
  const matrix = f32 ? heap.f32(mp * np) : heap.f64(mp * np);
  for (let i = 0; i < m; i++) {
    const row = matrix.view.subarray(i * np, i * np + n);
    if (f32) row.set((a as Float32Array).subarray(i * n, i * n + n));
    else for (let j = 0; j < n; j++) row[j] = a[i * n + j]! * h1 * h2;
  }
  const x = heap.f64(lp * wide);
  const y = heap.f64(lp * wide);
  /** Rows of `rows` (count × len) into x at a stride, zeros around them. */
  const load = (rows: Float64Array, count: number, len: number, stride: number) => {
    x.view.fill(0, 0, lp * stride);
    for (let r = 0; r < count; r++) x.view.set(rows.subarray(r * len, r * len + len), r * stride);
  };
  /** The first count × len block of y, read at a stride. */
  const take = (count: number, len: number, stride: number) => {
    const out = new Float64Array(count * len);
    for (let r = 0; r < count; r++) out.set(y.view.subarray(r * stride, r * stride + len), r * len);
    return out;
  };
  return {
    e,
    mulAXt(xt: Float64Array): Float64Array {
      load(xt, l, n, np);
      heap.dots(matrix, mp, np, x, lp, y);
      return take(l, m, mp);
    },
    mulXtA(xt: Float64Array): Float64Array {
      load(xt, l, m, mp);
      y.view.fill(0, 0, lp * np);
      heap.axpys(x, lp, matrix, mp, np, y);
      return take(l, n, np);
    },
  };
}

function resolveOptions(o: RandomizedSvdOptions, where: string): { rank: number; oversample: number; powerIterations: number; seed: number } {
  if (typeof o !== 'object' || o === null) {
    throw new MergeLabError('PARAMETER_INVALID', `${where}: options are missing; pass { rank } at least.`);
  }
  const { rank, oversample = 10, powerIterations = 4, seed = 0 } = o;
  checkCount(rank, 1, 'rank', where);
  checkCount(oversample, 0, 'oversample', where);
  checkCount(powerIterations, 0, 'powerIterations', where);
  if (!Number.isInteger(seed)) throw new MergeLabError('PARAMETER_INVALID', `${where}: seed is ${seed}; it must be an integer.`);
  return { rank, oversample, powerIterations, seed };
}

/**
 * The leading k = min(rank, m, n) singular triplets of a, by the Halko–Martinsson–Tropp
 * randomized range finder: Y = A·Ω for a seeded Gaussian Ω with rank + oversample columns, then
 * `powerIterations` rounds of Y ← A·(Aᵀ·Q), re-orthonormalising (Householder QR) after every
 * product so the small singular directions are not lost to rounding; finally the exact SVD of
 * the small projection B = Qᵀ·A.
 */
export function randomizedSvd(a: ArrayLike<number>, m: number, n: number, o: RandomizedSvdOptions): Svd {
  checkMatrix(a, m, n, 'randomizedSvd');
  return randomizedSvdUnchecked(a, m, n, resolveOptions(o, 'randomizedSvd'));
}

function randomizedSvdUnchecked(
  a: ArrayLike<number>,
  m: number,
  n: number,
  o: { rank: number; oversample: number; powerIterations: number; seed: number },
): Svd {
  const k = Math.min(o.rank, m, n);
  // A wider sketch than min(m, n) cannot add anything: that already spans the whole range.
  const l = Math.min(k + o.oversample, m, n);
  const { mulAXt, mulXtA, e } = products(a, m, n, l);
  const omegaT = gaussian(l * n, o.seed);
  let qt = orthonormalRows(mulAXt(omegaT), l, m);
  for (let it = 0; it < o.powerIterations; it++) {
    const zt = orthonormalRows(mulXtA(qt), l, n);
    qt = orthonormalRows(mulAXt(zt), l, m);
  }
  const b = mulXtA(qt);
  // B is l × n with l ≤ n: B = Gᵀ Σ Hᵀ, so A ≈ Q·Gᵀ·Σ·Hᵀ.
  const { g, sigma, h } = rowSvd(b, l, n);
  const u = new Float64Array(m * k);
  for (let c = 0; c < k; c++) {
    const go = c * l;
    for (let j = 0; j < l; j++) {
      const coef = g[go + j]!;
      if (coef === 0) continue;
      const qo = j * m;
      for (let i = 0; i < m; i++) u[i * k + c]! += coef * qt[qo + i]!;
    }
  }
  const v = new Float64Array(n * k);
  for (let c = 0; c < k; c++) for (let j = 0; j < n; j++) v[j * k + c] = h[c * n + j]!;
  const s = sigma.slice(0, k);
  if (e !== 0) for (let i = 0; i < k; i++) s[i] = scaleBy(s[i]!, e);
  checkRepresentable(s);
  return { m, n, k, u, s, v };
}

/**
 * The leading k = min(rank, m, n) triplets: exactly (Jacobi, then truncated) when the matrix is
 * small (min(m, n) ≤ EXACT_SVD_MAX_MIN_DIM) or the sketch would cover it anyway
 * (rank + oversample ≥ min(m, n)); randomizedSvd otherwise.
 */
export function truncatedSvd(a: ArrayLike<number>, m: number, n: number, o: RandomizedSvdOptions): Svd {
  checkMatrix(a, m, n, 'truncatedSvd');
  const opts = resolveOptions(o, 'truncatedSvd');
  const small = Math.min(m, n);
  if (small > EXACT_SVD_MAX_MIN_DIM && opts.rank + opts.oversample < small) return randomizedSvdUnchecked(a, m, n, opts);
  return truncate(exactSvdUnchecked(a, m, n), Math.min(opts.rank, small));
}

function truncate(svd: Svd, k: number): Svd {
  if (k === svd.k) return svd;
  const u = new Float64Array(svd.m * k);
  for (let i = 0; i < svd.m; i++) u.set(svd.u.subarray(i * svd.k, i * svd.k + k), i * k);
  const v = new Float64Array(svd.n * k);
  for (let j = 0; j < svd.n; j++) v.set(svd.v.subarray(j * svd.k, j * svd.k + k), j * k);
  return { m: svd.m, n: svd.n, k, u, s: svd.s.slice(0, k), v };
}

// ---------------------------------------------------------------------------------------------
// Using a decomposition

/** Row i of U_r·Σ_r·V_rᵀ into out (length n). */
function reconstructRow(svd: Svd, r: number, i: number, us: Float64Array, out: Float64Array, oo: number): void {
  const { k, n, u, s, v } = svd;
  for (let c = 0; c < r; c++) us[c] = u[i * k + c]! * s[c]!;
  for (let j = 0; j < n; j++) out[oo + j] = dot(us, 0, v, j * k, r);
}

/**
 * U_r·diag(s_r)·V_rᵀ (m × n, row-major) from the first `rank` triplets (default all; a rank above
 * k uses all k; 0 gives zeros).
 */
export function reconstruct(svd: Svd, rank?: number): Float64Array {
  checkSvd(svd, 'reconstruct');
  const r = keptRank(svd, rank, 'reconstruct');
  const out = new Float64Array(svd.m * svd.n);
  const us = new Float64Array(Math.max(r, 1));
  for (let i = 0; i < svd.m; i++) reconstructRow(svd, r, i, us, out, i * svd.n);
  return out;
}

/**
 * ‖A − U_r·Σ_r·V_rᵀ‖_F for the first `rank` triplets (default all), computed entry by entry (not
 * as √(‖A‖² − Σσ²), which cancels badly when the error is small) one row at a time.
 */
export function frobeniusError(a: ArrayLike<number>, svd: Svd, rank?: number): number {
  checkSvd(svd, 'frobeniusError');
  checkMatrix(a, svd.m, svd.n, 'frobeniusError');
  const r = keptRank(svd, rank, 'frobeniusError');
  const { m, n } = svd;
  const row = new Float64Array(n);
  const us = new Float64Array(Math.max(r, 1));
  let sum = 0;
  for (let i = 0; i < m; i++) {
    reconstructRow(svd, r, i, us, row, 0);
    for (let j = 0; j < n; j++) {
      const d = a[i * n + j]! - row[j]!;
      sum += d * d;
    }
  }
  return Math.sqrt(sum);
}
