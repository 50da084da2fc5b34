/**
 * Twin-Merging's exclusive knowledge (spec "Twin-Merging" step 2): per task t and tensor, the
 * delta θt − θ* to the shared expert. A 2-D delta is kept as a truncated SVD, U_r·Σ_r (m × r) and
 * V_r (n × r), storing r·(m + n) values instead of m·n — unless that is no smaller than m·n, when
 * the delta itself is kept (exact, and no larger); a 1-D delta (bias, norm) is kept dense. Excluded
 * tensors (the paper code's exclude_param: heads, biases) are neither merged nor compressed: each
 * task keeps its expert's own copy, which the routed task's input uses.
 *
 * The work is split in two so the lab's rank slider is cheap: `decomposeExclusive` runs the SVDs
 * once (up to a maximum rank, or the full spectrum), `truncateExclusive` then cuts every delta to
 * the rank asked for — a fixed rank, a fraction of min(m, n) (the paper code keeps ⌊0.1·min(m, n)⌋),
 * or the smallest rank holding a share of the delta's energy — without another SVD.
 */
import { MergeLabError } from '../../errors.js';
import { exactSvd, truncatedSvd, type Svd } from '../../linalg/svd.js';

/** Float32 values by tensor name, row-major. */
export type TensorValues = Readonly<Record<string, Float32Array>>;

/** A tensor the twin covers: its name and shape (shared, experts and deltas all have it). */
export interface TwinTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

/** How deep to decompose. */
export interface DecomposeOptions {
  /**
   * Keep at most this many singular triplets per 2-D delta (randomized SVD when the matrix is
   * large). Absent: the full spectrum, by exact SVD — needed when ranks are chosen by energy and
   * cheap for small matrices such as the demo's.
   */
  readonly maxRank?: number;
  readonly oversample?: number;
  readonly powerIterations?: number;
  readonly seed?: number;
}

/** One task's delta of one 2-D tensor, decomposed. */
export interface DeltaSvd {
  readonly kind: 'svd';
  readonly svd: Svd;
  /** ‖θt − θ*‖²_F: the denominator of energy shares, exact even when the spectrum is truncated. */
  readonly energy: number;
  /** θt − θ* itself, kept for ranks where storing it is no larger than the factors. */
  readonly delta: Float32Array;
}

export interface DeltaDense {
  readonly kind: 'dense';
  readonly delta: Float32Array;
}

/** Every task's delta of every tensor, decomposed: the input of truncateExclusive. */
export interface ExclusiveDecomposition {
  readonly tasks: readonly string[];
  readonly tensors: readonly TwinTensor[];
  /** parts[task index][tensor index]. */
  readonly parts: readonly (readonly (DeltaSvd | DeltaDense | OwnPart)[])[];
  /** Tensors kept out of θ* (see ExclusiveKnowledge.excluded). */
  readonly excluded: readonly string[];
}

/** The rank each 2-D delta is cut to. */
export type RankChoice =
  /** The same r for every tensor (capped by min(m, n)). */
  | { readonly rank: number }
  /** The spec's default, per tensor: ⌊0.1·min(m, n)⌋, at least 1. */
  | { readonly rank: 'default' }
  /** Per tensor, ⌊ratio·min(m, n)⌋ (at least 1): the paper code's mask_rate 0.9 is ratio 0.1. */
  | { readonly rankRatio: number }
  /** Per task and tensor, the smallest r with Σ_{k≤r} σk² ≥ share·‖delta‖²_F. */
  | { readonly energy: number };

/** The paper code's rank rule: 10 % of min(m, n) (its svd mask with mask_rate 0.9). */
export const PAPER_RANK_RATIO = 0.1;

/** A low-rank delta: U_r·Σ_r·V_rᵀ = us · vᵀ. */
export interface LowRankPart {
  readonly kind: 'lowrank';
  readonly rank: number;
  /** U_r·Σ_r, m × rank, row-major (float32). */
  readonly us: Float32Array;
  /** V_r, n × rank, row-major (float32). */
  readonly v: Float32Array;
  /** ‖delta − us·vᵀ‖_F / ‖delta‖_F (0 for a zero delta). */
  readonly relativeError: number;
  /** Share of ‖delta‖²_F the kept singular values hold (1 for a zero delta). */
  readonly energy: number;
}

