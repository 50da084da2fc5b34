/**
 * SLERP: spherical interpolation between the base (v0) and one other model (v1), treating each
 * tensor as one flat vector; nearly parallel vectors fall back to linear interpolation, as in
 * mergekit's slerp.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { SLERP } from './catalog.js';
import { defineMethod } from './define.js';
import { roundInPlace } from '../half/half-math.js';
import type { PrepareInput } from './types.js';

/** mergekit's DOT_THRESHOLD: above it the angle is too small for a stable slerp. */
const DOT_THRESHOLD = 0.9995;
const NORM_EPS = 1e-8;

/** The coefficients (s0, s1) with result = s0·v0 + s1·v1, from the two norms and the raw dot product. */
export function slerpCoefficients(t: number, norm0: number, norm1: number, rawDot: number): [number, number] {
  // A vector with norm ≤ eps is used unnormalized, as mergekit's normalize() leaves it.
  const n0 = norm0 > NORM_EPS ? norm0 : 1;
  const n1 = norm1 > NORM_EPS ? norm1 : 1;
  const dot = rawDot / (n0 * n1);
  if (Math.abs(dot) > DOT_THRESHOLD) return [1 - t, t];
  const theta = Math.acos(dot);
  const sinTheta = Math.sin(theta);
  return [Math.sin(theta - theta * t) / sinTheta, Math.sin(theta * t) / sinTheta];
}

export const slerp = defineMethod({
  ...SLERP,
  prepare(input) {
    const c = slerpPlan(input);
    if (!c) return { granularity: 1, block: (inputs) => tf.clone(inputs[0]!) };
    const { i0, i1, s0, s1 } = c;
    return {
      granularity: 1,
      block: (inputs) => tf.tidy(() => tf.add(tf.mul(inputs[i0]!, tf.scalar(s0)), tf.mul(inputs[i1]!, tf.scalar(s1)))),
    };
  },
  // mergekit runs slerp in float32 (numpy) whatever the dtype, then converts the result. Done here
  // in float32 JavaScript rather than on the backend, so a GPU's fused multiply-add cannot move a
  // value across a 16-bit rounding boundary.
  mergeHalf(input, dtype) {
    const c = slerpPlan(input);
    if (!c) return input.models[0]!.values.slice();
    const v0 = input.models[c.i0]!.values;
    const v1 = input.models[c.i1]!.values;
    const s0 = Math.fround(c.s0);
    const s1 = Math.fround(c.s1);
    const out = new Float32Array(v0.length);
    for (let e = 0; e < out.length; e++) out[e] = Math.fround(s0 * v0[e]!) + Math.fround(s1 * v1[e]!);
    return roundInPlace(dtype, out);
  },
});

/** Which input is v0 and v1, and the coefficients; undefined when only one model has the tensor. */
function slerpPlan({ tensorName, models, global }: PrepareInput): { i0: number; i1: number; s0: number; s1: number } | undefined {
  if (models.length === 1) return undefined;
  const i0 = models.findIndex((m) => m.isBase);
  const i1 = models.findIndex((m) => !m.isBase);
  if (models.length !== 2 || i0 < 0 || i1 < 0) {
    throw new MergeLabError('TOO_MANY_MODELS', `slerp merges exactly two models, the base_model and one other; tensor ${tensorName} has ${models.length}.`);
  }
  const t = global.t;
  if (typeof t !== 'number') throw new MergeLabError('MISSING_PARAMETER', `slerp needs the parameter t (tensor ${tensorName}).`);
  // The angle needs the whole vectors: norms and dot product once, in double precision.
  const a = models[i0]!.values;
  const b = models[i1]!.values;
  let aa = 0;
  let bb = 0;
  let ab = 0;
  for (let e = 0; e < a.length; e++) {
    aa += a[e]! * a[e]!;
    bb += b[e]! * b[e]!;
    ab += a[e]! * b[e]!;
  }
  const [s0, s1] = slerpCoefficients(t, Math.sqrt(aa), Math.sqrt(bb), ab);
  return { i0, i1, s0, s1 };
}
