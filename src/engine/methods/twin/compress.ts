/**
 * Twin-Merging for dropped checkpoints without data: the shared expert from the recipe and every
 * expert's low-rank exclusive knowledge, plus what a rank costs and loses — per tensor and task
 * the relative reconstruction error ‖Δ − Δ_r‖_F / ‖Δ‖_F, and the whole twin's storage, along a
 * list of ranks. There is no data to train a router on, so none is built: the package then holds
 * shared + factors, and whoever has data (or knows the task) routes.
 *
 * Experts are read one tensor at a time, and each delta's SVD is dropped once its factors are cut,
 * so memory holds θ*, the factors and one tensor of every expert — never all experts whole.
 */
import { MergeLabError } from '../../errors.js';
import type { Checkpoint } from '../../io/types.js';
import type { MergeMethod } from '../types.js';
import type { Recipe } from '../../recipe/types.js';
import { chooseRank, cutPart, decomposeDelta, excludedTensors, lowRankPart, type DecomposeOptions, type ExclusiveKnowledge, type ExclusivePart, type RankChoice, type TwinTensor } from './exclusive.js';
import { buildSharedExpert } from './shared.js';

export interface CompressOptions {
  /** The shared expert's recipe: any method the engine merges (task arithmetic, TIES, ...). */
  readonly recipe: Recipe;
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly methods?: readonly MergeMethod[];
  /** The experts to keep exclusive knowledge of, by recipe model name (default: every non-base model of the recipe). */
  readonly tasks?: readonly string[];
  /** Rank of the returned factors (default: the spec's ⌊0.1·min(m, n)⌋ per tensor). */
  readonly choice?: RankChoice;
  /** Tensors kept out of θ* and the compression (name contains one of these): each task keeps its own. */
  readonly exclude?: readonly string[];
  /** Ranks the report covers (default 1, 2, 4, 8, 16, 32, 64). */
  readonly ranks?: readonly number[];
  /** Randomized SVD settings for large matrices (maxRank is derived from the ranks asked for). */
  readonly svd?: Omit<DecomposeOptions, 'maxRank'>;
  readonly onWarning?: (message: string) => void;
  /** After each tensor: its index, the count, its name. */
  readonly onProgress?: (done: number, total: number, tensor: string) => void;
  readonly signal?: AbortSignal;
}

export interface TensorCompression {
  readonly name: string;
  readonly shape: readonly number[];
  /** 'own': excluded, each task's own copy. */
  readonly kind: 'lowrank' | 'dense' | 'own';
  /** errors[task][i]: relative error at report rank i (low-rank tensors only). */
  readonly errors?: readonly (readonly number[])[];
  /** Per task, the rank of the returned factors. */
  readonly chosenRanks?: readonly number[];
}

export interface CompressionReport {
  readonly tasks: readonly string[];
  readonly ranks: readonly number[];
  readonly tensors: readonly TensorCompression[];
  /** Twin storage (θ* + factors + dense deltas + own copies, no router) against the T experts, per report rank; float32 bytes. */
  readonly storage: readonly { readonly rank: number; readonly values: number; readonly bytes: number; readonly experts: number; readonly ratio: number }[];
}

export interface Compressed {
  readonly tasks: readonly string[];
  readonly tensors: readonly TwinTensor[];
  readonly shared: Record<string, Float32Array>;
  readonly exclusive: ExclusiveKnowledge;
  readonly report: CompressionReport;
}

export const DEFAULT_REPORT_RANKS: readonly number[] = [1, 2, 4, 8, 16, 32, 64];

