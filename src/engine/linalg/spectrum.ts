/**
 * The numbers behind the lab's SVD spectrum chart (spec "Diagnostics"): the energy curve of a
 * task vector's singular values, the rank holding 90% of it, the effective rank (Roy & Vetterli,
 * "The effective rank", 2007) and the subspace interference between two tasks' leading singular
 * vectors. Plain arrays in and out, so the chart only draws.
 */
import { MergeLabError } from '../errors.js';

function checkSpectrum(s: ArrayLike<number>, where: string): void {
  for (let i = 0; i < s.length; i++) {
    const x = s[i]!;
    if (!Number.isFinite(x) || x < 0) {
      throw new MergeLabError(
        'PARAMETER_INVALID',
        `${where}: singular value ${i} is ${x}; singular values must be finite and ≥ 0 (pass Svd.s).`,
      );
    }
  }
}

/** The largest σ, to divide by: keeps σ² inside double range for any finite input. */
function maxOf(s: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < s.length; i++) max = Math.max(max, s[i]!);
  return max;
}

function energyUnchecked(s: ArrayLike<number>): Float64Array {
  const out = new Float64Array(s.length);
  const max = maxOf(s);
  if (max === 0) return out;
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    const x = s[i]! / max;
    sum += x * x;
    out[i] = sum;
  }
  // Dividing by the last partial sum itself makes the curve end at exactly 1.
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/**
 * E(r) = Σ_{k≤r} σk² / Σ σk² for r = 1..k (entry r − 1), in the order given (descending for an
 * Svd). Nondecreasing and ends at exactly 1; all zeros for an all-zero spectrum, which holds no
 * energy to share out.
 */
export function energyCurve(s: ArrayLike<number>): Float64Array {
  checkSpectrum(s, 'energyCurve');
  return energyUnchecked(s);
}

function rankForEnergyUnchecked(energy: Float64Array, share: number): number {
  if (energy.length === 0 || energy[energy.length - 1] === 0) return 0;
  for (let r = 0; r < energy.length; r++) if (energy[r]! >= share) return r + 1;
  return energy.length;
}

/** The smallest r with E(r) ≥ share, for share in (0, 1]; 0 for an empty or all-zero spectrum. */
export function rankForEnergy(s: ArrayLike<number>, share: number): number {
  checkSpectrum(s, 'rankForEnergy');
  if (!(share > 0 && share <= 1)) {
    throw new MergeLabError('PARAMETER_INVALID', `rankForEnergy: share is ${share}; pass the energy share to hold, in (0, 1] (0.9 for 90%).`);
  }
  return rankForEnergyUnchecked(energyUnchecked(s), share);
}

function effectiveRankUnchecked(s: ArrayLike<number>): number {
  const max = maxOf(s);
  if (max === 0) return 0;
  let total = 0;
  let nonzero = 0;
  for (let i = 0; i < s.length; i++) {
    total += s[i]! / max;
    if (s[i]! > 0) nonzero++;
  }
  let entropy = 0;
  for (let i = 0; i < s.length; i++) {
    const p = s[i]! / max / total;
    if (p > 0) entropy -= p * Math.log(p);
  }
  // The bounds hold exactly in exact arithmetic; clamping removes a last-bit overshoot.
  return Math.min(nonzero, Math.max(1, Math.exp(entropy)));
}

/**
 * exp(−Σ pk ln pk) with pk = σk / Σσ (0·ln 0 = 0): between 1 (one direction) and the number of
 * nonzero σ (all equal); 0 for an empty or all-zero spectrum.
 */
export function effectiveRank(s: ArrayLike<number>): number {
  checkSpectrum(s, 'effectiveRank');
  return effectiveRankUnchecked(s);
}

/**
 * ‖Ui,rᵀ·Uj,r‖_F² / r over the first r columns of two m × k row-major bases (Svd.u): 1 when
 * the two rank-r subspaces coincide, 0 when they are orthogonal.
 */
export function subspaceInterference(ui: Float64Array, uj: Float64Array, m: number, ki: number, kj: number, r: number): number {
  const where = 'subspaceInterference';
  for (const [name, x] of [['m', m], ['ki', ki], ['kj', kj], ['r', r]] as const) {
    if (!Number.isInteger(x) || x < 1) throw new MergeLabError('PARAMETER_INVALID', `${where}: ${name} is ${x}; it must be an integer ≥ 1.`);
  }
  if (ui.length !== m * ki || uj.length !== m * kj) {
    throw new MergeLabError(
      'SHAPE_MISMATCH',
      `${where}: the bases have ${ui.length} and ${uj.length} values but m × ki = ${m * ki} and m × kj = ${m * kj}; pass each Svd's u with its m and k.`,
    );
  }
  if (r > ki || r > kj) {
    throw new MergeLabError('PARAMETER_INVALID', `${where}: r is ${r} but the bases keep ${ki} and ${kj} columns; pass r ≤ ${Math.min(ki, kj)}.`);
  }
  const cross = new Float64Array(r * r);
  for (let row = 0; row < m; row++) {
    const io = row * ki;
    const jo = row * kj;
    for (let a = 0; a < r; a++) {
      const x = ui[io + a]!;
      if (x === 0) continue;
      const co = a * r;
      for (let b = 0; b < r; b++) cross[co + b]! += x * uj[jo + b]!;
    }
  }
  let sum = 0;
  for (let i = 0; i < cross.length; i++) sum += cross[i]! ** 2;
  return sum / r;
}

export interface SpectrumSummary {
  singularValues: number[];
  /** energy[r − 1] = E(r). */
  energy: number[];
  /** Rank holding 90% of the energy (0 for an all-zero spectrum). */
  rank90: number;
  effectiveRank: number;
}

/** Everything the spectrum chart draws for one tensor, as plain arrays (safe to post to the UI). */
export function summarizeSpectrum(s: ArrayLike<number>): SpectrumSummary {
  checkSpectrum(s, 'summarizeSpectrum');
  const energy = energyUnchecked(s);
  return {
    singularValues: Array.from(s),
    energy: Array.from(energy),
    rank90: rankForEnergyUnchecked(energy, 0.9),
    effectiveRank: effectiveRankUnchecked(s),
  };
}
