/** Element-wise comparison of two tensors' values, as mergekit parity checks use it. */

export interface TensorDiff {
  readonly name: string;
  readonly shapeA: number[];
  readonly shapeB: number[];
  readonly maxAbs: number;
  readonly meanAbs: number;
  /** max |a−b| / max(1, |b|): the parity criterion of the spec (1e-5). */
  readonly maxRel: number;
}

export function compareTensors(a: Float32Array, b: Float32Array): { maxAbs: number; meanAbs: number; maxRel: number } {
  if (a.length !== b.length) throw new RangeError(`compareTensors: lengths ${a.length} and ${b.length} differ`);
  let maxAbs = 0;
  let sum = 0;
  let maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    // NaN in either side counts as an infinite difference unless both are NaN.
    const dd = Number.isNaN(d) ? (Number.isNaN(a[i]!) && Number.isNaN(b[i]!) ? 0 : Infinity) : d;
    if (dd > maxAbs) maxAbs = dd;
    sum += dd;
    const rel = dd / Math.max(1, Math.abs(b[i]!));
    if (rel > maxRel) maxRel = rel;
  }
  return { maxAbs, meanAbs: a.length ? sum / a.length : 0, maxRel };
}
