/**
 * What a Twin-Merging model costs to keep (spec "Twin-Merging" step 5), in parameters and bytes.
 *
 * Twin side: the shared expert θ* (one full model) + every task's exclusive knowledge (r·(m + n)
 * per low-rank delta, the whole delta for dense ones) + the router. Baseline: keeping the T
 * experts themselves, T full models — what you would ship to serve every task without merging.
 * Neither side counts the base model: serving needs neither it nor anything derived from it
 * beyond what is listed. `ratio` = twin / baseline (the paper's "storage" column).
 */
import type { ExclusiveKnowledge, TwinTensor } from './exclusive.js';

export interface TwinStorage {
  /** Values of θ* (one model). */
  readonly shared: number;
  /** Values in the low-rank factors U·Σ and V, all tasks. */
  readonly factors: number;
  /** Values in the dense deltas (1-D tensors, and 2-D ones kept dense), all tasks. */
  readonly dense: number;
  /** Values in the router (0 without one, e.g. oracle routing or data-free compression). */
  readonly router: number;
  /** shared + factors + dense + router. */
  readonly total: number;
  /** Baseline: T experts × one model's values. */
  readonly experts: number;
  /** total / experts. */
  readonly ratio: number;
  /** The dtype bytes are counted in (the package writes float32) and its size. */
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly bytesPerValue: number;
  /** total and experts × bytesPerValue (tensor data only: safetensors headers are left out). */
  readonly bytes: { readonly total: number; readonly experts: number };
}

const BYTES = { F32: 4, F16: 2, BF16: 2 } as const;

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Storage of a twin built on `tensors` (the model's tensors: θ* holds each once) with `exclusive`
 * and a router of `routerValues` values, against keeping every expert of `exclusive.tasks`.
 */
export function twinStorage(
  tensors: readonly TwinTensor[],
  exclusive: ExclusiveKnowledge,
  routerValues = 0,
  dtype: TwinStorage['dtype'] = 'F32',
): TwinStorage {
  const model = tensors.reduce((s, t) => s + numel(t.shape), 0);
  let factors = 0;
  let dense = 0;
  for (const row of exclusive.parts) {
    for (const p of row) {
      if (p.kind === 'lowrank') factors += p.us.length + p.v.length;
      else dense += p.delta.length;
    }
  }
  const total = model + factors + dense + routerValues;
  const experts = exclusive.tasks.length * model;
  const b = BYTES[dtype];
  return {
    shared: model,
    factors,
    dense,
    router: routerValues,
    total,
    experts,
    ratio: experts > 0 ? total / experts : 0,
    dtype,
    bytesPerValue: b,
    bytes: { total: total * b, experts: experts * b },
  };
}
