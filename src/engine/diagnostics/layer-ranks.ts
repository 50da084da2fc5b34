/**
 * The effective rank of each expert's task vector for every weight matrix of a transformer
 * checkpoint (GPT-2's fused c_attn: each of its q, k, v column thirds), as the per-layer map draws
 * it: per layer and module (and apart, for embeddings and head), the experts' mean, weighted over
 * the cell's matrices by their element counts. Each value is spectrum.ts's effective rank of the
 * same factorisation (exact up to MAX_SPECTRUM_RANK singular values, the leading ones past that),
 * read from the spectrum chart's cache where it holds the tensor. It depends on the checkpoints
 * only, never on the sliders: the numbers are kept (a few bytes each), the factorisations not.
 * Those factorisations are dear (a 1536 × 576 matrix takes ~0.5 s here, a 49152 × 576 embedding
 * ~15 s) and hold the worker while they run, so models whose matrices would take more than
 * RANKS_BUDGET (or one matrix more than MATRIX_BUDGET) are not ranked: the answer says so.
 */
import { MergeLabError, combineProblems } from '../errors.js';
import { decodeToFloat32, encodeFromFloat32 } from '../io/dtypes.js';
import type { Checkpoint } from '../io/types.js';
import { effectiveRank } from '../linalg/spectrum.js';
import { planMerge } from '../merge/plan-merge.js';
import { throwIfCancelled, type CancelToken } from '../merge/progress.js';
import type { MergeMethod } from '../methods/types.js';
import { nextTask } from '../next-task.js';
import type { Recipe } from '../recipe/types.js';
import { placed, type Slot } from './layer-map.js';
import { APART_PARTS, LAYER_MODULES, fusedPart, fusedThirds, tensorPlace, type ApartPart, type LayerModule } from './layer-names.js';
import { EXACT_SVD_MAX_MIN_DIM } from '../linalg/svd.js';
import { MAX_SPECTRUM_RANK, factorKey, factorTaskVector, type SpectrumCache } from './spectrum.js';

/**
 * The most multiply-adds (factorCost, counted at the exact path's cost) the ranks of one model set
 * may take: about 20–35 s on this project's test machine (2–3.5 ns each, measured on 256² …
 * 1536 × 576 task vectors).
 */
export const RANKS_BUDGET = 1e10;
/** The most one factorisation may take (2–3.5 s here): the worker answers nothing else meanwhile. */
export const MATRIX_BUDGET = 1e9;

/**
 * The randomized path's multiply-adds run on the SIMD kernels (linalg/kernels.ts) at about a sixth
 * of the exact path's cost each: 0.28–0.43 ns here (576² … 768 × 3072), against 0.85–2.5 ns for
 * one-sided Jacobi (128², 64 × 1024), both measured on factorTaskVector.
 */
const RANDOMIZED_SPEEDUP = 6;

/**
 * What factoring an m × n task vector as factorTaskVector does costs, in multiply-adds at the exact
 * path's price: one-sided Jacobi (a few sweeps of m·n·k) where it is exact, else the randomized
 * range finder's ten passes over the matrix with a QR of the sketch after each, whose multiply-adds
 * cost RANDOMIZED_SPEEDUP times less.
 */
export function factorCost(m: number, n: number): number {
  const k = Math.min(m, n);
  const keep = Math.min(k, MAX_SPECTRUM_RANK);
  const l = keep + 10;
  if (keep >= k || k <= EXACT_SVD_MAX_MIN_DIM || l >= k) return 8 * m * n * k;
  return (10 * m * n * l + 10 * (m + n) * l * l) / RANDOMIZED_SPEEDUP;
}

/** A matrix's (or fused part's) effective rank per expert, in LayerRanks.models order; null where the task vector is zero. */
export interface MatrixRanks {
  readonly name: string;
  readonly size: number;
  readonly ranks: readonly (number | null)[];
  readonly parts?: readonly { readonly module: LayerModule; readonly size: number; readonly ranks: readonly (number | null)[] }[];
}

export interface RankCell {
  /** Elements of the cell's matrices together. */
  readonly size: number;
  /** The experts' mean effective rank, weighted over the cell's matrices by element count; null where every task vector is zero. */
  readonly effectiveRank: number | null;
  readonly tensors: readonly string[];
}

