/**
 * The generalized task arithmetic family (mergekit's GeneralizedTaskArithmeticMerge): task
 * vectors τi = θi − θ0, optionally sparsified, weighted, optionally sign-elected (TIES), summed,
 * optionally normalized by the weights that contributed, scaled by λ and added to the base.
 * Each method of the family is a configuration of this one function, in a file of its own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { bitAt, dellaRange, emptyTrim, keptMask, l1RescaleFactor, packMask, sparsifyKept, trimMagnitudeInPlace } from './sparsify.js';
import { numberParam } from './params.js';
import { gtaDescriptor, type GtaConfig } from './catalog.js';
import { defineMethod } from './define.js';
import type { MergeMethod, ModelValues, PrepareInput, PreparedMerge } from './types.js';
import { gtaHalf, gtaHalfParts, trimArgs } from './half/gta-half.js';

export function gtaMethod(c: GtaConfig): MergeMethod {
  return defineMethod({
    ...gtaDescriptor(c),
    prepare: (input) => prepareGta(c, input),
    mergeHalf: (input, dtype, block) => gtaHalf(c, input, dtype, block),
    mergeHalfParts: (input, dtype) => gtaHalfParts(c, input, dtype),
    finishUnscaled: finishGta,
    validateTensor: ({ tensorName, shape, models }) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const problems: MergeLabError[] = [];
      for (const m of models) {
        if (m.isBase) continue;
        const density = numberParam(m.params.density, 1);
        // Out-of-range densities are reported by the planner's range check, not here again.
        if (c.sparsification === 'magnitude' && density >= 0 && density < 1 && Math.floor(density * n) <= 0) {
          problems.push(emptyTrim(m.model, density, n, tensorName));
        }
        if (c.sparsification === 'della_magprune' && density > 0 && density < 1) {
          const eps = numberParam(m.params.epsilon, 0.15);
          if (density + eps >= 1 || density - eps <= 0) problems.push(dellaRange(m.model, density, eps, tensorName));
        }
      }
      return problems;
    },
  });
}

/**
 * The whole-tensor part: task vectors on the CPU, each model's trim or random mask and L1 rescale
 * as one per-element scale (0 where dropped). Blocks then do the arithmetic with tfjs.
 */
