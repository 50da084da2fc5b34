/**
 * What the routed methods are, without their code: names, explanations, parameter schemas,
 * method-choosing options and file names. The engine's entries (twin.ts, channel.ts) add
 * validation and the package build to these; the app's main thread reads only this module.
 */
import { CHANNEL_FILES } from '../methods/channel/files.js';
import { CLUSTERING_CHOICES, DEFAULT_CLUSTERING_NAME } from '../methods/channel/clustering-names.js';
import { AVERAGE, METHODS } from '../methods/catalog.js';
import { TWIN_FILES } from '../methods/twin/files.js';
import { TWIN_PARAMS } from '../methods/twin/params.js';
import type { ParamSpec } from '../methods/types.js';
import type { RoutedMethod } from './types.js';

/** A routed method's description: everything in its entry but what runs. */
export type RoutedInfo = Omit<RoutedMethod, 'validate' | 'buildPackage' | 'describe'>;

export const TWIN_ID = 'twin_merging';
export const SHARED = 'shared_method';
export const EXCLUDE = 'exclude';
export const DEFAULT_SHARED = 'task_arithmetic';
/** Any registry method that merges more than two models can merge the shared expert (so not slerp). */
export const SHARED_CHOICES = METHODS.filter((m) => m.maxModels === undefined || m.maxModels > 2).map((m) => m.id);
/** TWIN_PARAMS' lambda is the shared expert's (it goes into its recipe); the rest are the twin's own. */
export const TWIN_LAMBDA = TWIN_PARAMS.find((p) => p.name === 'lambda')!;

export const CHANNEL_ID = 'channel_merging';
export const GROUP = 'group_method';
export const CLUSTERING = 'clustering';
/** mergekit's name for an equal-weight mean, accepted for 'average'. */
export const LINEAR = 'linear';
export const TASK_VECTOR_METHODS = METHODS.filter((m) => m.taskVectors && m.base === 'required');
export const GROUP_CHOICES = [AVERAGE, LINEAR, ...TASK_VECTOR_METHODS.map((m) => m.id)];

/** Channel Merging's own settings, in the registry's parameter schema. */
export const CHANNEL_PARAMS: readonly ParamSpec[] = [
  {
    name: 'groups',
    scope: 'global',
    type: 'integer',
    default: 2,
    min: 1,
    ui: { min: 1, max: 8, step: 1 },
    help: "K, the merged copies kept per output channel (at most the number of experts): each expert's row is looked up in one of them; K = experts keeps every expert exactly.",
  },
  {
    name: 'cluster_trimmed',
    scope: 'global',
    type: 'boolean',
    default: false,
    help: "Cluster the rows the group method's sign election sees (trimmed, for the TIES family) instead of the raw task vectors.",
  },
  {
    name: 'merge_singletons',
    scope: 'global',
    type: 'boolean',
    default: false,
    help: "A group with one expert at a channel keeps that expert's row (false); true applies the group method to it too (a TIES group of one is trimmed).",
  },
];
export const TWIN_INFO: RoutedInfo = {
  id: TWIN_ID,
  label: 'Twin-Merging',
  summary: "A shared expert merged from all experts with any method, plus each expert's difference to it as low-rank factors; a router on the shared model's features mixes them per input.",
  formula: 'θ(x) = θ* + Σt wt(x)·Ut,r Σt,r Vt,rᵀ   (θ* = shared_method(experts); Ut Σt Vtᵀ = svd(θt − θ*))',
  reference: 'Lu et al., Twin-Merging: Dynamic Integration of Modular Expertise in Model Merging, arXiv:2406.15479',
  choices:
    "From the paper's code: rank_ratio 0.1 (its svd mask keeps ⌊0.1 · min(m, n)⌋ singular values), exclude for heads and biases (taken from the task's own model), the router d → 2d → 2d → T with batch norm, LeakyReLU and dropout 0.5, Adam at 5e-4. Ours: a matrix whose factors would be no smaller is kept whole; rank is at least 1; an excluded tensor follows the input's largest routing weight; the router's epoch is the lowest held-out loss on a quarter of the validation split (the code keeps the best accuracy on its test split), batches of 128, training stopped 3 epochs after the last improvement; the lab starts with the small router (d → 32 → T), the paper's being about a minute to train on wasm.",
  params: TWIN_PARAMS,
  options: [
    { name: SHARED, kind: 'method', default: DEFAULT_SHARED, choices: SHARED_CHOICES, help: 'The method that merges the shared expert θ*; its own parameters (lambda, density, per-model weight ...) go beside it.' },
    {
      name: EXCLUDE,
      kind: 'list',
      choices: [],
      help: "Tensors kept out of the merge and the compression (a tensor whose name contains one of these, e.g. [head, bias]): each task keeps its expert's own copy, used for inputs routed to it (the paper code's exclude_param).",
    },
  ],
  innerParams: `the shared method's own parameters (e.g. density for ties; a missing per-model weight counts 1, a missing lambda ${TWIN_LAMBDA.default})`,
  base: 'required',
  minModels: 3,
  files: [TWIN_FILES.manifest, TWIN_FILES.shared, TWIN_FILES.exclusive, TWIN_FILES.router],
};

export const CHANNEL_INFO: RoutedInfo = {
  id: CHANNEL_ID,
  label: 'Channel Merging',
  summary: "Per output channel, the experts' task-vector rows are grouped into K groups by similarity (k-means on their directions, or average linkage) and merged within each group; each expert's rows are looked up in its group, a bias's entries with its weight's rows.",
  formula: 'W_t[c] = G[idx[t][c]][c],  G[g][c] = group_method({θt[c] : idx[t][c] = g})',
  reference: 'Zhang et al., Channel Merging: Preserving Specialization for Merged Experts, arXiv:2412.15283 (our reconstruction; no public code)',
  choices:
    "The paper (section 'Merging with Channel Similarity') groups each channel's delta parameters into K groups by similarity; we could not read that section's text, so k-means over the rows' directions (cosine, seeded by random_seed, 4 restarts) is our reading, average linkage our first reconstruction. Ours too: a channel is a row (first dimension); a bias follows its weight's rows element by element; a group of one keeps its expert's row; which method merges a group (average, task arithmetic, TIES …) is left to you.",
  params: CHANNEL_PARAMS,
  options: [
    { name: GROUP, kind: 'method', default: AVERAGE, choices: GROUP_CHOICES, help: "The method that merges the rows inside a group (linear = average); its own parameters (lambda, density ...) go beside it, one value for every expert." },
    {
      name: CLUSTERING,
      kind: 'name',
      default: DEFAULT_CLUSTERING_NAME,
      choices: CLUSTERING_CHOICES,
      help: "How each channel's rows are grouped: kmeans (by direction, seeded by random_seed; our reading of the paper's grouping) or average_linkage (agglomerative on cosine distance, our first reconstruction).",
    },
  ],
  innerParams: "the group method's own parameters (e.g. density and lambda for ties), single values",
  base: 'required',
  minModels: 3,
  files: [CHANNEL_FILES.manifest, CHANNEL_FILES.groups, CHANNEL_FILES.index, CHANNEL_FILES.router],
};

export const ROUTED_INFO: readonly RoutedInfo[] = [TWIN_INFO, CHANNEL_INFO];

export function findRoutedInfo(id: string): RoutedInfo | undefined {
  return ROUTED_INFO.find((m) => m.id === id);
}
