/**
 * torch's CPU arithmetic in the dtype a recipe computes in — float32, bfloat16 or float16 — for the
 * methods that mergekit writes as a chain of whole-tensor reductions and elementwise steps (nuslerp,
 * multislerp, karcher, sce, arcee_fusion): each op's result is rounded to the dtype, as a torch
 * tensor of that dtype holds it (see half/half-math.ts for what was measured). In float32 a store
 * into a Float32Array is that rounding; reductions are accumulated in double and rounded once,
 * which is within float32's accumulation error and, for 16-bit dtypes, the same value but for a
 * tie at the last bit. Transcendental functions (acos, sin, exp, log) are computed in double and
 * rounded: torch computes them in float32 to within an ulp.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../../errors.js';
import { roundInPlace, roundNumber, type HalfDType } from '../../half/half-math.js';
import type { PreparedMerge } from '../types.js';

export type WorkDType = 'F32' | HalfDType;

export interface DtypeOps {
  readonly dtype: WorkDType;
  /** A value rounded to the dtype (a Python float beside a tensor, or a 0-dim result). */
  round(x: number): number;
  /** Rounds every element in place; returns the array. */
  roundAll(a: Float32Array): Float32Array;
  /** f applied elementwise, each result rounded. */
  map(a: Float32Array, f: (x: number, i: number) => number): Float32Array;
  /** f applied to a pair elementwise, each result rounded. */
  zip(a: Float32Array, b: Float32Array, f: (x: number, y: number) => number): Float32Array;
  /** Σ over the elements, accumulated wide and rounded once (torch's sum of a tensor). */
  sum(a: ArrayLike<number>): number;
  /** ‖a‖₂, accumulated wide, rounded once (torch.norm / linalg.norm). */
  norm(a: ArrayLike<number>): number;
}

export function dtypeOps(dtype: WorkDType): DtypeOps {
  const round = dtype === 'F32' ? Math.fround : (x: number) => roundNumber(dtype, x);
  const roundAll = dtype === 'F32' ? (a: Float32Array) => a : (a: Float32Array) => roundInPlace(dtype, a);
  return {
    dtype,
    round,
    roundAll,
    map(a, f) {
      const out = new Float32Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = f(a[i]!, i);
      return roundAll(out);
    },
    zip(a, b, f) {
      const out = new Float32Array(a.length);
      for (let i = 0; i < out.length; i++) out[i] = f(a[i]!, b[i]!);
      return roundAll(out);
    },
    sum(a) {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i]!;
      return round(Math.fround(s));
    },
    norm(a) {
      return round(Math.fround(Math.sqrt(lanesSumOfSquares(a, dtype === 'F32' ? 8 : 16))));
    },
  };
}

/**
 * Σ x² as torch 1.13's vectorised norm kernel (AVX2) accumulates a contiguous tensor: eight float32
 * lanes, each a fused multiply-add per element, over blocks of `block` elements (8 float32, 16
 * bfloat16 widened to two float32 vectors); then the lanes summed in order, then the elements past
 * the last whole block one by one. Measured against torch.linalg.norm on this build; the order
 * decides the last bit, which karcher's iteration can turn into a different branch.
 */
function lanesSumOfSquares(a: ArrayLike<number>, block: number): number {
  const lanes = new Float64Array(8);
  const whole = a.length - (a.length % block);
  for (let i = 0; i < whole; i++) {
    const j = i & 7;
    lanes[j] = Math.fround(lanes[j]! + a[i]! * a[i]!);
  }
  let s = lanes[0]!;
  for (let j = 1; j < 8; j++) s = Math.fround(s + lanes[j]!);
  for (let i = whole; i < a.length; i++) s = Math.fround(s + Math.fround(a[i]! * a[i]!));
  return s;
}

/** torch.stack(arrays).sum(0): per element, accumulated in float32 in stack order, rounded once. */
export function stackSum(d: DtypeOps, arrays: readonly Float32Array[]): Float32Array {
  const out = Float32Array.from(arrays[0]!);
  for (let k = 1; k < arrays.length; k++) {
    const a = arrays[k]!;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + a[i]!;
  }
  return d.roundAll(out);
}

/** The dtype a method computes in: the 16-bit dtype when the runner asks for it, else float32. */
export function workDType(dtype?: HalfDType): WorkDType {
  return dtype ?? 'F32';
}

/**
 * A merge worked out whole on the CPU (in `prepare`), handed to the backend block by block: the same
 * bytes on every backend, as the 16-bit path gives. For methods whose every element depends on
 * reductions over the whole tensor.
 */
export function precomputed(result: Float32Array): PreparedMerge {
  return { granularity: 1, block: (_inputs, start, end) => tf.tensor1d(result.subarray(start, end), 'float32') };
}

/**
 * mergekit stops on a float16 tensor where torch 1.13 has no float16 CPU kernel for an op the
 * method uses (acos, sin, cos, softmax, topk, dot, clamp): so do we, naming the tensor and the way out.
 */
export function float16Unsupported(method: string, op: string, tensorName: string): MergeLabError {
  return new MergeLabError(
    'DTYPE_UNSUPPORTED',
    `${method} cannot run in float16 as mergekit computes it (torch has no float16 ${op} on the CPU, so mergekit fails on tensor ${tensorName}); use dtype: bfloat16 or float32, or math: float32.`,
  );
}
