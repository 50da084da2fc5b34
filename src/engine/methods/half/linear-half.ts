/** Linear in a 16-bit dtype, as mergekit's LinearMergeTask runs it under torch on the CPU. */
import { halfMath, type HalfDType } from '../../half/half-math.js';
import { MergeLabError } from '../../errors.js';
import type { PrepareInput } from '../types.js';
import { HALF_BLOCK } from './gta-half.js';

export function linearHalf(input: PrepareInput, dtype: HalfDType, block = HALF_BLOCK): Float32Array {
  const h = halfMath(dtype);
  const weights = input.models.map((m) => {
    const w = m.params.weight;
    if (typeof w !== 'number') throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${input.tensorName}; linear needs a weight for every model it merges, the base_model included.`);
    return h.scalar(w);
  });
  // (weights * stack).sum(0), then / weights.sum(0): no guard against a zero sum (checked when planning).
  const normalize = Boolean(input.global.normalize ?? true);
  const total = h.sumScalars(weights);
  const n = input.models[0]!.values.length;
  const out = new Float32Array(n);
  for (let start = 0; start < n; start += block) {
    const end = Math.min(n, start + block);
    const sum = h.sumOf(input.models.map((m, i) => h.mulScalar(m.values.subarray(start, end), weights[i]!)));
    out.set(normalize ? h.divScalar(sum, total) : sum, start);
  }
  return out;
}
