/**
 * Sign conflict between task vectors (spec "Diagnostics"): among entries where at least two
 * (trimmed, weighted) task vectors are nonzero, the fraction whose nonzero signs disagree; and the
 * share of task-vector mass the TIES election drops (entries whose sign is not the elected one).
 * Computed on the CPU over Float32Arrays, with the same trims and the same float32 vote as
 * src/engine/methods/gta.ts, so the chart shows what the merge actually does.
 */
import { numberParam } from '../methods/params.js';
import { findMethod } from '../methods/registry.js';
import { l1RescaleFactor, sparsifyKept, type KeptEntries, type SparsificationKind } from '../methods/sparsify.js';
import type { OrderCache, ParamValue } from '../methods/types.js';

/** Raw counts, so tensors, layers and the whole model pool exactly (ratios of sums, not means of ratios). */
export interface ConflictCounts {
  /** Entries where at least two task vectors are nonzero. */
  contested: number;
  /** Of those, entries holding both a positive and a negative value. */
  conflicts: number;
  /** Σ|u_i| over all entries and models. */
  mass: number;
  /** Σ|u_i| over entries where sign(u_i) is not the elected sign (the mass TIES drops). */
  dropped: number;
}

export interface ConflictRates {
  /** conflicts / contested (0 when no entry is contested). */
  readonly conflictRate: number;
  /** dropped / mass (0 when there is no mass). */
  readonly droppedMass: number;
}

export function emptyCounts(): ConflictCounts {
  return { contested: 0, conflicts: 0, mass: 0, dropped: 0 };
}

export function addCounts(into: ConflictCounts, c: ConflictCounts): ConflictCounts {
  into.contested += c.contested;
  into.conflicts += c.conflicts;
  into.mass += c.mass;
  into.dropped += c.dropped;
  return into;
}

export function conflictRates(c: ConflictCounts): ConflictRates {
  return { conflictRate: c.contested > 0 ? c.conflicts / c.contested : 0, droppedMass: c.mass > 0 ? c.dropped / c.mass : 0 };
}

/**
 * Counts over same-length vectors u_i (the weighted, trimmed task vectors). The elected sign is
 * that of Σ u_i summed in float32 in model order, ≥ 0 → +, as gta.ts's `combine` does; with
 * `election: false` nothing is dropped (methods that sum every entry).
 */
export function signConflictCounts(u: readonly Float32Array[], election = true): ConflictCounts {
  const n = u[0]?.length ?? 0;
  for (const v of u) if (v.length !== n) throw new RangeError(`signConflictCounts: lengths ${n} and ${v.length} differ`);
  return countChunk(emptyCounts(), u, n, election);
}

/**
 * Adds the counts of entries [0, n) of `u` to `into` and returns it. The running sums go on from
 * `into`'s, entry after entry, so counting a vector chunk by chunk gives the same sums as at once.
 */
function countChunk(into: ConflictCounts, u: readonly Float32Array[], n: number, election: boolean): ConflictCounts {
  return allFinite(u, n) ? countFinite(into, u, n, election) : countAny(into, u, n, election);
}

/** Whether entries [0, n) of every vector are finite: Σ x·0 is ±0 for finite x, NaN once one is ±∞ or NaN. */
function allFinite(u: readonly Float32Array[], n: number): boolean {
  let s = 0;
  for (const x of u) for (let e = 0; e < n; e++) s += x[e]! * 0;
  return s === 0;
}

/**
 * countAny for finite entries, with the same sums, in fewer branches: with every |x| finite,
 * adding |x| · 0 adds +0 (the sums stay what they were; none is −0), so the losing side's mass is
 * |x| times whether x lost instead of a branch that mispredicts on random signs.
 */
function countFinite(into: ConflictCounts, u: readonly Float32Array[], n: number, election: boolean): ConflictCounts {
  if (u.length <= 4) return countFour(into, u, n, election);
  let contested = into.contested;
  let conflicts = into.conflicts;
  let massTotal = into.mass;
  let dropped = into.dropped;
  const m = u.length;
  for (let e = 0; e < n; e++) {
    let pos = 0;
    let neg = 0;
    let vote = 0;
    let mass = 0;
    for (let i = 0; i < m; i++) {
      const x = u[i]![e]!;
      vote = Math.fround(vote + x);
      pos += +(x > 0);
      neg += +(x < 0);
      mass += Math.abs(x);
    }
    const both = +(pos > 0) & +(neg > 0);
    contested += +(pos + neg >= 2);
    conflicts += both;
    massTotal += mass;
    if (election && both) {
      // The losing side's mass: negatives when the vote is ≥ 0, positives otherwise.
      const up = vote >= 0;
      for (let i = 0; i < m; i++) {
        const x = u[i]![e]!;
        dropped += Math.abs(x) * (up ? +(x < 0) : +(x > 0));
      }
    }
  }
  into.contested = contested;
  into.conflicts = conflicts;
  into.mass = massTotal;
  into.dropped = dropped;
  return into;
}

/**
 * countFinite for up to four models, written out per model (about twice as quick here as the loop
 * over models). Missing models are vectors of +0, which change no sum: the vote and the masses are
 * never −0, and adding +0 leaves any other value as it was.
 */
