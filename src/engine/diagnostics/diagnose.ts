/**
 * The diagnostics behind the lab's first charts, for one recipe: per tensor, per layer and for the
 * whole model, the sign-conflict rate and the mass the TIES election drops (sign-conflict.ts), and
 * the task vectors' pairwise cosines (task-similarity.ts). Parameters are resolved per tensor by
 * the merge planner, so a density filter or gradient trims here exactly as in the merge. The
 * result is plain numbers and strings: charts get series, not tensors.
 */
import { MergeLabError, combineProblems } from '../errors.js';
import { decodeToFloat32, encodeFromFloat32, numel } from '../io/dtypes.js';
import type { Checkpoint } from '../io/types.js';
import { planMerge } from '../merge/plan-merge.js';
import { throwIfCancelled, type CancelToken } from '../merge/progress.js';
import { tensorSeed } from '../merge/seed.js';
import type { MergeMethod, OrderCache } from '../methods/types.js';
import { nextTask } from '../next-task.js';
import { layerIndex } from '../recipe/resolve.js';
import type { Recipe } from '../recipe/types.js';
import { addCounts, conflictRates, electionCounts, electionVectors, emptyCounts, signConflictCounts, type ConflictCounts, type ElectionInput } from './sign-conflict.js';
import { accumulateGram, cosineMatrix, emptyGram, type Gram } from './task-similarity.js';
import { layerMap, type LayerMap } from './layer-map.js';
import { fusedPart, fusedThirds, tensorPlace } from './layer-names.js';

export interface TensorDiagnostics {
  readonly name: string;
  /** The layer index (first integer in the name); absent outside the layer stack. */
  readonly layer?: number;
  /** Number of elements. */
  readonly size: number;
  readonly conflictRate: number;
  readonly droppedMass: number;
  /** Cosine of the (untrimmed) task vectors, in `Diagnostics.models` order; 0 rows for a model missing here. */
  readonly cosine: number[][];
  /**
   * A fused q/k/v tensor's numbers per module (GPT-2's c_attn: its column thirds), each over that
   * part's entries of the same trimmed vectors (the merge trims the fused tensor as one).
   */
  readonly parts?: PartDiagnostics[];
}

export interface PartDiagnostics {
  readonly module: 'q' | 'k' | 'v';
  readonly size: number;
  readonly conflictRate: number;
  readonly droppedMass: number;
  readonly cosine: number[][];
}

export interface LayerDiagnostics {
  readonly layer: number;
  readonly conflictRate: number;
  readonly droppedMass: number;
}

export interface Diagnostics {
  /** The non-base models, in recipe order: the rows and columns of every cosine matrix. */
  readonly models: string[];
  readonly method: string;
  /** True when the method trims and elects signs (TIES family): conflicts are among trimmed vectors. */
  readonly election: boolean;
  readonly tensors: TensorDiagnostics[];
  /** Layers in ascending order; tensors outside the stack (embeddings, heads) are in no layer. */
  readonly layers: LayerDiagnostics[];
  /** Conflict rate and dropped mass pooled over every entry of the model; cosine of the whole flattened task vectors. */
  readonly overall: { readonly conflictRate: number; readonly droppedMass: number; readonly cosine: number[][] };
  /** Per layer and module, for Llama- and GPT-2-named checkpoints (layer-map.ts); absent for others. */
  readonly layerMap?: LayerMap;
  readonly warnings: string[];
}

export interface DiagnoseInput {
  readonly recipe: Recipe;
  readonly methods: readonly MergeMethod[];
  /** Opened checkpoints by model name as written in the recipe. */
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly cancel?: CancelToken;
  /**
   * What does not depend on the parameters, kept between calls (see DiagnosticsCache). Give one
   * only for checkpoints whose contents never change under the same name (the demo).
   */
  readonly cache?: DiagnosticsCache;
}

/**
 * Kept between calls on the same checkpoints, so a slider move costs O(n) passes and no sort:
 * task vectors, their per-tensor dot products and the sort orders of |τ| for trims. Keys name
 * the tensor, the models, the base and the working dtype.
 */