/** Builds θ* and every expert's factors from checkpoints alone; see the file header. */
export async function compressCheckpoints(o: CompressOptions): Promise<Compressed> {
  const tasks = o.tasks ?? o.recipe.models.map((m) => m.model).filter((m) => m !== o.recipe.baseModel);
  if (tasks.length === 0) throw new MergeLabError('TOO_FEW_MODELS', 'Twin-Merging needs at least one expert besides the base model; list them under "models".');
  const ranks = [...(o.ranks ?? DEFAULT_REPORT_RANKS)];
  for (const r of ranks) if (!Number.isInteger(r) || r < 1) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Report ranks must be integers ≥ 1, got ${r}.`);
  const choice = o.choice ?? { rank: 'default' as const };
  const experts = tasks.map((t) => {
    const c = o.checkpoints.get(t);
    if (!c) throw new MergeLabError('PATH_NOT_FOUND', `Expert "${t}" is not among the opened checkpoints (${[...o.checkpoints.keys()].join(', ')}).`);
    return c;
  });

  const merged = await buildSharedExpert({ recipe: o.recipe, checkpoints: o.checkpoints, methods: o.methods, onWarning: o.onWarning });
  const names = Object.keys(merged);
  const excluded = new Set(excludedTensors(names, o.exclude));
  // θ* without the excluded tensors: the paper's code filters them out before merging.
  const shared = Object.fromEntries(Object.entries(merged).filter(([n]) => !excluded.has(n)));
  const tensors: TwinTensor[] = [];
  const parts: ExclusivePart[][] = tasks.map(() => []);
  const report: TensorCompression[] = [];
  const warnings: string[] = [];
  for (const [index, name] of names.entries()) {
    if (o.signal?.aborted) throw new MergeLabError('CANCELLED', `Twin-Merging compression cancelled after ${index} of ${names.length} tensors.`);
    const info = experts[0]!.info(name);
    const values = merged[name]!;
    const shape = info && info.shape.reduce((a, b) => a * b, 1) === values.length ? info.shape : [values.length];
    const t: TwinTensor = { name, shape };
    tensors.push(t);
    const lowRank = shape.length === 2;
    const [m, n] = lowRank ? (shape as [number, number]) : [0, 0];
    // Enough triplets for every rank asked for; energy shares need the whole spectrum.
    const maxRank = 'energy' in choice ? undefined : Math.max(...ranks, lowRank ? chooseRank(choice, m, n, new Float64Array(0), 0) : 1);
    const errors: number[][] = [];
    const chosen: number[] = [];
    for (const [ti, task] of tasks.entries()) {
      const c = experts[ti]!;
      const ci = c.info(name);
      if (!ci) throw new MergeLabError('TENSOR_MISSING', `Expert "${task}" has no tensor "${name}", which the shared expert has; Twin-Merging needs experts of one architecture.`);
      const expert = await c.readFloat32(name);
      if (expert.length !== values.length) {
        throw new MergeLabError('SHAPE_MISMATCH', `Expert "${task}": "${name}" is [${ci.shape.join(', ')}] but the shared expert's is [${shape.join(', ')}]; Twin-Merging needs experts of one architecture.`);
      }
      if (excluded.has(name)) {
        parts[ti]!.push({ kind: 'own', values: expert });
        continue;
      }
      const d = decomposeDelta(values, expert, t, { ...o.svd, maxRank });
      if (d.kind === 'dense') {
        parts[ti]!.push({ kind: 'dense', delta: d.delta });
        continue;
      }
      // A rank whose factors would be no smaller keeps the matrix whole: exact.
      errors.push(ranks.map((r) => (Math.min(r, m, n) * (m + n) >= m * n ? 0 : lowRankPart(d, r).relativeError)));
      const r = chooseRank(choice, m, n, d.svd.s, d.energy);
      if (r > d.svd.k) warnings.push(`Task "${task}", tensor "${name}": rank ${r} was asked but only ${d.svd.k} singular values were computed.`);
      const part = cutPart(d, r);
      chosen.push(part.kind === 'lowrank' ? part.rank : Math.min(m, n));
      parts[ti]!.push(part);
    }
    report.push(excluded.has(name) ? { name, shape, kind: 'own' } : lowRank ? { name, shape, kind: 'lowrank', errors, chosenRanks: chosen } : { name, shape, kind: 'dense' });
    o.onProgress?.(index + 1, names.length, name);
  }
  for (const w of warnings) o.onWarning?.(w);

  const model = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  const storage = ranks.map((rank) => {
    let values = 0;
    for (const t of tensors) {
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (excluded.has(t.name)) values += tasks.length * size;
      else values += size + tasks.length * (t.shape.length === 2 ? Math.min(Math.min(rank, t.shape[0]!, t.shape[1]!) * (t.shape[0]! + t.shape[1]!), size) : size);
    }
    const experts = tasks.length * model;
    return { rank, values, bytes: 4 * values, experts, ratio: values / experts };
  });
  return {
    tasks,
    tensors,
    shared,
    exclusive: { tasks, tensors, parts, warnings, excluded: tensors.filter((t) => excluded.has(t.name)).map((t) => t.name) },
    report: { tasks, ranks, tensors: report, storage },
  };
}