export interface LayerRanks {
  /** The experts, in recipe order. */
  readonly models: string[];
  /** Singular values beyond this many are not computed (a larger matrix's rank is of its leading ones). */
  readonly maxRank: number;
  readonly cells: (RankCell & { readonly layer: number; readonly module: LayerModule })[];
  readonly apart: (RankCell & { readonly part: ApartPart })[];
  /** Per matrix (the CSV's rows, and what tests compare). */
  readonly matrices: MatrixRanks[];
  /**
   * Set when the factorisations would cost more than the budgets allow (nothing was ranked then):
   * their estimated multiply-adds (factorCost, over every expert), the largest one's, and the budgets.
   */
  readonly tooLarge?: { readonly multiplyAdds: number; readonly largest: number; readonly budget: number; readonly matrixBudget: number };
}

/** Effective ranks kept between calls: key (factorKey, plus the fused part) → rank, null for a zero task vector. */
export type RankCache = Map<string, number | null>;

export interface LayerRanksInput {
  readonly recipe: Recipe;
  readonly methods: readonly MergeMethod[];
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly cache?: RankCache;
  /** The spectrum chart's factorisations, read (never filled) here. */
  readonly spectra?: SpectrumCache;
  readonly cancel?: CancelToken;
  /** Override RANKS_BUDGET and MATRIX_BUDGET (tests). */
  readonly budget?: { readonly total: number; readonly matrix: number };
}