export interface DiagnosticsCache {
  readonly orders: OrderCache;
  readonly taus: Map<string, Float32Array>;
  readonly grams: Map<string, Gram>;
}

/** Tensors larger than this get their sort orders after the answer (OrderCache.later), not before it. */
export const ORDERS_AHEAD_ABOVE = 2 ** 18;

export function createDiagnosticsCache(): DiagnosticsCache {
  return { orders: new DeferredOrders(), taus: new Map(), grams: new Map() };
}

/**
 * Sort orders kept between calls, a large tensor's made once the answer is out: its first request
 * trims by selection, the orders are sorted while the page shows that answer, and the next density
 * move reads them. Any diagnose on the cache stops the filling at its next order (latest wins); what
 * was not filled is offered again by the next request.
 */
class DeferredOrders extends Map<string, Int32Array> implements OrderCache {
  private readonly pending = new Map<string, () => Int32Array>();
  private run: { cancelled: boolean } | undefined;

  later(key: string, n: number, compute: () => Int32Array): boolean {
    if (n <= ORDERS_AHEAD_ABOVE) return false;
    this.pending.set(key, compute);
    return true;
  }

  /** Sort what the last answer left unsorted, one order per macrotask, until stopped. */
  fillAhead(): void {
    this.stop();
    if (this.pending.size === 0) return;
    const run = (this.run = { cancelled: false });
    void (async () => {
      for (const [key, compute] of this.pending) {
        await nextTask();
        if (run.cancelled) return;
        this.set(key, compute());
        this.pending.delete(key);
      }
    })();
  }

  stop(): void {
    if (this.run) this.run.cancelled = true;
    this.run = undefined;
  }

  /** Nothing more to sort: the orders on the way stop, and the task vectors they would read go. */
  release(): void {
    this.stop();
    this.pending.clear();
  }
}

/**
 * A cache given up (its models were replaced): orders still being sorted for it stop, instead of
 * taking the worker's time and holding its task vectors for a cache nobody reads.
 */
export function releaseDiagnosticsCache(cache: DiagnosticsCache): void {
  if (cache.orders instanceof DeferredOrders) cache.orders.release();
}