function prepareGta(c: GtaConfig, input: PrepareInput): PreparedMerge {
  const baseIndex = input.models.findIndex((m) => m.isBase);
  if (baseIndex < 0) throw new MergeLabError('BASE_MODEL_REQUIRED', `${c.id} needs a base_model (tensor ${input.tensorName}).`);
  const base = input.models[baseIndex]!;
  const others = input.models.map((m, i) => ({ m, i })).filter((x) => !x.m.isBase);
  const normalize = Boolean(input.global.normalize ?? c.normalizeDefault);
  const rescale = Boolean(input.global.rescale ?? c.rescaleDefault);
  const lambda = numberParam(input.global.lambda, 1);
  const weights = others.map(({ m }) => {
    const w = m.params.weight;
    if (typeof w !== 'number') throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${input.tensorName}; ${c.id} needs one per model.`);
    return Math.fround(w);
  });
  // keeps[k]: how model k's task vector is kept, entry by entry (mask × rescale); undefined: whole.
  // A streaming merge (no order cache) works each model's τ out in one scratch array, in turn.
  // A model's own array (owned) is its scratch, and ends holding its τ: blocks then read τ from it.
  let scratch: Float32Array | undefined;
  const holdsTau = others.map(() => false);
  const keeps = others.map(({ m }, k) => {
    if (!c.sparsification) return undefined;
    if (input.orderCache) return sparsifyScale(c, input, m, k, base.values, rescale);
    if (m.owned) holdsTau[k] = true;
    const keep = m.owned
      ? keepInPlace(c, input, m, k, base.values, rescale)
      : leanKeep(c, input, m, k, base.values, rescale, (scratch ??= new Float32Array(base.values.length)));
    // The last model's full-size mask goes before the next one's is made.
    input.collectGarbage?.();
    return keep;
  });
  // `block` below shares this scope's closure context: without this the scratch would live as long as it.
  scratch = undefined;

  const unscaled = input.unscaled === true;
  return {
    granularity: 1,
    block(inputs, start, end) {
      // Nothing but the base: finishGta gives the base itself, whatever u is.
      if (others.length === 0) return unscaled ? tf.zeros([end - start]) : tf.clone(inputs[baseIndex]!);
      const baseBlock = inputs[baseIndex]!;
      const weighted: tf.Tensor[] = [];
      try {
        others.forEach(({ i }, k) =>
          weighted.push(
            tf.tidy(() => {
              let tau = holdsTau[k] ? inputs[i]! : tf.sub(inputs[i]!, baseBlock);
              const keep = keeps[k];
              if (keep) tau = tf.mul(tau, keptScale(keep, start, end));
              // x · 1 is x exactly (−0 and NaN too): one kernel less per model for the usual weight.
              return weights[k] === 1 ? tau : tf.mul(tau, tf.scalar(weights[k]!));
            }),
          ),
        );
        return combine(c, weighted, weights, baseBlock, normalize, unscaled ? undefined : lambda);
      } finally {
        tf.dispose(weighted);
      }
    },
  };
}

/**
 * τ = θ − θ0 on the CPU (float32, as the backend would), kept while both inputs live: a live
 * session serves the same decoded arrays on every slider move, so τ is computed once per tensor;
 * a streaming merge reads new arrays each time, and its entries go with them.
 */
const taskVectors = new WeakMap<Float32Array, WeakMap<Float32Array, Float32Array>>();

function taskVector(values: Float32Array, base: Float32Array): Float32Array {
  let byBase = taskVectors.get(values);
  const kept = byBase?.get(base);
  if (kept) return kept;
  const tau = new Float32Array(base.length);
  for (let e = 0; e < tau.length; e++) tau[e] = values[e]! - base[e]!;
  if (!byBase) taskVectors.set(values, (byBase = new WeakMap()));
  byBase.set(base, tau);
  return tau;
}

/**
 * How a model's task vector is kept: a per-entry factor (mask × rescale), or — for a trim served
 * from a kept sort order — the entries whose rank lies in [lo, hi), times `factor`. The backend
 * then builds that mask from the ranks with two comparisons, instead of a loop over every entry
 * in JavaScript on each slider move (the live session's inner cost on this machine).
 */
type Keep =
  | { readonly scale: Float32Array }
  | { readonly rank: Float32Array; readonly lo: number; readonly hi: number; readonly factor: number }
  /** Kept entries as bits (entry e: bit e & 7 of byte e >> 3), times `factor`: n/8 bytes a model. */
  | { readonly bits: Uint8Array; readonly factor: number };

/** The factor each entry of [start, end) is kept with, as a tensor (inside the caller's tidy). */
function keptScale(keep: Keep, start: number, end: number): tf.Tensor {
  if ('scale' in keep) return tf.tensor1d(keep.scale.subarray(start, end));
  if ('bits' in keep) {
    const scale = new Float32Array(end - start);
    const { bits, factor } = keep;
    for (let e = start; e < end; ) {
      // Whole bytes at once where aligned, without a branch per bit (the kept bits of a trim fall
      // at random); a zero byte keeps nothing. bit · factor is factor or +0, as the branches gave.
      if ((e & 7) === 0 && e + 8 <= end) {
        const b = bits[e >>> 3]!;
        if (b !== 0) {
          const o = e - start;
          scale[o] = (b & 1) * factor;
          scale[o + 1] = ((b >>> 1) & 1) * factor;
          scale[o + 2] = ((b >>> 2) & 1) * factor;
          scale[o + 3] = ((b >>> 3) & 1) * factor;
          scale[o + 4] = ((b >>> 4) & 1) * factor;
          scale[o + 5] = ((b >>> 5) & 1) * factor;
          scale[o + 6] = ((b >>> 6) & 1) * factor;
          scale[o + 7] = ((b >>> 7) & 1) * factor;
        }
        e += 8;
      } else {
        if (bitAt(bits, e)) scale[e - start] = factor;
        e++;
      }
    }
    return tf.tensor1d(scale);
  }
  const rank = tf.tensor1d(keep.rank.subarray(start, end));
  // Ranks are integers and the bounds half-integers, so step() never meets a tie: exactly 1 inside, 0 outside.
  let mask = tf.step(tf.sub(tf.scalar(keep.hi - 0.5), rank));
  if (keep.lo > 0) mask = tf.mul(mask, tf.step(tf.sub(rank, tf.scalar(keep.lo - 0.5))));
  // (τ·mask)·f equals τ·(mask ? f : 0) bit for bit: τ·1 = τ, and τ·0·f is the same signed zero.
  return keep.factor === 1 ? mask : tf.mul(mask, tf.scalar(keep.factor));
}

/** Ranks as float32 for the backend: ranks and half-integer bounds are exact below 2^23 entries; larger tensors use a mask. */
const floatRanks = new WeakMap<Int32Array, Float32Array>();
const EXACT_FLOAT_INTEGERS = 2 ** 23;

/** τ, its mask, and the rescale. */
function sparsifyScale(c: GtaConfig, input: PrepareInput, m: ModelValues, stream: number, base: Float32Array, rescale: boolean): Keep | undefined {
  const tau = taskVector(m.values, base);
  const kept = sparsifyKept(tau, {
    ...trimArgs(c.sparsification!, input, m, stream),
    ...(input.orderCache ? { orderCache: input.orderCache, cacheKey: `${input.tensorName}\u0000${m.model}\u0000${input.models.find((x) => x.isBase)!.model}` } : {}),
  });
  if (!kept) return undefined;
  const factor = rescale ? l1RescaleFactor(tau, kept) : 1;
  if ('rank' in kept && kept.rank.length < EXACT_FLOAT_INTEGERS) {
    let rank = floatRanks.get(kept.rank);
    if (!rank) floatRanks.set(kept.rank, (rank = Float32Array.from(kept.rank)));
    return { rank, lo: kept.lo, hi: kept.hi, factor };
  }
  const mask = keptMask(kept);
  const scale = new Float32Array(tau.length);
  for (let e = 0; e < mask.length; e++) if (mask[e]) scale[e] = factor;
  return { scale };
}

/**
 * A model's kept entries for a streaming merge, in about n/8 bytes: τ is worked out in `scratch`
 * (which keeps it: the float32 θ − θ0 a backend's sub gives), the selection reads it in place, and
 * the mask is packed to bits. The merge then holds the inputs, the result and these bits — the
 * (models + 2) × largest-tensor bound — instead of a τ and a float scale per model. `scratch` may
 * be the model's own array.
 */
function leanKeep(c: GtaConfig, input: PrepareInput, m: ModelValues, stream: number, base: Float32Array, rescale: boolean, scratch: Float32Array): Keep | undefined {
  const n = scratch.length;
  const values = m.values;
  for (let e = 0; e < n; e++) scratch[e] = values[e]! - base[e]!;
  const kept = sparsifyKept(scratch, trimArgs(c.sparsification!, input, m, stream));
  if (!kept) return undefined;
  const mask = keptMask(kept);
  return { bits: packMask(mask), factor: rescale ? l1RescaleFactor(scratch, mask) : 1 };
}

/**
 * A model's own array (a streaming merge's fresh read) becomes its kept task vector, τ × (mask ×
 * rescale), before any block is made: the blocks then take it whole, with no kept-entry scale to
 * build and multiply per block (a third of a CLI TIES merge's time went there). Each product is
 * the float32 one the block's multiply gave: τ·f rounds once, τ·0 is the same signed zero (NaN for
 * ±∞ and NaN), τ·1 is τ.
 */
function keepInPlace(c: GtaConfig, input: PrepareInput, m: ModelValues, stream: number, base: Float32Array, rescale: boolean): undefined {
  const tau = m.values as Float32Array;
  const n = tau.length;
  for (let e = 0; e < n; e++) tau[e] = tau[e]! - base[e]!;
  if (c.sparsification === 'magnitude' && !rescale) {
    // TIES's usual case: the trim zeroes τ's dropped entries where they lie, with no mask.
    trimMagnitudeInPlace(tau, trimArgs('magnitude', input, m, stream));
    return undefined;
  }
  const kept = sparsifyKept(tau, trimArgs(c.sparsification!, input, m, stream));
  if (!kept) return undefined;
  const mask = keptMask(kept);
  const factor = rescale ? Math.fround(l1RescaleFactor(tau, mask)) : 1;
  if (factor === 1) {
    for (let e = 0; e < n; e++) if (!mask[e]) tau[e] = tau[e]! * 0;
  } else {
    for (let e = 0; e < n; e++) tau[e] = tau[e]! * (mask[e] ? factor : 0);
  }
  return undefined;
}

/**
 * base + λ·u from u, as combine's last two steps compute it: float32 products and sums are
 * correctly rounded in JavaScript too (a product of two float32 values is exact in a double, and a
 * double's sum of two rounds to the same float32), and tf.scalar rounds λ to float32 as fround does.
 */
function finishGta({ unscaled, base, global, models }: Parameters<NonNullable<MergeMethod['finishUnscaled']>>[0]): Float32Array {
  if (models.every((m) => m.isBase)) return base.slice();
  const lambda = numberParam(global.lambda, 1);
  const out = new Float32Array(unscaled.length);
  if (lambda === 1) for (let e = 0; e < out.length; e++) out[e] = base[e]! + unscaled[e]!;
  else {
    const l = Math.fround(lambda);
    for (let e = 0; e < out.length; e++) out[e] = base[e]! + Math.fround(unscaled[e]! * l);
  }
  return out;
}

/**
 * Σ over the weighted task vectors, with the TIES election when configured, then normalize, λ and
 * the base (with `lambda` undefined, the sum before λ and the base: finishGta does those). Sums are accumulated one model at a time, each step freeing the previous partial sum,
 * so memory holds a few tensors beyond the inputs rather than one per model per stage.
 */
function combine(c: GtaConfig, weighted: tf.Tensor[], weights: number[], base: tf.Tensor, normalize: boolean, lambda: number | undefined): tf.Tensor {
  let mixed: tf.Tensor | undefined;
  let divisor: tf.Tensor | undefined;
  let majority: tf.Tensor | undefined;
  try {
    if (c.consensus) {
      // TIES election: the sign of the summed mass (or of the summed signs) wins; zeros never agree.
      const vote = sumOf(weighted.map((u) => (c.consensus === 'sum' ? () => u : () => tf.sign(u))));
      // Arithmetic instead of comparisons (tfjs-wasm's sign/equal/greaterEqual/where run ~20× slower
      // than step/mul), with the same values: majority = +1 where vote ≥ 0 (−0 too), else −1;
      // agree = 1 exactly where u has the majority's sign (u·m > 0), 0 for zeros. Entries with a NaN
      // input come out NaN either way.
      majority = tf.tidy(() => tf.sub(1, tf.mul(2, tf.step(tf.neg(vote)))));
      vote.dispose();
      for (let i = 0; i < weighted.length; i++) {
        const [m, d] = tf.tidy(() => {
          const agree = tf.step(tf.mul(weighted[i]!, majority!));
          const term = tf.mul(weighted[i]!, agree);
          const share = weights[i] === 1 ? agree : tf.mul(agree, tf.scalar(weights[i]!));
          return [mixed ? tf.add(mixed, term) : term, divisor ? tf.add(divisor, share) : share];
        });
        tf.dispose([mixed!, divisor!].filter(Boolean));
        mixed = m;
        divisor = d;
      }
    } else {
      mixed = sumOf(weighted.map((u) => () => u));
    }
    const div = divisor;
    const sum = Math.fround(weights.reduce((s, w) => Math.fround(s + w), 0));
    return tf.tidy(() => {
      let out = mixed!;
      if (normalize) {
        // Entries no model agreed on divide by 1 (TIES); a near-zero weight sum divides by 1 too.
        // div + (1 − step(|div|)) is div where div ≠ 0 and 1 where it is ±0 (x + 0 = x exactly).
        out = div ? tf.div(out, tf.add(div, tf.sub(1, tf.step(tf.abs(div))))) : tf.div(out, Math.abs(sum) < 1e-8 ? 1 : sum);
      }
      // The caller's partial sums are freed below: a sum returned as it is must be a copy.
      if (lambda === undefined) return out === mixed ? tf.clone(out) : out;
      if (lambda !== 1) out = tf.mul(out, tf.scalar(lambda));
      return tf.add(base, out);
    });
  } finally {
    tf.dispose([mixed, divisor, majority].filter((t): t is tf.Tensor => t !== undefined));
  }
}

/** Σ of the tensors the thunks give, one at a time (each thunk's result is freed once added). */
function sumOf(terms: (() => tf.Tensor)[]): tf.Tensor {
  let acc: tf.Tensor | undefined;
  for (const term of terms) {
    const next = tf.tidy(() => (acc ? tf.add(acc, term()) : tf.clone(term())));
    acc?.dispose();
    acc = next;
  }
  return acc!;
}