export interface DensePart {
  readonly kind: 'dense';
  /** The delta itself, in the tensor's shape, row-major. */
  readonly delta: Float32Array;
}

/**
 * An excluded tensor (Twin-Merging's `exclude`: heads, biases): not merged into θ* and not
 * compressed, but each task's own values, taken from that task's expert.
 */
export interface OwnPart {
  readonly kind: 'own';
  /** The expert's tensor itself, in its shape, row-major. */
  readonly values: Float32Array;
}

export type ExclusivePart = LowRankPart | DensePart | OwnPart;

/** The exclusive knowledge of every task, ready for the dynamic merge and the package. */
export interface ExclusiveKnowledge {
  readonly tasks: readonly string[];
  readonly tensors: readonly TwinTensor[];
  /** parts[task index][tensor index]. */
  readonly parts: readonly (readonly ExclusivePart[])[];
  /** Things the user should know, e.g. an energy share the truncated spectrum could not reach. */
  readonly warnings: readonly string[];
  /** Tensors kept out of θ*: each task's part is its own copy ('own'), picked by the routed task. */
  readonly excluded?: readonly string[];
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The tensors an `exclude` list keeps out of the merge: those whose name contains one of the
 * strings (mergekit's filter rule), in `names` order.
 */
export function excludedTensors(names: readonly string[], patterns: readonly string[] = []): string[] {
  return patterns.length === 0 ? [] : names.filter((n) => patterns.some((p) => n.includes(p)));
}

function valuesOf(source: TensorValues, t: TwinTensor, who: string): Float32Array {
  const v = source[t.name];
  if (!v) throw new MergeLabError('TENSOR_MISSING', `${who} has no tensor "${t.name}"; every expert must have every tensor of the shared expert.`);
  if (v.length !== numel(t.shape)) {
    throw new MergeLabError('SHAPE_MISMATCH', `${who}: "${t.name}" has ${v.length} values but the shared expert's is [${t.shape.join(', ')}]; Twin-Merging needs experts of one architecture.`);
  }
  return v;
}

/**
 * SVDs of every task's delta θt − θ* of every 2-D tensor; 1-D (and other) tensors are kept as
 * dense deltas, and `excluded` ones as each expert's own copy (θ* need not hold them).
 * `experts` maps task name → that expert's values; tasks keep the order given.
 */
export function decomposeExclusive(
  shared: TensorValues,
  experts: Readonly<Record<string, TensorValues>>,
  tensors: readonly TwinTensor[],
  options: DecomposeOptions & { readonly excluded?: readonly string[] } = {},
): ExclusiveDecomposition {
  const tasks = Object.keys(experts);
  if (tasks.length === 0) throw new MergeLabError('TOO_FEW_MODELS', 'Twin-Merging needs at least one expert to keep exclusive knowledge of.');
  if (options.maxRank !== undefined && (!Number.isInteger(options.maxRank) || options.maxRank < 1)) {
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's maximum rank must be an integer ≥ 1, got ${options.maxRank}.`);
  }
  const excluded = new Set(options.excluded ?? []);
  const parts = tasks.map((task) =>
    tensors.map((t): DeltaSvd | DeltaDense | OwnPart => {
      const own = valuesOf(experts[task]!, t, `Expert "${task}"`);
      if (excluded.has(t.name)) return { kind: 'own', values: own };
      return decomposeDelta(valuesOf(shared, t, 'The shared expert'), own, t, options);
    }),
  );
  return { tasks, tensors, parts, excluded: tensors.filter((t) => excluded.has(t.name)).map((t) => t.name) };
}

/** One delta, decomposed (2-D) or kept dense. */
export function decomposeDelta(shared: Float32Array, expert: Float32Array, t: TwinTensor, options: DecomposeOptions = {}): DeltaSvd | DeltaDense {
  const delta = new Float32Array(shared.length);
  // The delta is rounded to float32 once, as a float32 engine would hold θt − θ*.
  for (let i = 0; i < delta.length; i++) delta[i] = expert[i]! - shared[i]!;
  if (t.shape.length !== 2) return { kind: 'dense', delta };
  const [m, n] = t.shape as [number, number];
  let energy = 0;
  for (let i = 0; i < delta.length; i++) energy += delta[i]! * delta[i]!;
  const svd =
    options.maxRank === undefined
      ? exactSvd(delta, m, n)
      : truncatedSvd(delta, m, n, { rank: options.maxRank, oversample: options.oversample, powerIterations: options.powerIterations, seed: options.seed });
  return { kind: 'svd', svd, energy, delta };
}

/** Σ_{k≤r} σk² / total, clamped to [0, 1]; 1 for a zero matrix (nothing is lost). */
function energyShare(s: Float64Array, r: number, total: number): number {
  if (!(total > 0)) return 1;
  let kept = 0;
  for (let k = 0; k < r; k++) kept += s[k]! * s[k]!;
  return Math.min(1, kept / total);
}

/** The rank `choice` gives a delta of shape m × n with singular values s (of ‖·‖²_F = total). */
export function chooseRank(choice: RankChoice, m: number, n: number, s: Float64Array, total: number): number {
  const full = Math.min(m, n);
  if ('energy' in choice) {
    const share = choice.energy;
    if (!(share > 0 && share <= 1)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's energy share must be in (0, 1], got ${share}.`);
    if (!(total > 0)) return 1;
    let kept = 0;
    for (let k = 0; k < s.length; k++) {
      kept += s[k]! * s[k]!;
      // A relative slack of 1e-12 keeps a share of exactly 1 reachable through rounding.
      if (kept >= share * total * (1 - 1e-12)) return k + 1;
    }
    return Math.max(1, s.length);
  }
  if ('rankRatio' in choice) {
    const ratio = choice.rankRatio;
    if (!(ratio > 0 && ratio <= 1)) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's rank_ratio must be in (0, 1], got ${ratio}.`);
    // The small epsilon keeps 0.1 · 70 at 7 through rounding (0.1 is not exact in binary).
    return Math.max(1, Math.floor(ratio * full + 1e-9));
  }
  if (choice.rank === 'default') return Math.max(1, Math.floor(PAPER_RANK_RATIO * full + 1e-9));
  const r = choice.rank;
  if (!Number.isInteger(r) || r < 1) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Twin-Merging's rank must be an integer ≥ 1, got ${r}.`);
  return Math.min(r, full);
}

/** Cuts a decomposed delta to `rank` triplets (at most what was computed). */
export function lowRankPart(d: DeltaSvd, rank: number): LowRankPart {
  const { svd } = d;
  const r = Math.min(rank, svd.k);
  const us = new Float32Array(svd.m * r);
  for (let i = 0; i < svd.m; i++) for (let c = 0; c < r; c++) us[i * r + c] = svd.u[i * svd.k + c]! * svd.s[c]!;
  const v = new Float32Array(svd.n * r);
  for (let j = 0; j < svd.n; j++) for (let c = 0; c < r; c++) v[j * r + c] = svd.v[j * svd.k + c]!;
  const energy = energyShare(svd.s, r, d.energy);
  // The best rank-r error is what the dropped spectrum holds: √(1 − E(r)). Exact for the exact
  // SVD, and for the randomized one too, whose U_r·Σ_r·V_rᵀ is the projection U_r·U_rᵀ·delta.
  return { kind: 'lowrank', rank: r, us, v, relativeError: d.energy > 0 ? Math.sqrt(Math.max(0, 1 - energy)) : 0, energy };
}

/**
 * A decomposed delta at `rank`: its factors, or the delta itself when r·(m + n) ≥ m·n (then the
 * factors would be no smaller, and the delta is exact).
 */
export function cutPart(d: DeltaSvd, rank: number): LowRankPart | DensePart {
  const { m, n } = d.svd;
  if (Math.min(rank, d.svd.k) * (m + n) >= m * n) return { kind: 'dense', delta: d.delta };
  return lowRankPart(d, rank);
}

/** Every delta cut to the rank `choice` gives; no SVD is recomputed. */
export function truncateExclusive(d: ExclusiveDecomposition, choice: RankChoice): ExclusiveKnowledge {
  const warnings: string[] = [];
  const parts = d.parts.map((row, ti) =>
    row.map((p, j): ExclusivePart => {
      if (p.kind === 'dense') return { kind: 'dense', delta: p.delta };
      if (p.kind === 'own') return p;
      const t = d.tensors[j]!;
      const want = chooseRank(choice, p.svd.m, p.svd.n, p.svd.s, p.energy);
      if (want > p.svd.k) {
        warnings.push(`Task "${d.tasks[ti]}", tensor "${t.name}": rank ${want} was asked but only ${p.svd.k} singular values were computed; decompose with a larger maxRank (or none, for the full spectrum).`);
      } else if ('energy' in choice && energyShare(p.svd.s, want, p.energy) < choice.energy * (1 - 1e-12)) {
        warnings.push(`Task "${d.tasks[ti]}", tensor "${t.name}": the ${p.svd.k} computed singular values hold less than ${choice.energy} of the energy; decompose without maxRank for the full spectrum.`);
      }
      return cutPart(p, want);
    }),
  );
  return { tasks: d.tasks, tensors: d.tensors, parts, warnings, excluded: d.excluded };
}

/** Decompose and truncate in one call. */
export function compressExclusive(
  shared: TensorValues,
  experts: Readonly<Record<string, TensorValues>>,
  tensors: readonly TwinTensor[],
  choice: RankChoice,
  options: DecomposeOptions & { readonly excluded?: readonly string[] } = {},
): ExclusiveKnowledge {
  // A fixed rank needs no more than that many triplets; energy needs the whole spectrum.
  const maxRank = options.maxRank ?? ('rank' in choice && typeof choice.rank === 'number' ? choice.rank : undefined);
  return truncateExclusive(decomposeExclusive(shared, experts, tensors, { ...options, maxRank }), choice);
}

/**
 * The delta a low-rank or dense part stands for, as a dense float32 array in the tensor's shape
 * (us·vᵀ for low rank). An excluded tensor's part is no delta: PARAMETER_INVALID.
 */
export function partDelta(part: ExclusivePart, shape: readonly number[]): Float32Array {
  if (part.kind === 'own') throw new MergeLabError('PARAMETER_INVALID', 'An excluded tensor is each task\'s own copy, not a delta to θ*; read its values instead.');
  if (part.kind === 'dense') return part.delta;
  const [m, n] = shape as [number, number];
  const r = part.rank;
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < r; c++) s += part.us[i * r + c]! * part.v[j * r + c]!;
      out[i * n + j] = s;
    }
  }
  return out;
}

