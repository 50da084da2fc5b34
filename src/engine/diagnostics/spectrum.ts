/**
 * The SVD spectrum chart's numbers for one 2-D tensor: each task vector's singular values, its
 * energy curve, the rank holding 90% of the energy, its effective rank, the error left at a chosen
 * rank, and how much the tasks' top-r subspaces overlap (spec "Diagnostics"). The factorisations
 * depend only on the checkpoints, never on the sliders, so a cache keeps them: moving the rank
 * slider then costs a few dot products.
 */
import { MergeLabError, combineProblems } from '../errors.js';
import { decodeToFloat32, encodeFromFloat32 } from '../io/dtypes.js';
import type { Checkpoint } from '../io/types.js';
import { exactSvd, truncatedSvd, type Svd } from '../linalg/svd.js';
import { effectiveRank, rankForEnergy, subspaceInterference } from '../linalg/spectrum.js';
import { planMerge } from '../merge/plan-merge.js';
import type { MergeMethod } from '../methods/types.js';
import type { Recipe } from '../recipe/types.js';
import { nextTask } from '../next-task.js';

/**
 * Past this many singular values the spectrum is truncated (randomized SVD): the chart cannot show
 * thousands of points usefully, and the energy curve stays exact because ‖τ‖_F² is known.
 */
export const MAX_SPECTRUM_RANK = 128;

export interface ModelSpectrum {
  readonly model: string;
  /** Descending; at most MAX_SPECTRUM_RANK of them. */
  readonly singularValues: number[];
  /** E(r) for r = 1..singularValues.length, against the whole ‖τ‖_F² (so it ends below 1 when truncated). */
  readonly energy: number[];
  /** Smallest r with E(r) ≥ 0.9 (beyond the computed values: singularValues.length + 1). */
  readonly rank90: number;
  /** exp(entropy of σ / Σσ) over the computed values. */
  readonly effectiveRank: number;
  /** ‖τ − τ_r‖_F / ‖τ‖_F at the requested rank (0 for a zero task vector). */
  readonly relativeError: number;
  /** ‖τ‖_F. */
  readonly norm: number;
}

export interface SpectrumResult {
  readonly tensor: string;
  readonly shape: readonly number[];
  /** The rank the errors and interferences are measured at (clamped to what was computed). */
  readonly rank: number;
  /** True when only the leading MAX_SPECTRUM_RANK singular values were computed. */
  readonly truncated: boolean;
  readonly models: ModelSpectrum[];
  /** ‖Ui,rᵀ Uj,r‖_F² / r for each pair of models (0 orthogonal, 1 the same subspace). */
  readonly interference: number[][];
  /** Every 2-D tensor of the plan (the chart's tensor choices). */
  readonly tensors: { readonly name: string; readonly shape: readonly number[] }[];
}

/** Factorisations kept between calls on checkpoints whose contents never change under a name. */
export type SpectrumCache = Map<string, { svd: Svd; norm2: number }>;

/** A SpectrumCache key: the tensor, the expert, the base and the working dtype the task vector was taken in. */
export function factorKey(tensor: string, model: string, base: string, workDtype: string | undefined): string {
  return `${tensor}\u0000${model}\u0000${base}\u0000${workDtype ?? 'F32'}`;
}

export interface SpectrumInput {
  readonly recipe: Recipe;
  readonly methods: readonly MergeMethod[];
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  /** The tensor to factor; absent: the largest 2-D tensor. */
  readonly tensor?: string;
  /** The rank to measure errors and interference at (default: the median rank90). */
  readonly rank?: number;
  readonly cache?: SpectrumCache;
}

