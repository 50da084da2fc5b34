/**
 * What a Twin-Merging model costs to keep (spec "Twin-Merging" step 5), in parameters and bytes.
 *
 * Twin side: the shared expert θ* (one full model) + every task's exclusive knowledge (r·(m + n)
 * per low-rank delta, the whole delta for dense ones, and each task's own copy of an excluded
 * tensor). Baseline: keeping the T experts themselves, T full models — what you would ship to serve
 * every task without merging. Neither side counts the base model: serving needs neither it nor
 * anything derived from it beyond what is listed. `ratio` = twin / baseline; the router is counted
 * apart (`router`, `withRouter`), so the CLI (no router), twin.json and the lab print the same
 * `ratio` for the same package.
 */
import type { ExclusiveKnowledge, TwinTensor } from './exclusive.js';

export interface TwinStorage {
  /** Values of θ* (one model). */
  readonly shared: number;
  /** Values in the low-rank factors U·Σ and V, all tasks. */
  readonly factors: number;
  /** Values in the dense deltas (1-D tensors, and 2-D ones kept dense), all tasks. */
  readonly dense: number;
  /** Values of the excluded tensors, each task's own copy (θ* holds none of them). */
  readonly own: number;
  /** Values in the router (0 without one, e.g. oracle routing or data-free compression). */
  readonly router: number;
  /** shared + factors + dense + own: the package's weights, no router. */
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
  /** The package with its router (float32). */
  readonly withRouter: { readonly values: number; readonly bytes: number; readonly ratio: number };
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
  const excluded = new Set(exclusive.excluded ?? []);
  const model = tensors.reduce((s, t) => s + numel(t.shape), 0);
  const sharedValues = tensors.reduce((s, t) => s + (excluded.has(t.name) ? 0 : numel(t.shape)), 0);
  let factors = 0;
  let dense = 0;
  let own = 0;
  for (const row of exclusive.parts) {
    for (const p of row) {
      if (p.kind === 'lowrank') factors += p.us.length + p.v.length;
      else if (p.kind === 'own') own += p.values.length;
      else dense += p.delta.length;
    }
  }
  const total = sharedValues + factors + dense + own;
  const experts = exclusive.tasks.length * model;
  const b = BYTES[dtype];
  const ratio = (v: number) => (experts > 0 ? v / experts : 0);
  return {
    shared: sharedValues,
    factors,
    dense,
    own,
    router: routerValues,
    total,
    experts,
    ratio: ratio(total),
    dtype,
    bytesPerValue: b,
    bytes: { total: total * b, experts: experts * b },
    withRouter: { values: total + routerValues, bytes: (total + routerValues) * b, ratio: ratio(total + routerValues) },
  };
}
