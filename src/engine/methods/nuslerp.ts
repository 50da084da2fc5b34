/**
 * NuSLERP (mergekit's nuslerp): spherical interpolation between two models at t = w2 / (w1 + w2),
 * over the flattened tensor (the default), each row, or each column (nuslerp_row_wise); with a
 * base_model, between the two task vectors, added back to the base. Computed op by op as mergekit's
 * torch code does, in float32 or the recipe's 16-bit dtype (half/dtype-ops.ts): the angle of
 * near-parallel vectors is sensitive to every rounding on the way.
 */
import { MergeLabError } from '../errors.js';
import { NUSLERP } from './catalog.js';
import { defineMethod } from './define.js';
import { dtypeOps, float16Unsupported, precomputed, workDType, type DtypeOps } from './half/dtype-ops.js';
import type { ParamValue, PrepareInput } from './types.js';
import type { HalfDType } from '../half/half-math.js';

export const nuslerp = defineMethod({
  ...NUSLERP,
  prepare: (input) => precomputed(nuslerpValues(input)),
  mergeHalf: (input, dtype) => nuslerpValues(input, dtype),
  validateTensor: ({ tensorName, models }) => {
    // More than three models the planner reports once for the recipe (NUSLERP.modelCount).
    const problem = models.length > 3 ? undefined : countProblem(tensorName, models);
    return problem ? [problem] : [];
  },
});

/** mergekit's two checks on the models a tensor comes from (one model alone is passed through). */
function countProblem(tensorName: string, models: readonly { model: string; isBase: boolean }[]): MergeLabError | undefined {
  if (models.length === 1) return undefined;
  const base = models.find((m) => m.isBase);
  const others = models.filter((m) => !m.isBase);
  if (base && others.length !== 2) {
    return new MergeLabError(
      'TOO_MANY_MODELS',
      others.length < 2
        ? `nuslerp interpolates two models besides the base_model, and the base_model "${base.model}" cannot be one of them (tensor ${tensorName} has ${others.length} other); list two other models, or remove base_model to interpolate the models themselves.`
        : `nuslerp interpolates exactly two models besides the base_model; tensor ${tensorName} has ${others.length}.`,
    );
  }
  if (!base && others.length !== 2) return new MergeLabError('TOO_MANY_MODELS', `nuslerp interpolates exactly two models (plus an optional base_model); tensor ${tensorName} has ${others.length}.`);
  return undefined;
}

/** Which elements form one interpolated vector: group g's j-th element is at index(g, j). */
interface Layout {
  readonly groups: number;
  readonly length: number;
  /** The vectors are not contiguous (columns): torch's norm then accumulates in the tensor's own dtype. */
  readonly strided?: boolean;
  index(g: number, j: number): number;
}

function layout(shape: readonly number[], flatten: boolean, rowWise: boolean): Layout {
  const n = shape.reduce((a, b) => a * b, 1);
  if (flatten || shape.length <= 1 || n === 0) return { groups: 1, length: n, index: (_g, j) => j };
  if (!rowWise) {
    const last = shape[shape.length - 1]!;
    return { groups: n / last, length: last, index: (g, j) => g * last + j };
  }
  // transpose(0, -1): the vectors run along the first axis, one per position of the other axes.
  const stride = n / shape[0]!;
  return { groups: stride, length: shape[0]!, strided: stride > 1, index: (g, j) => g + j * stride };
}

function weightOf(m: { model: string; params: Readonly<Record<string, ParamValue | undefined>> }, tensorName: string): number {
  const w = m.params.weight;
  if (typeof w !== 'number') throw new MergeLabError('MISSING_PARAMETER', `Model "${m.model}" has no weight for tensor ${tensorName}; nuslerp needs one for each of the two models.`);
  return w;
}