export async function diagnose(input: DiagnoseInput): Promise<Diagnostics> {
  const { recipe } = input;
  if (recipe.baseModel === undefined) {
    throw new MergeLabError('BASE_MODEL_REQUIRED', 'Diagnostics compare task vectors θi − θ0 and need base_model: add "base_model: <model>" to the recipe.');
  }
  const orders = input.cache?.orders instanceof DeferredOrders ? input.cache.orders : undefined;
  // This request goes first: the orders being sorted for the last one wait (they are offered again).
  orders?.stop();
  const { plan, problems, warnings } = planMerge({ recipe, methods: input.methods, checkpoints: input.checkpoints, config: input.config });
  if (problems.length > 0 || !plan) throw combineProblems(problems.length ? problems : [new MergeLabError('INTERNAL', 'No merge plan was made.')]);
  const models = recipe.models.filter((m) => m.model !== recipe.baseModel).map((m) => m.model);
  const m = models.length;
  const warned = new Set(warnings);
  const warn = (w: string) => void (warned.has(w) || (warned.add(w), warnings.push(w)));

  const tensors: TensorDiagnostics[] = [];
  const total = emptyCounts();
  const byLayer = new Map<number, ConflictCounts>();
  const gram = emptyGram(m);
  let election = false;

  for (const spec of plan.tensors) {
    throwIfCancelled(input.cancel);
    const read = async (model: string, source?: string) => {
      const values = await input.checkpoints.get(model)!.readFloat32(source ?? spec.name);
      // As the runner does: inputs rounded to a narrower working dtype first.
      return spec.workDtype ? decodeToFloat32(spec.workDtype, encodeFromFloat32(spec.workDtype, values), true) : values;
    };
    const base = spec.models.find((x) => x.isBase)!;
    const others = spec.models.filter((x) => !x.isBase);
    const key = (model: string) => `${spec.name}\u0000${model}\u0000${base.model}\u0000${spec.workDtype ?? 'F32'}`;
    let baseValues: Float32Array | undefined;
    const taus: { model: string; tau: Float32Array; params: (typeof others)[number]['params'] }[] = [];
    for (const x of others) {
      let tau = input.cache?.taus.get(key(x.model));
      if (!tau) {
        baseValues ??= await read(base.model, base.source);
        const v = await read(x.model, x.source);
        tau = new Float32Array(v.length);
        for (let e = 0; e < tau.length; e++) tau[e] = v[e]! - baseValues[e]!;
        input.cache?.taus.set(key(x.model), tau);
      }
      taus.push({ model: x.model, tau, params: x.params });
    }
    const split = tensorPlace(spec.name).kind === 'fused' ? fusedThirds(spec.shape) : undefined;
    const electionInput: ElectionInput = {
      method: plan.method.id,
      tensorName: spec.name,
      shape: spec.shape,
      taus,
      global: spec.global,
      seed: tensorSeed(plan.randomSeed, spec.name),
      warn,
      ...(input.cache ? { orderCache: input.cache.orders, cacheKey: key } : {}),
    };
    // A fused q/k/v tensor counts its parts apart: the vectors are made whole. Otherwise counted
    // chunk by chunk, the same numbers without n floats per model per request.
    const u = split ? electionVectors(electionInput) : undefined;
    const counted = u ? { counts: taus.length ? signConflictCounts(u.vectors, u.election) : emptyCounts(), election: u.election } : electionCounts(electionInput);
    election = counted.election;
    const counts = counted.counts;
    addCounts(total, counts);
    const layer = layerIndex(spec.name);
    if (layer !== undefined) {
      let l = byLayer.get(layer);
      if (!l) byLayer.set(layer, (l = emptyCounts()));
      addCounts(l, counts);
    }
    const slots = slotsOf(models, others.map((x) => x.model));
    // Dot products of the untrimmed τ: the same whatever the weights and densities.
    const gramKey = `${key(others.map((x) => x.model).join('\u0001'))}\u0000${models.join('\u0001')}`;
    const gramOf = (suffix: string, vectors: () => Float32Array[]) => {
      let g = input.cache?.grams.get(gramKey + suffix);
      if (!g) {
        g = accumulateGram(emptyGram(m), m, vectors(), slots);
        input.cache?.grams.set(gramKey + suffix, g);
      }
      return g;
    };
    const own = gramOf('', () => taus.map((t) => t.tau));
    for (let k = 0; k < gram.length; k++) gram[k]! += own[k]!;
    const parts = split && u
      ? (['q', 'k', 'v'] as const).map((module, p): PartDiagnostics => {
          const part = (v: Float32Array) => fusedPart(v, split, p);
          const c = taus.length ? signConflictCounts(u.vectors.map(part), u.election) : emptyCounts();
          const g = gramOf(`\u0000${module}`, () => taus.map((t) => part(t.tau)));
          return { module, size: split.rows * split.third, ...conflictRates(c), cosine: cosineMatrix(g, m) };
        })
      : undefined;
    tensors.push({ name: spec.name, ...(layer !== undefined ? { layer } : {}), size: numel(spec.shape), ...conflictRates(counts), cosine: cosineMatrix(own, m), ...(parts ? { parts } : {}) });
  }

  orders?.fillAhead();
  const layers = [...byLayer].sort((a, b) => a[0] - b[0]).map(([layer, c]) => ({ layer, ...conflictRates(c) }));
  const map = layerMap(tensors);
  return { models, method: plan.method.id, election, tensors, layers, overall: { ...conflictRates(total), cosine: cosineMatrix(gram, m) }, ...(map ? { layerMap: map } : {}), warnings };
}

/** Each planned model's index in `models`; a name listed twice takes its occurrences in order. */
function slotsOf(models: readonly string[], planned: readonly string[]): number[] {
  const used = new Set<number>();
  return planned.map((name) => {
    const i = models.findIndex((x, j) => x === name && !used.has(j));
    if (i < 0) throw new MergeLabError('INTERNAL', `Model "${name}" is in the merge plan but not among the recipe's models.`);
    used.add(i);
    return i;
  });
}
