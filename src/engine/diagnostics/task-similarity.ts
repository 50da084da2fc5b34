/**
 * Task-vector similarity (spec "Diagnostics"): pairwise cosine of flattened task vectors, per
 * tensor and over the whole model. Dot products are kept as Gram matrices (float64) so a whole
 * model's cosine is the cosine of the concatenated vectors, not a mean of per-tensor cosines.
 */

/** M × M matrix of dot products; row-major, float64. */
export type Gram = Float64Array;

export function emptyGram(m: number): Gram {
  return new Float64Array(m * m);
}

/** Entries per chunk of accumulateGram: every vector's chunk stays in the cache while each pair reads it. */
const GRAM_CHUNK = 2048;

/**
 * Adds the dot products of `vectors` to `into` (an M × M Gram). `vectors[k]` belongs to model
 * `slots[k]` (its index in the diagnostics' model list); a model absent here adds nothing.
 * Each pair's products are summed in entry order, as one pass per pair would, but chunk by chunk
 * (the pairs then read the vectors from the cache, not M(M + 1) times from memory) and four pairs
 * side by side (a lone running sum waits on each addition before the next).
 */
export function accumulateGram(into: Gram, m: number, vectors: readonly Float32Array[], slots: readonly number[]): Gram {
  const k = vectors.length;
  const n = vectors[0]?.length ?? 0;
  const pairs: [Float32Array, Float32Array][] = [];
  for (let a = 0; a < k; a++) for (let b = a; b < k; b++) pairs.push([vectors[a]!, vectors[b]!]);
  const sums = new Float64Array(pairs.length);
  for (let start = 0; start < n; start += GRAM_CHUNK) {
    const end = Math.min(n, start + GRAM_CHUNK);
    let p = 0;
    // Four pairs at a time: four sums that do not wait on one another, each in entry order.
    for (; p + 3 < pairs.length; p += 4) {
      const [x0, y0] = pairs[p]!;
      const [x1, y1] = pairs[p + 1]!;
      const [x2, y2] = pairs[p + 2]!;
      const [x3, y3] = pairs[p + 3]!;
      let s0 = sums[p]!;
      let s1 = sums[p + 1]!;
      let s2 = sums[p + 2]!;
      let s3 = sums[p + 3]!;
      for (let e = start; e < end; e++) {
        s0 += x0[e]! * y0[e]!;
        s1 += x1[e]! * y1[e]!;
        s2 += x2[e]! * y2[e]!;
        s3 += x3[e]! * y3[e]!;
      }
      sums[p] = s0;
      sums[p + 1] = s1;
      sums[p + 2] = s2;
      sums[p + 3] = s3;
    }
    for (; p < pairs.length; p++) {
      const [x, y] = pairs[p]!;
      let s = sums[p]!;
      for (let e = start; e < end; e++) s += x[e]! * y[e]!;
      sums[p] = s;
    }
  }
  let p = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++, p++) {
      const i = slots[a]!;
      const j = slots[b]!;
      into[i * m + j]! += sums[p]!;
      if (i !== j) into[j * m + i]! += sums[p]!;
    }
  }
  return into;
}

/** cos(i, j) = G_ij / √(G_ii G_jj); 0 where either vector is zero (the diagonal too: no direction). */
export function cosineMatrix(g: Gram, m: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < m; i++) {
    const row: number[] = [];
    for (let j = 0; j < m; j++) {
      const d = Math.sqrt(g[i * m + i]! * g[j * m + j]!);
      if (!(d > 0)) row.push(0);
      else if (i === j) row.push(1);
      // Rounding can push |cos| a hair past 1 for parallel vectors.
      else row.push(Math.max(-1, Math.min(1, g[i * m + j]! / d)));
    }
    rows.push(row);
  }
  return rows;
}

/** Pairwise cosine of flattened vectors (all the same length). */
export function pairwiseCosine(vectors: readonly Float32Array[]): number[][] {
  const m = vectors.length;
  return cosineMatrix(accumulateGram(emptyGram(m), m, vectors, vectors.map((_, i) => i)), m);
}
