/** Linear in a 16-bit dtype, as mergekit's LinearMergeTask runs it under torch on the CPU. */
import { halfMath, type HalfDType } from '../../half/half-math.js';
import { MergeLabError } from '../../errors.js';
import type { PrepareInput } from '../types.js';

export function linearHalf(input: PrepareInput, dtype: HalfDType): Float32Array {
  const h = halfMath(dtype);
  const weights = input.models.map((m) => {
    const w = m.params.weight;
    if (typeof w !== 'number') throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${input.tensorName}; linear needs a weight for every model it merges, the base_model included.`);
    return h.scalar(w);
  });
  // (weights * stack).sum(0), then / weights.sum(0): no guard against a zero sum (checked when planning).
  const sum = h.sumOf(input.models.map((m, i) => h.mulScalar(m.values, weights[i]!)));
  if (!Boolean(input.global.normalize ?? true)) return sum;
  return h.divScalar(sum, h.sumOf(weights.map((w) => Float32Array.of(w)))[0]!);
}