function countFour(into: ConflictCounts, u: readonly Float32Array[], n: number, election: boolean): ConflictCounts {
  const zero = u.length < 4 ? new Float32Array(n) : undefined;
  const [u0, u1, u2, u3] = [0, 1, 2, 3].map((i) => u[i] ?? zero!) as [Float32Array, Float32Array, Float32Array, Float32Array];
  let contested = into.contested;
  let conflicts = into.conflicts;
  let massTotal = into.mass;
  let dropped = into.dropped;
  for (let e = 0; e < n; e++) {
    const a = u0[e]!;
    const b = u1[e]!;
    const c = u2[e]!;
    const d = u3[e]!;
    // The same float32 vote and the same double sums as the loop over models, in model order.
    const vote = Math.fround(Math.fround(Math.fround(Math.fround(0 + a) + b) + c) + d);
    const pos = +(a > 0) + +(b > 0) + +(c > 0) + +(d > 0);
    const neg = +(a < 0) + +(b < 0) + +(c < 0) + +(d < 0);
    const both = +(pos > 0) & +(neg > 0);
    contested += +(pos + neg >= 2);
    conflicts += both;
    massTotal += 0 + Math.abs(a) + Math.abs(b) + Math.abs(c) + Math.abs(d);
    if (election && both) {
      // The losing side's mass, model by model: negatives when the vote is ≥ 0, positives otherwise.
      if (vote >= 0) dropped = dropped + Math.abs(a) * +(a < 0) + Math.abs(b) * +(b < 0) + Math.abs(c) * +(c < 0) + Math.abs(d) * +(d < 0);
      else dropped = dropped + Math.abs(a) * +(a > 0) + Math.abs(b) * +(b > 0) + Math.abs(c) * +(c > 0) + Math.abs(d) * +(d > 0);
    }
  }
  into.contested = contested;
  into.conflicts = conflicts;
  into.mass = massTotal;
  into.dropped = dropped;
  return into;
}

/** The counts for any entries, ±∞ and NaN included (NaN entries count nowhere). */
function countAny(into: ConflictCounts, u: readonly Float32Array[], n: number, election: boolean): ConflictCounts {
  // Totals in locals, not on an object, so the loop keeps them in registers; same sums in the same order.
  let contested = into.contested;
  let conflicts = into.conflicts;
  let massTotal = into.mass;
  let dropped = into.dropped;
  const m = u.length;
  for (let e = 0; e < n; e++) {
    let pos = 0;
    let neg = 0;
    let vote = 0;
    let mass = 0;
    // Signs are random from entry to entry, so counting without branches is ~30% quicker here;
    // |x| is added unless x is NaN (NaN entries count nowhere), exactly the sums of x > 0 and −x < 0.
    for (let i = 0; i < m; i++) {
      const x = u[i]![e]!;
      vote = Math.fround(vote + x);
      pos += +(x > 0);
      neg += +(x < 0);
      const a = Math.abs(x);
      mass += a === a ? a : 0;
    }
    contested += +(pos + neg >= 2);
    const both = pos > 0 && neg > 0;
    if (both) conflicts++;
    massTotal += mass;
    if (election && both) {
      // The losing side's mass: negatives when the vote is ≥ 0, positives otherwise.
      const up = vote >= 0;
      for (let i = 0; i < m; i++) {
        const x = u[i]![e]!;
        if (up ? x < 0 : x > 0) dropped += Math.abs(x);
      }
    }
  }
  into.contested = contested;
  into.conflicts = conflicts;
  into.mass = massTotal;
  into.dropped = dropped;
  return into;
}

/** How a method trims and elects signs, from its own definition; undefined for methods that do not (TIES and its relatives do). */
function electionOf(method: string): { readonly sparsification: SparsificationKind; readonly rescaleDefault: boolean } | undefined {
  const tv = findMethod(method)?.taskVectors;
  return tv?.consensus && tv.sparsification ? { sparsification: tv.sparsification, rescaleDefault: tv.rescaleDefault } : undefined;
}

export interface ElectionInput {
  readonly method: string;
  readonly tensorName: string;
  readonly shape: readonly number[];
  /** Task vectors τ_i = θ_i − θ_0 (float32), non-base models in plan order (the trims' random streams). */
  readonly taus: readonly { readonly model: string; readonly tau: Float32Array; readonly params: Readonly<Record<string, ParamValue | undefined>> }[];
  readonly global: Readonly<Record<string, ParamValue | undefined>>;
  /** The tensor's seed (tensorSeed), for DARE/DELLA masks. */
  readonly seed: number;
  readonly warn: (message: string) => void;
  readonly orderCache?: OrderCache;
  /** Cache key prefix per model (names the tensor, model and base), when orderCache is given. */
  readonly cacheKey?: (model: string) => string;
}

/** How one model's u is made from its τ: the entries kept (all when undefined), the rescale and the weight. */
interface ElectionTerm {
  readonly tau: Float32Array;
  readonly kept: KeptEntries | undefined;
  readonly factor: number;
  readonly w: number;
}