export function nuslerpValues(input: PrepareInput, dtype?: HalfDType): Float32Array {
  const { tensorName, models, shape, global } = input;
  if (models.length === 1) return models[0]!.values.slice();
  const problem = countProblem(tensorName, models);
  if (problem) throw problem;
  if (dtype === 'F16') throw float16Unsupported('nuslerp', 'clamp', tensorName);
  const d = dtypeOps(workDType(dtype));
  const base = models.find((m) => m.isBase);
  const [m0, m1] = models.filter((m) => !m.isBase) as [(typeof models)[number], (typeof models)[number]];
  const w0 = weightOf(m0, tensorName);
  const w1 = weightOf(m1, tensorName);
  // Python floats: t and 1 − t in double, rounded to the dtype where they meet a tensor.
  const t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
  const v0 = base ? d.zip(m0.values, base.values, (a, b) => a - b) : m0.values;
  const v1 = base ? d.zip(m1.values, base.values, (a, b) => a - b) : m1.values;
  const res = slerpGroups(d, t, v0, v1, layout(shape, Boolean(global.nuslerp_flatten ?? true), Boolean(global.nuslerp_row_wise ?? false)));
  return base ? d.zip(base.values, res, (a, b) => a + b) : res;
}

/** mergekit's nuslerp() for each group: normalize, angle, interpolate (linear where sin Ω ≈ 0). */
function slerpGroups(d: DtypeOps, t: number, v0: Float32Array, v1: Float32Array, at: Layout): Float32Array {
  const out = new Float32Array(v0.length);
  const len = at.length;
  const a = new Float32Array(len);
  const b = new Float32Array(len);
  const normFloor = d.round(1e-7);
  const colinearBelow = d.round(1e-8);
  const oneMinusT = d.round(1 - t);
  const tt = d.round(t);
  for (let g = 0; g < at.groups; g++) {
    for (let j = 0; j < len; j++) {
      a[j] = v0[at.index(g, j)]!;
      b[j] = v1[at.index(g, j)]!;
    }
    // x / norm(x).clamp(min=1e-7)
    const n0 = Math.max(norm(d, a, at.strided), normFloor);
    const n1 = Math.max(norm(d, b, at.strided), normFloor);
    const u0 = d.map(a, (x) => x / n0);
    const u1 = d.map(b, (x) => x / n1);
    const cos = d.sum(d.zip(u0, u1, (x, y) => x * y));
    const theta = d.round(Math.acos(Math.min(1, Math.max(-1, cos))));
    const sinTheta = d.round(Math.sin(theta));
    let part: Float32Array;
    if (Math.abs(sinTheta) < colinearBelow) {
      part = d.zip(d.map(a, (x) => oneMinusT * x), d.map(b, (x) => tt * x), (x, y) => x + y);
    } else {
      const s0 = d.round(Math.sin(d.round(oneMinusT * theta)));
      const s1 = d.round(Math.sin(d.round(tt * theta)));
      const sum = d.zip(d.map(a, (x) => s0 * x), d.map(b, (x) => s1 * x), (x, y) => x + y);
      part = d.map(sum, (x) => x / sinTheta);
    }
    for (let j = 0; j < len; j++) out[at.index(g, j)] = part[j]!;
  }
  return out;
}

/**
 * torch.norm(x, dim=-1) of a row. Over a dimension that is not contiguous (a transposed tensor's
 * last), torch 1.13's bfloat16 kernel keeps its running sum in bfloat16 (NormTwoOps with
 * acc_t = BFloat16): each square and each partial sum is rounded, in order. Contiguous rows go
 * through its vectorised float32 kernel, as dtypeOps' norm computes.
 */
function norm(d: DtypeOps, x: Float32Array, strided = false): number {
  if (!strided || d.dtype !== 'BF16') return d.norm(x);
  let acc = 0;
  for (let j = 0; j < x.length; j++) acc = d.round(acc + d.round(x[j]! * x[j]!));
  return d.round(Math.sqrt(acc));
}