/** The routed task of one mixture of tasks: the largest weight (the first on a tie), whose excluded tensors are used. */
export function routedTask(taskWeights: ArrayLike<number>): number {
  let best = 0;
  for (let t = 1; t < taskWeights.length; t++) if (taskWeights[t]! > taskWeights[best]!) best = t;
  return best;
}

/**
 * The materialised merge for one mixture of tasks: θ* + Σt wt·Δt, with Δt each task's (low-rank
 * or dense) delta, and each excluded tensor the routed task's own (routedTask). What the dynamic
 * merge computes for an input routed with these weights, and a way to export one static model per
 * task (oracle weights). Every tensor of `shared` is in the result; those without exclusive
 * knowledge are copied as they are.
 */
export function materializeMerge(shared: TensorValues, exclusive: ExclusiveKnowledge, taskWeights: ArrayLike<number>): Record<string, Float32Array> {
  if (taskWeights.length !== exclusive.tasks.length) {
    throw new MergeLabError('SHAPE_MISMATCH', `${taskWeights.length} task weights were given for ${exclusive.tasks.length} tasks (${exclusive.tasks.join(', ')}).`);
  }
  // Tensors without exclusive knowledge are θ*'s own.
  const out: Record<string, Float32Array> = Object.fromEntries(Object.entries(shared).map(([name, v]) => [name, Float32Array.from(v)]));
  const routed = routedTask(taskWeights);
  exclusive.tensors.forEach((t, j) => {
    const own = exclusive.parts[routed]![j]!;
    if (own.kind === 'own') {
      out[t.name] = Float32Array.from(own.values);
      return;
    }
    const base = valuesOf(shared, t, 'The shared expert');
    const acc = Float64Array.from(base);
    exclusive.tasks.forEach((_, ti) => {
      const w = taskWeights[ti]!;
      const p = exclusive.parts[ti]![j]!;
      if (w === 0 || p.kind === 'own') return;
      const d = partDelta(p, t.shape);
      for (let i = 0; i < acc.length; i++) acc[i]! += w * d[i]!;
    });
    out[t.name] = Float32Array.from(acc);
  });
  return out;
}
