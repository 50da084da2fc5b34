/**
 * The routed methods as the lab lists them: Twin-Merging and Channel Merging merge per input (a
 * router picks the experts' parts), so they are not per-tensor MergeMethods and not in the method
 * registry. Their controls' ranges and help come from the engine's schemas (TWIN_PARAMS, the
 * registry's task-vector methods); what they compute is said here, next to the select.
 */
import { TWIN_PARAMS } from '../../engine/methods/twin/index.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import type { RoutedMethodId } from '../../engine/api/engine-api.js';

export interface RoutedMethodInfo {
  readonly id: RoutedMethodId;
  readonly label: string;
  readonly summary: string;
  readonly formula: string;
  readonly reference: string;
}

export const ROUTED_METHODS: readonly RoutedMethodInfo[] = [
  {
    id: 'twin_merging',
    label: 'Twin-Merging',
    summary:
      "A shared expert (task arithmetic over every expert) plus each expert's exclusive knowledge, its difference to the shared one cut to a low rank by SVD; a small router on the shared model's features weights the exclusive parts per input.",
    formula: 'θ(x) = θ* + Σt wt(x) · Ur,t Σr,t Vr,tᵀ,   θ* = θ0 + λ Σt τt,   w(x) = softmax(router(x) / T), top-k',
    reference: 'Lu et al., Twin-Merging: Dynamic Integration of Modular Expertise in Model Merging, arXiv:2406.15479',
  },
  {
    id: 'channel_merging',
    label: 'Channel Merging',
    summary:
      "Per weight matrix and output channel, the experts' task-vector rows are clustered into K groups by cosine similarity and merged within each group; a uint8 table says which group's row each task uses, and a router (or the true task) picks the task per input.",
    formula: 'W_t[c] = θ0[c] + G[idx[t][c]][c],   G[g][c] = merge of the rows τ_s[c] with idx[s][c] = g',
    reference: 'Channel Merging: Preserving Specialization for Merged Experts, arXiv:2412.15283 (no public code; our reconstruction)',
  },
];

export function findRoutedMethod(id: string): RoutedMethodInfo | undefined {
  return ROUTED_METHODS.find((m) => m.id === id);
}

export function isRoutedMethod(id: string): id is RoutedMethodId {
  return findRoutedMethod(id) !== undefined;
}

/** A Twin-Merging setting's schema entry (ranges and help for its slider). */
export function twinParam(name: string): ParamSpec {
  const p = TWIN_PARAMS.find((x) => x.name === name);
  if (!p) throw new Error(`TWIN_PARAMS has no "${name}".`);
  return p;
}

/** Within-group methods the lab offers (any task-vector method works in the engine). */
export const GROUP_METHODS = [
  { id: 'average', label: 'average' },
  { id: 'task_arithmetic', label: 'task arithmetic' },
  { id: 'ties', label: 'TIES' },
] as const;

export type GroupMethodId = (typeof GROUP_METHODS)[number]['id'];