export async function taskVectorSpectra(input: SpectrumInput): Promise<SpectrumResult> {
  const { recipe } = input;
  if (recipe.baseModel === undefined) {
    throw new MergeLabError('BASE_MODEL_REQUIRED', 'A task-vector spectrum needs base_model: add "base_model: <model>" to the recipe.');
  }
  const { plan, problems } = planMerge({ recipe, methods: input.methods, checkpoints: input.checkpoints });
  if (problems.length > 0 || !plan) throw combineProblems(problems.length ? problems : [new MergeLabError('INTERNAL', 'No merge plan was made.')]);
  const matrices = plan.tensors.filter((t) => t.shape.length === 2);
  if (matrices.length === 0) throw new MergeLabError('SHAPE_MISMATCH', 'The models have no 2-D tensor, so there is no spectrum to show.');
  const tensors = matrices.map((t) => ({ name: t.name, shape: [...t.shape] }));
  const largest = matrices.reduce((a, b) => (b.shape[0]! * b.shape[1]! > a.shape[0]! * a.shape[1]! ? b : a));
  const spec = input.tensor === undefined ? largest : plan.tensors.find((t) => t.name === input.tensor);
  if (!spec) throw new MergeLabError('TENSOR_NOT_FOUND', `No tensor "${input.tensor}" in the models; choose one of: ${tensors.map((t) => t.name).join(', ')}.`);
  if (spec.shape.length !== 2) {
    throw new MergeLabError('SHAPE_MISMATCH', `"${spec.name}" has shape [${spec.shape.join(', ')}]; a spectrum needs a 2-D tensor (a weight matrix): choose another.`);
  }
  const [m, n] = spec.shape as [number, number];
  const base = spec.models.find((x) => x.isBase)!;
  const others = spec.models.filter((x) => !x.isBase);
  const read = async (model: string, source?: string) => {
    const values = await input.checkpoints.get(model)!.readFloat32(source ?? spec.name);
    return spec.workDtype ? decodeToFloat32(spec.workDtype, encodeFromFloat32(spec.workDtype, values), true) : values;
  };
  const keep = Math.min(m, n, MAX_SPECTRUM_RANK);
  const truncated = keep < Math.min(m, n);
  let baseValues: Float32Array | undefined;
  const factored: { model: string; svd: Svd; norm2: number }[] = [];
  for (const x of others) {
    const key = factorKey(spec.name, x.model, base.model, spec.workDtype);
    let f = input.cache?.get(key);
    if (!f) {
      baseValues ??= await read(base.model, base.source);
      const v = await read(x.model, x.source);
      const tau = new Float64Array(v.length);
      let norm2 = 0;
      for (let e = 0; e < tau.length; e++) {
        const d = v[e]! - baseValues[e]!;
        tau[e] = d;
        norm2 += d * d;
      }
      const svd = factorTaskVector(tau, m, n);
      f = { svd, norm2 };
      input.cache?.set(key, f);
      // Each factorisation holds the thread for tens of milliseconds: let a worker's other
      // requests (a slider's diagnostics) in between them.
      await nextTask();
    }
    factored.push({ model: x.model, ...f });
  }

  const rank90s = factored.map((f) => rank90Of(f.svd.s, f.norm2, truncated));
  const sorted = [...rank90s].sort((a, b) => a - b);
  const asked = input.rank ?? sorted[Math.floor((sorted.length - 1) / 2)] ?? 1;
  if (!Number.isInteger(asked) || asked < 1) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `SVD rank must be a whole number ≥ 1 (got ${asked}).`);
  const rank = Math.min(asked, keep);
  const models = factored.map((f, i): ModelSpectrum => {
    const s = [...f.svd.s];
    let acc = 0;
    const energy = s.map((x) => (f.norm2 > 0 ? (acc += x * x) / f.norm2 : 0));
    let kept = 0;
    for (let k = 0; k < rank; k++) kept += s[k]! ** 2;
    return {
      model: f.model,
      singularValues: s,
      energy,
      rank90: rank90s[i]!,
      effectiveRank: effectiveRank(f.svd.s),
      relativeError: f.norm2 > 0 ? Math.sqrt(Math.max(0, f.norm2 - kept) / f.norm2) : 0,
      norm: Math.sqrt(f.norm2),
    };
  });
  const interference = factored.map((a) => factored.map((b) => subspaceInterference(a.svd.u, b.svd.u, m, a.svd.k, b.svd.k, Math.min(rank, a.svd.k, b.svd.k))));
  return { tensor: spec.name, shape: [m, n], rank, truncated, models, interference, tensors };
}

/**
 * A task vector's factorisation as the spectrum chart draws it (and the per-layer map reads its
 * effective rank): exact up to MAX_SPECTRUM_RANK singular values, the leading ones past that.
 */
export function factorTaskVector(tau: Float64Array, m: number, n: number): Svd {
  const keep = Math.min(m, n, MAX_SPECTRUM_RANK);
  return keep < Math.min(m, n) ? truncatedSvd(tau, m, n, { rank: keep, seed: 0 }) : exactSvd(tau, m, n);
}

/** rank90 against the whole ‖τ‖_F²: past the computed values it is "more than we kept". */
function rank90Of(s: Float64Array, norm2: number, truncated: boolean): number {
  if (norm2 === 0) return 0;
  let acc = 0;
  for (let k = 0; k < s.length; k++) {
    acc += s[k]! ** 2;
    if (acc >= 0.9 * norm2) return k + 1;
  }
  // A full spectrum can fall a hair short of a norm summed in another order: trust its own sum then.
  return truncated ? s.length + 1 : rankForEnergy(s, 0.9);
}