/** Each model's trim, rescale and weight (electionVectors' u_i without the arrays), or undefined outside the TIES family. */
function electionTerms(a: ElectionInput): ElectionTerm[] | undefined {
  const family = electionOf(a.method);
  if (!family) return undefined;
  const rescale = Boolean(a.global.rescale ?? family.rescaleDefault);
  return a.taus.map(({ model, tau, params }, stream) => {
    const w = Math.fround(numberParam(params.weight, 1));
    const kept = sparsifyKept(tau, {
      kind: family.sparsification,
      density: numberParam(params.density, 1),
      gamma: numberParam(params.gamma, 0.01),
      epsilon: numberParam(params.epsilon, 0.15),
      shape: a.shape,
      seed: a.seed,
      stream,
      tensorName: a.tensorName,
      model,
      warn: a.warn,
      ...(a.orderCache && a.cacheKey ? { orderCache: a.orderCache, cacheKey: a.cacheKey(model) } : {}),
    });
    return { tau, kept, factor: kept && rescale ? l1RescaleFactor(tau, kept) : 1, w };
  });
}

/**
 * Entries [start, end) of a term's u into `u` from index 0. gta.ts: τ · scale (mask × rescale),
 * then · w, each rounded to float32; dropped entries are 0. Kept or not is a bit mask on the
 * value's bits (all ones or +0's zeros), not a branch: which entries a trim keeps is random, and a
 * branch per entry mispredicts about every other time.
 */
function fillTerm(u: Float32Array, { tau, kept, factor, w }: ElectionTerm, start: number, end: number): void {
  if (!kept) {
    for (let e = start; e < end; e++) u[e - start] = tau[e]! * w;
    return;
  }
  const bits = new Int32Array(u.buffer, u.byteOffset, u.length);
  if (factor === 1 && w === 1) {
    // fround(τ · 1) · 1 is τ itself, bit for bit (−0 and NaN too).
    const from = new Int32Array(tau.buffer, tau.byteOffset, tau.length);
    if ('mask' in kept) {
      const { mask } = kept;
      for (let e = start; e < end; e++) bits[e - start] = from[e]! & -(mask[e]! !== 0);
    } else {
      const { rank, lo, hi } = kept;
      // All ones exactly when lo ≤ r < hi: the sign bits of r − hi and of r − lo (ranks < 2^31).
      for (let e = start; e < end; e++) bits[e - start] = from[e]! & ((rank[e]! - hi) >> 31) & ~((rank[e]! - lo) >> 31);
    }
    return;
  }
  for (let e = start; e < end; e++) u[e - start] = Math.fround(tau[e]! * factor) * w;
  if ('mask' in kept) {
    const { mask } = kept;
    for (let e = start; e < end; e++) bits[e - start]! &= -(mask[e]! !== 0);
  } else {
    const { rank, lo, hi } = kept;
    for (let e = start; e < end; e++) bits[e - start]! &= ((rank[e]! - hi) >> 31) & ~((rank[e]! - lo) >> 31);
  }
}

/**
 * The vectors the TIES election sees: u_i = w_i · τ_i', τ_i' trimmed with the model's own
 * resolved density (and L1-rescaled when the method rescales), rounded like the backend's float32.
 * Outside the TIES family, the untrimmed, unweighted τ_i.
 */
export function electionVectors(a: ElectionInput): { readonly vectors: Float32Array[]; readonly election: boolean } {
  const terms = electionTerms(a);
  if (!terms) return { vectors: a.taus.map((t) => t.tau), election: false };
  return {
    vectors: terms.map((t) => {
      const u = new Float32Array(t.tau.length);
      fillTerm(u, t, 0, u.length);
      return u;
    }),
    election: true,
  };
}

/** Entries per chunk of electionCounts: the chunk's u_i stay in the cache between their making and their counting. */
const COUNT_CHUNK = 4096;

/**
 * signConflictCounts(electionVectors(a)) without the vectors: each u_i is made a chunk at a time
 * into one scratch array per model and counted there, with the same values and the same sums in
 * the same order. A density move then allocates nothing of the tensor's size.
 */
export function electionCounts(a: ElectionInput): { readonly counts: ConflictCounts; readonly election: boolean } {
  const terms = electionTerms(a);
  if (!terms) return { counts: a.taus.length ? signConflictCounts(a.taus.map((t) => t.tau), false) : emptyCounts(), election: false };
  const counts = emptyCounts();
  if (terms.length === 0) return { counts, election: true };
  const n = terms[0]!.tau.length;
  for (const t of terms) if (t.tau.length !== n) throw new RangeError(`electionCounts: lengths ${n} and ${t.tau.length} differ`);
  const scratch = terms.map(() => new Float32Array(Math.min(n, COUNT_CHUNK)));
  for (let start = 0; start < n; start += COUNT_CHUNK) {
    const end = Math.min(n, start + COUNT_CHUNK);
    terms.forEach((t, i) => fillTerm(scratch[i]!, t, start, end));
    countChunk(counts, scratch, end - start, true);
  }
  return { counts, election: true };
}
