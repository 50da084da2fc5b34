/**
 * Karcher mean (mergekit's karcher): the Riemannian mean of all the models' tensors — the
 * base_model is one of them, as mergekit gathers it — with equal weights: directions averaged on
 * the unit sphere by fixed-point iteration, then scaled by the mean norm. Computed op by op as
 * mergekit's torch code does (norms in float32 as its `.float()` does, the rest in the tensor's
 * dtype), so the iteration takes the same branches.
 */
import { KARCHER } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps, float16Unsupported, precomputed, workDType, type DtypeOps } from './half/dtype-ops.js';
import { numberParam } from './params.js';
import type { PrepareInput } from './types.js';
import type { HalfDType } from '../half/half-math.js';

export const karcher = defineMethod({
  ...KARCHER,
  prepare: (input) => precomputed(karcherValues(input)),
  mergeHalf: (input, dtype) => karcherValues(input, dtype),
});

export function karcherValues(input: PrepareInput, dtype?: HalfDType): Float32Array {
  const { tensorName, models, global } = input;
  if (models.length === 1) return models[0]!.values.slice();
  const d = dtypeOps(workDType(dtype));
  const f32 = dtypeOps('F32');
  const maxIter = numberParam(global.max_iter, 10);
  const tol = numberParam(global.tol, 1e-5);
  const alphas = models.map(() => 1 / models.length);
  const n = models[0]!.values.length;

  // Norms of t.float() read back with .item(); units t / n in the tensor's dtype.
  const norms = models.map((m) => f32.norm(m.values));
  const units = models.map((m, k) => (norms[k] === 0 ? new Float32Array(n) : d.map(m.values, (x) => x / d.round(norms[k]!))));
  const valid = norms.map((x, k) => (x > tol ? k : -1)).filter((k) => k >= 0);
  if (valid.length === 0) return new Float32Array(n);
  const alphaSum = valid.reduce((s, k) => s + alphas[k]!, 0);
  const weights = valid.map((k) => alphas[k]! / alphaSum);
  const us = valid.map((k) => units[k]!);

  // Initial guess: the normalized weighted mean of the unit vectors.
  let u: Float32Array = new Float32Array(n);
  us.forEach((ui, k) => {
    const a = d.round(weights[k]!);
    u = d.zip(u, d.map(ui, (x) => a * x), (x, y) => x + y);
  });
  const normU = f32.norm(u);
  if (normU < tol) u = us[0]!.slice();
  else u = divide(d, u, normU);

  for (let iter = 0; iter < maxIter; iter++) {
    let T: Float32Array = new Float32Array(n);
    us.forEach((ui, k) => {
      if (dtype === 'F16') throw float16Unsupported('karcher', 'dot', tensorName);
      const dot = Math.min(1, Math.max(-1, dotOf(d, u, ui)));
      const theta = d.round(Math.acos(dot));
      if (theta < tol) return;
      const sinTheta = d.round(Math.sin(theta));
      // a * (theta / sin_theta) * (ui - dot * u), each step a tensor of the dtype.
      const c = d.round(d.round(weights[k]!) * d.round(theta / sinTheta));
      const towards = d.zip(ui, d.map(u, (x) => dot * x), (x, y) => x - y);
      T = d.zip(T, d.map(towards, (x) => c * x), (x, y) => x + y);
    });
    const normT = f32.norm(T);
    if (normT < tol) break;
    // cos/sin of a float32 0-dim tensor, then used beside u: rounded to u's dtype.
    const cosT = d.round(f32.round(Math.cos(normT)));
    const sinT = d.round(f32.round(Math.sin(normT)));
    const step = divide(d, T, normT);
    u = d.zip(d.map(u, (x) => cosT * x), d.map(step, (x) => sinT * x), (x, y) => x + y);
    const normNew = f32.norm(u);
    if (normNew > tol) u = divide(d, u, normNew);
  }
  // Global scale: the weighted sum of all the norms (zero vectors included), a Python float.
  let s = 0;
  alphas.forEach((a, k) => (s += a * norms[k]!));
  const scale = d.round(s);
  return d.map(u, (x) => scale * x);
}

/** x / v for a float32 0-dim tensor or Python float v: v rounded to x's dtype first. */
function divide(d: DtypeOps, x: Float32Array, v: number): Float32Array {
  const by = d.round(v);
  return d.map(x, (e) => e / by);
}

/**
 * torch.dot on the CPU: one running sum in the tensor's dtype, each product and each partial sum
 * rounded, in order (the reference BLAS sdot for float32; torch's own loop for bfloat16).
 */
function dotOf(d: DtypeOps, a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = d.round(s + d.round(a[i]! * b[i]!));
  return s;
}