/** Mean of the experts' ranks that are not null; null when all are. */
function meanRank(ranks: readonly (number | null)[]): number | null {
  const known = ranks.filter((r): r is number => r !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
}

/** The cells of the map from per-matrix ranks (pure): element-count-weighted means over each cell's matrices. */
export function rankCells(matrices: readonly MatrixRanks[]): Pick<LayerRanks, 'cells' | 'apart'> {
  const bySlot = new Map<string, { slot: Slot; size: number; weighted: number; counted: number; tensors: string[] }>();
  for (const { slot, label, item } of placed<MatrixRanks, NonNullable<MatrixRanks['parts']>[number]>(matrices)) {
    const key = 'part' in slot ? slot.part : `${slot.layer}\u0000${slot.module}`;
    const c = bySlot.get(key) ?? { slot, size: 0, weighted: 0, counted: 0, tensors: [] };
    const r = meanRank(item.ranks);
    c.size += item.size;
    c.tensors.push(label);
    if (r !== null) {
      c.weighted += item.size * r;
      c.counted += item.size;
    }
    bySlot.set(key, c);
  }
  const cell = (c: { size: number; weighted: number; counted: number; tensors: string[] }): RankCell => ({ size: c.size, effectiveRank: c.counted > 0 ? c.weighted / c.counted : null, tensors: c.tensors });
  const all = [...bySlot.values()];
  const inLayers = all.flatMap((c) => ('part' in c.slot ? [] : [{ layer: c.slot.layer, module: c.slot.module, ...cell(c) }]));
  return {
    cells: inLayers.sort((a, b) => a.layer - b.layer || LAYER_MODULES.indexOf(a.module) - LAYER_MODULES.indexOf(b.module)),
    apart: APART_PARTS.flatMap((part) => {
      const c = bySlot.get(part);
      return c ? [{ part, ...cell(c) }] : [];
    }),
  };
}

export async function layerRanks(input: LayerRanksInput): Promise<LayerRanks> {
  const { recipe } = input;
  if (recipe.baseModel === undefined) {
    throw new MergeLabError('BASE_MODEL_REQUIRED', 'Effective ranks are of task vectors θi − θ0 and need base_model: add "base_model: <model>" to the recipe.');
  }
  const { plan, problems } = planMerge({ recipe, methods: input.methods, checkpoints: input.checkpoints });
  if (problems.length > 0 || !plan) throw combineProblems(problems.length ? problems : [new MergeLabError('INTERNAL', 'No merge plan was made.')]);
  const models = recipe.models.filter((m) => m.model !== recipe.baseModel).map((m) => m.model);
  const matrices: MatrixRanks[] = [];
  const specs = plan.tensors.filter((t) => t.shape.length === 2);
  // What the factorisations not kept yet would cost, before any tensor is read.
  const budget = input.budget ?? { total: RANKS_BUDGET, matrix: MATRIX_BUDGET };
  let multiplyAdds = 0;
  let largest = 0;
  for (const spec of specs) {
    const [m, n] = spec.shape as [number, number];
    const split = tensorPlace(spec.name).kind === 'fused' ? fusedThirds(spec.shape) : undefined;
    const base = spec.models.find((x) => x.isBase)!;
    for (const x of spec.models) {
      if (x.isBase) continue;
      const key = factorKey(spec.name, x.model, base.model, spec.workDtype);
      if (split) {
        if ((['q', 'k', 'v'] as const).every((p) => input.cache?.has(`${key}\u0000${p}`))) continue;
        const c = factorCost(m, split.third);
        multiplyAdds += 3 * c;
        largest = Math.max(largest, c);
      } else if (!input.cache?.has(key) && !input.spectra?.has(key)) {
        const c = factorCost(m, n);
        multiplyAdds += c;
        largest = Math.max(largest, c);
      }
    }
  }
  if (multiplyAdds > budget.total || largest > budget.matrix) {
    return { models, maxRank: MAX_SPECTRUM_RANK, cells: [], apart: [], matrices: [], tooLarge: { multiplyAdds, largest, budget: budget.total, matrixBudget: budget.matrix } };
  }
  for (const spec of specs) {
    throwIfCancelled(input.cancel);
    const [m, n] = spec.shape as [number, number];
    const base = spec.models.find((x) => x.isBase)!;
    const split = tensorPlace(spec.name).kind === 'fused' ? fusedThirds(spec.shape) : undefined;
    const pieces = split ? (['q', 'k', 'v'] as const).map((module, p) => ({ module, p })) : [undefined];
    const read = async (model: string, source?: string) => {
      const values = await input.checkpoints.get(model)!.readFloat32(source ?? spec.name);
      return spec.workDtype ? decodeToFloat32(spec.workDtype, encodeFromFloat32(spec.workDtype, values), true) : values;
    };
    let baseValues: Float32Array | undefined;
    // Each expert's rank per piece (the whole matrix, or q, k, v), in `models` order; a model missing here has none.
    const ranks = pieces.map(() => models.map((): number | null => null));
    for (const x of spec.models) {
      if (x.isBase) continue;
      const slot = models.indexOf(x.model);
      const keyOf = (piece?: { module: string }) => factorKey(spec.name, x.model, base.model, spec.workDtype) + (piece ? `\u0000${piece.module}` : '');
      // In float64, as the spectrum chart takes it: the same factorisation, the same rank.
      let tau: Float64Array | undefined;
      for (const [i, piece] of pieces.entries()) {
        const key = keyOf(piece);
        let r = input.cache?.get(key);
        if (r === undefined) {
          const kept = piece ? undefined : input.spectra?.get(factorKey(spec.name, x.model, base.model, spec.workDtype));
          if (kept) r = kept.norm2 > 0 ? effectiveRank(kept.svd.s) : null;
          else {
            if (!tau) {
              baseValues ??= await read(base.model, base.source);
              const v = await read(x.model, x.source);
              tau = new Float64Array(v.length);
              for (let e = 0; e < tau.length; e++) tau[e] = v[e]! - baseValues[e]!;
            }
            const values = piece && split ? fusedPart(tau, split, piece.p) : tau;
            const cols = piece && split ? split.third : n;
            r = rankOf(values, m, cols);
            // A factorisation holds the thread for tens of milliseconds: let the worker's other requests in.
            await nextTask();
            throwIfCancelled(input.cancel);
          }
          input.cache?.set(key, r);
        }
        ranks[i]![slot] = r;
      }
    }
    matrices.push({
      name: spec.name,
      size: m * n,
      ranks: split ? [] : ranks[0]!,
      ...(split ? { parts: pieces.map((piece, i) => ({ module: piece!.module, size: m * split.third, ranks: ranks[i]! })) } : {}),
    });
  }
  return { models, maxRank: MAX_SPECTRUM_RANK, ...rankCells(matrices), matrices };
}

/** The effective rank of an m × n task vector; null when it is zero (it has no direction). */
function rankOf(tau: Float64Array, m: number, n: number): number | null {
  let norm2 = 0;
  for (let e = 0; e < tau.length; e++) norm2 += tau[e]! * tau[e]!;
  return norm2 > 0 ? effectiveRank(factorTaskVector(tau, m, n).s) : null;
}
