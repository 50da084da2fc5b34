/**
 * k-means of one channel's T task-vector rows, worked entirely on their cosine matrix.
 *
 * The rows are compared by direction (Channel Merging groups "by similarity"; cosine is our choice):
 * each row is scaled to unit length (a zero row stays zero) and plain Euclidean k-means runs on
 * those unit rows. Everything k-means needs is an inner product of rows and centroids, and a
 * centroid is a mean of rows, so with ĝ the T × T cosine matrix (ĝ[p][p] = 1, or 0 for a zero row)
 *
 *   ‖u_i − μ_k‖² = ĝ[i][i] − (2 / n_k) Σ_{j∈k} ĝ[i][j] + (1 / n_k²) Σ_{j,l∈k} ĝ[j][l]
 *
 * and one Lloyd step costs O(T²) whatever the row width. Two zero rows are at distance 0 (two tasks
 * that left a channel untouched agree), a zero row is at distance 1 from every unit row.
 *
 * Deterministic: k-means++ seeding draws from the generator it is given; Lloyd's assignment breaks
 * ties towards the cluster a row is already in, then the lowest cluster index; a cluster left empty
 * takes the row farthest from its own centroid (lowest index on a tie) from a cluster of two or more,
 * so K ≤ T always gives exactly K groups; of several restarts the lowest inertia wins, the earliest
 * on a tie. Labels are then renumbered by their lowest task (task 0 is always group 0).
 */

/** Restarts of k-means++ per channel: T is small, so a few cost little and steady the result. */
export const KMEANS_RESTARTS = 4;
/** Lloyd iterations at most (T rows converge in a handful). */
const MAX_ITERATIONS = 50;

/** The cosine matrix of T rows from their (upper-triangular or full) Gram matrix, into `out` (full, symmetric). */
export function cosineMatrix(gram: Float64Array, T: number, out: Float64Array): void {
  for (let p = 0; p < T; p++) {
    const np = gram[p * T + p]!;
    out[p * T + p] = np > 0 ? 1 : 0;
    for (let q = p + 1; q < T; q++) {
      const nq = gram[q * T + q]!;
      const c = np > 0 && nq > 0 ? Math.min(1, Math.max(-1, gram[p * T + q]! / Math.sqrt(np * nq))) : 0;
      out[p * T + q] = c;
      out[q * T + p] = c;
    }
  }
}

/**
 * Labels (canonical: numbered by lowest task) of T rows with cosine matrix `g` in K groups,
 * written to out[at + t · stride]. K = 1 and K = T need no search.
 */
export function kmeansLabels(g: Float64Array, T: number, K: number, random: () => number, out: Uint8Array, at: number, stride: number, restarts = KMEANS_RESTARTS): void {
  if (K >= T) {
    for (let t = 0; t < T; t++) out[at + t * stride] = t;
    return;
  }
  if (K <= 1) {
    for (let t = 0; t < T; t++) out[at + t * stride] = 0;
    return;
  }
  let best: Int32Array | undefined;
  let bestInertia = Infinity;
  for (let r = 0; r < restarts; r++) {
    const { labels, inertia } = lloyd(g, T, K, seedCenters(g, T, K, random));
    // Strictly smaller (beyond rounding) replaces: the earliest restart wins a tie.
    if (!best || inertia < bestInertia - 1e-12 * Math.max(1, bestInertia)) {
      best = labels;
      bestInertia = inertia;
    }
  }
  const label = new Int16Array(K).fill(-1);
  let next = 0;
  for (let t = 0; t < T; t++) {
    const l = best![t]!;
    if (label[l] === -1) label[l] = next++;
    out[at + t * stride] = label[l]!;
  }
}

/** ‖u_p − u_q‖² from the cosine matrix. */
const pointDistance = (g: Float64Array, T: number, p: number, q: number) => Math.max(0, g[p * T + p]! + g[q * T + q]! - 2 * g[p * T + q]!);

/** k-means++: the first center uniformly, each next one with probability ∝ its squared distance to the nearest chosen. */
function seedCenters(g: Float64Array, T: number, K: number, random: () => number): number[] {
  const centers = [Math.min(T - 1, Math.floor(random() * T))];
  const d = new Float64Array(T);
  for (let t = 0; t < T; t++) d[t] = pointDistance(g, T, t, centers[0]!);
  while (centers.length < K) {
    let sum = 0;
    for (let t = 0; t < T; t++) sum += d[t]!;
    let pick = -1;
    if (sum > 0) {
      let x = random() * sum;
      for (let t = 0; t < T; t++) {
        if (d[t]! <= 0) continue;
        pick = t;
        x -= d[t]!;
        if (x < 0) break;
      }
    } else {
      // Every row sits on a chosen center: take the lowest row not chosen yet (the empty-cluster rule separates them).
      for (let t = 0; t < T && pick < 0; t++) if (!centers.includes(t)) pick = t;
    }
    centers.push(pick);
    for (let t = 0; t < T; t++) d[t] = Math.min(d[t]!, pointDistance(g, T, t, pick));
  }
  return centers;
}

/** Lloyd's iterations from centers that are rows; returns each row's cluster and the inertia. */
function lloyd(g: Float64Array, T: number, K: number, centers: readonly number[]): { labels: Int32Array; inertia: number } {
  const labels = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    let bk = 0;
    let bd = Infinity;
    centers.forEach((c, k) => {
      const dist = pointDistance(g, T, t, c);
      if (dist < bd) {
        bd = dist;
        bk = k;
      }
    });
    labels[t] = bk;
  }
  const dist = new Float64Array(T * K);
  const size = new Int32Array(K);
  const within = new Float64Array(K);
  const distances = () => {
    size.fill(0);
    within.fill(0);
    for (let t = 0; t < T; t++) size[labels[t]!]!++;
    for (let p = 0; p < T; p++) for (let q = 0; q < T; q++) if (labels[p] === labels[q]) within[labels[p]!]! += g[p * T + q]!;
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < K; k++) {
        const n = size[k]!;
        if (n === 0) {
          dist[t * K + k] = Infinity;
          continue;
        }
        let s = 0;
        for (let j = 0; j < T; j++) if (labels[j] === k) s += g[t * T + j]!;
        dist[t * K + k] = Math.max(0, g[t * T + t]! - (2 * s) / n + within[k]! / (n * n));
      }
    }
  };
  const fillEmpty = () => {
    for (let k = 0; k < K; k++) {
      if (size[k]! > 0) continue;
      let far = -1;
      for (let t = 0; t < T; t++) {
        if (size[labels[t]!]! < 2) continue;
        if (far < 0 || dist[t * K + labels[t]!]! > dist[far * K + labels[far]!]!) far = t;
      }
      // K < T rows, so some cluster has two or more.
      size[labels[far]!]!--;
      labels[far] = k;
      size[k] = 1;
      distances();
    }
  };
  distances();
  fillEmpty();
  for (let it = 0; it < MAX_ITERATIONS; it++) {
    let moved = false;
    for (let t = 0; t < T; t++) {
      const own = labels[t]!;
      let bk = own;
      let bd = dist[t * K + own]!;
      for (let k = 0; k < K; k++) {
        const d = dist[t * K + k]!;
        if (d < bd) {
          bd = d;
          bk = k;
        }
      }
      if (bk !== own) {
        labels[t] = bk;
        moved = true;
      }
    }
    if (!moved) break;
    distances();
    fillEmpty();
  }
  let inertia = 0;
  for (let t = 0; t < T; t++) inertia += dist[t * K + labels[t]!]!;
  return { labels, inertia };
}
