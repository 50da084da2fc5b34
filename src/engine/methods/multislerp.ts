/**
 * Multi-SLERP (mergekit's multislerp): barycentric interpolation of any number of models on the
 * hypersphere — the weighted mean of their unit vectors, projected to the tangent space there,
 * mapped back and scaled by the weighted mean norm; with a base_model, of their task vectors.
 * Computed op by op as mergekit's torch code does, in float32 or the recipe's 16-bit dtype.
 */
import { MergeLabError } from '../errors.js';
import { MULTISLERP } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps, float16Unsupported, precomputed, workDType, stackSum } from './half/dtype-ops.js';
import { numberParam } from './params.js';
import type { PrepareInput } from './types.js';
import type { HalfDType } from '../half/half-math.js';

export const multislerp = defineMethod({
  ...MULTISLERP,
  prepare: (input) => precomputed(multislerpValues(input)),
  mergeHalf: (input, dtype) => multislerpValues(input, dtype),
});

export function multislerpValues(input: PrepareInput, dtype?: HalfDType): Float32Array {
  const { tensorName, models, global } = input;
  const base = models.find((m) => m.isBase);
  const others = models.filter((m) => !m.isBase);
  if (others.length === 0) return base!.values.slice();
  if (others.length === 1) return others[0]!.values.slice();
  // torch.cos of a float16 tensor: torch 1.13 has no CPU kernel for it.
  if (dtype === 'F16') throw float16Unsupported('multislerp', 'cos', tensorName);
  const d = dtypeOps(workDType(dtype));
  const n = others[0]!.values.length;
  const eps = d.round(numberParam(global.eps, 1e-8));
  // torch.tensor(weight, dtype=…), then / weights.sum().
  let weights = others.map((m) => {
    const w = m.params.weight;
    if (typeof w !== 'number') throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${tensorName}; multislerp needs one per model.`);
    return d.round(w);
  });
  if (global.normalize_weights ?? true) {
    const total = d.sum(weights);
    weights = weights.map((w) => d.round(w / total));
  }
  const vectors = others.map((m) => (base ? d.zip(m.values, base.values, (a, b) => a - b) : m.values));
  const norms = vectors.map((v) => d.norm(v));
  const units = vectors.map((v, k) => {
    const by = d.round(norms[k]! + eps);
    return d.map(v, (x) => x / by);
  });
  const weightedSum = (arrays: Float32Array[]) => stackSum(d, arrays.map((u, k) => d.map(u, (x) => x * weights[k]!)));
  let mean = weightedSum(units);
  const meanNorm = d.norm(mean);
  let result: Float32Array;
  if (meanNorm < eps) {
    if (vectors.length !== 2) {
      throw new MergeLabError(
        'PARAMETER_INVALID',
        `multislerp: the weighted sum of the models' directions is zero for tensor ${tensorName} (antipodal vectors whose weights balance out, e.g. a and −a with equal weights), as mergekit reports; change the weights.`,
      );
    }
    // Two models: mergekit falls back to linear interpolation.
    result = d.zip(d.map(vectors[0]!, (x) => x * weights[0]!), d.map(vectors[1]!, (x) => x * weights[1]!), (a, b) => a + b);
  } else {
    mean = d.map(mean, (x) => x / meanNorm);
    const tangents = units.map((u) => {
      const dot = d.sum(d.zip(u, mean, (x, y) => x * y));
      return d.zip(u, d.map(mean, (x) => dot * x), (a, b) => a - b);
    });
    const tangent = weightedSum(tangents);
    const tangentNorm = d.round(d.norm(tangent) + eps);
    const cos = d.round(Math.cos(tangentNorm));
    const sinc = d.round(d.round(Math.sin(tangentNorm)) / tangentNorm);
    result = d.zip(d.map(mean, (x) => x * cos), d.map(tangent, (x) => x * sinc), (a, b) => a + b);
    const avgNorm = d.sum(norms.map((x, k) => d.round(x * weights[k]!)));
    result = d.map(result, (x) => x * avgNorm);
  }
  if (result.length !== n) throw new MergeLabError('INTERNAL', `multislerp produced ${result.length} values for tensor ${tensorName}, not ${n}.`);
  return base ? d.zip(result, base.values, (a, b) => a + b) : result;
}
