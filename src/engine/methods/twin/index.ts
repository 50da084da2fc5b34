/**
 * Twin-Merging (Lu et al., arXiv:2406.15479; spec "Twin-Merging"): a shared expert merged from all
 * experts, each expert's exclusive knowledge as low-rank factors of its difference to it, a router
 * on the shared model's features, and a per-input merge of the two at inference. Not a per-tensor
 * MergeMethod (its result depends on the input), so it is not in the method registry; its settings
 * are described by TWIN_PARAMS in the same schema, for the lab's sliders.
 */
import type { ParamSpec } from '../types.js';

export const TWIN_PARAMS: readonly ParamSpec[] = [
  { name: 'lambda', scope: 'global', type: 'number', default: 0.3, min: 0, ui: { min: 0, max: 1.5, step: 0.05 }, help: "Scale of the shared expert's combined task vector (task arithmetic's or TIES' λ; the demo table chooses it on validation)." },
  { name: 'rank', scope: 'global', type: 'integer', default: 4, min: 1, ui: { min: 1, max: 64, step: 1 }, help: 'Rank r each expert − shared difference is truncated to: r·(m + n) values per matrix instead of m·n.' },
  { name: 'energy', scope: 'global', type: 'number', min: 0, max: 1, minExclusive: true, ui: { min: 0.5, max: 1, step: 0.01 }, help: 'Instead of a fixed rank: per matrix, the smallest rank holding this share of the difference’s energy Σσ².' },
  { name: 'hidden', scope: 'global', type: 'integer', default: 32, min: 1, ui: { min: 4, max: 256, step: 4 }, help: "Hidden units of the router MLP on the shared model's features." },
  { name: 'epochs', scope: 'global', type: 'integer', default: 6, min: 1, ui: { min: 1, max: 50, step: 1 }, help: 'Router training epochs over the validation split.' },
  { name: 'learningRate', scope: 'global', type: 'number', default: 0.005, min: 0, minExclusive: true, ui: { min: 0.0005, max: 0.05, step: 0.0005 }, help: "Router training's Adam step size." },
  { name: 'temperature', scope: 'global', type: 'number', default: 1, min: 0, minExclusive: true, ui: { min: 0.05, max: 5, step: 0.05 }, help: 'softmax(logits / temperature): lower picks one expert, higher blends them.' },
  { name: 'topK', scope: 'global', type: 'integer', min: 1, ui: { min: 1, max: 8, step: 1 }, help: 'Keep only the k largest routing weights per input (renormalised); empty keeps all.' },
  { name: 'seed', scope: 'global', type: 'integer', default: 0, min: 0, ui: { min: 0, max: 100, step: 1 }, help: "Seeds the router's initial weights and batch order." },
];

export { DEFAULT_SHARED_LAMBDA, buildSharedExpert, taskArithmeticRecipe, type SharedExpertOptions } from './shared.js';
export {
  chooseRank,
  compressExclusive,
  decomposeDelta,
  decomposeExclusive,
  lowRankPart,
  materializeMerge,
  partDelta,
  truncateExclusive,
  type DecomposeOptions,
  type DeltaDense,
  type DeltaSvd,
  type DensePart,
  type ExclusiveDecomposition,
  type ExclusiveKnowledge,
  type ExclusivePart,
  type LowRankPart,
  type RankChoice,
  type TensorValues,
  type TwinTensor,
} from './exclusive.js';
export { dynamicLogits, featureWidth, sharedFeatures } from './dynamic.js';
export { twinStorage, type TwinStorage } from './storage.js';
export { TWIN_FILES, TWIN_FORMAT, TWIN_VERSION, buildTwinPackage, readTwinPackage, type TwinManifest, type TwinModel } from './package.js';
export { DEFAULT_REPORT_RANKS, compressCheckpoints, type CompressOptions, type CompressionReport, type Compressed, type TensorCompression } from './compress.js';
export {
  TWIN_LAMBDAS,
  TWIN_RANKS,
  TWIN_TABLE_RANK,
  loadHardTasks,
  twinDemo,
  type HardTaskReport,
  type HardTasks,
  type RoutingDiagnostics,
  type TwinDemoOptions,
  type TwinDemoResult,
  type TwinSweepPoint,
} from './demo.js';
