/**
 * RAM+ tensor-local (mergekit's ramplus_tl, arXiv:2601.13572): RAM whose uniquely changed entries
 * are scaled per model by λ = 1 + r·clamp(ρ, 0, alpha), ρ the model's ratio of shared to unique
 * changed entries in this tensor (counted over the whole tensor on the CPU, in float32 as torch
 * promotes the counts).
 */
import { RAMPLUS_TL } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps, workDType } from './half/dtype-ops.js';
import { numberParam } from './params.js';
import { prepareRam, ramHalf, ramModels } from './ram.js';
import type { PrepareInput } from './types.js';
import type { HalfDType } from '../half/half-math.js';

export const ramplusTl = defineMethod({
  ...RAMPLUS_TL,
  prepare: (input) => prepareRam(input, lambdas(input)),
  mergeHalf: (input, dtype) => ramHalf(input, dtype, lambdas(input, dtype)),
});

/** λ_k per non-base model, as float32 values. */
function lambdas(input: PrepareInput, dtype?: HalfDType): number[] {
  const { base, others } = ramModels(input, 'ramplus_tl');
  const d = dtypeOps(workDType(dtype));
  const eps = numberParam(input.global.epsilon, 1e-5);
  const r = Math.fround(numberParam(input.global.r, 0.1));
  const alpha = Math.fround(numberParam(input.global.alpha, 0.2));
  // |τ| > ε in the tensor's dtype (τ rounded, ε rounded to it).
  const threshold = d.round(eps);
  const b = base.values;
  const changed = others.map((m) => {
    const c = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) c[i] = Math.abs(d.round(m.values[i]! - b[i]!)) > threshold ? 1 : 0;
    return c;
  });
  const shared = others.map(() => 0);
  const unique = others.map(() => 0);
  for (let i = 0; i < b.length; i++) {
    let count = 0;
    for (const c of changed) count += c[i]!;
    changed.forEach((c, k) => {
      if (!c[i]) return;
      if (count > 1) shared[k]!++;
      else unique[k]!++;
    });
  }
  // int64 counts: unique.clamp(min=ε) and the quotient are float32.
  return others.map((_m, k) => {
    const rho = Math.fround(shared[k]! / Math.max(unique[k]!, Math.fround(eps)));
    return Math.fround(1 + Math.fround(r * Math.min(alpha, Math.max(0, rho))));
  });
}
