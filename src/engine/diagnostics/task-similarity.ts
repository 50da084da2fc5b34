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
 * Each pair's products are summed in entry order, as one pass per pair would, but chunk by chunk:
 * the pairs then read the vectors from the cache, not M(M + 1) times from memory.
 */
export function accumulateGram(into: Gram, m: number, vectors: readonly Float32Array[], slots: readonly number[]): Gram {
  const k = vectors.length;
  const n = vectors[0]?.length ?? 0;
  const sums = new Float64Array((k * (k + 1)) / 2);
  for (let start = 0; start < n; start += GRAM_CHUNK) {
    const end = Math.min(n, start + GRAM_CHUNK);
    let p = 0;
    for (let a = 0; a < k; a++) {
      const x = vectors[a]!;
      for (let b = a; b < k; b++, p++) {
        const y = vectors[b]!;
        let s = sums[p]!;
        for (let e = start; e < end; e++) s += x[e]! * y[e]!;
        sums[p] = s;
      }
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
