/**
 * Twin-Merging (Lu et al., arXiv:2406.15479; spec "Twin-Merging"): a shared expert merged from all
 * experts, each expert's exclusive knowledge as low-rank factors of its difference to it, a router
 * on the shared model's features, and a per-input merge of the two at inference. Not a per-tensor
 * MergeMethod (its result depends on the input), so it is not in the method registry; its settings
 * are described by TWIN_PARAMS in the same schema, for the lab's sliders.
 */

export { TWIN_PARAMS } from './params.js';

export { DEFAULT_SHARED_LAMBDA, buildSharedExpert, taskArithmeticRecipe, type SharedExpertOptions } from './shared.js';
export {
  PAPER_RANK_RATIO,
  chooseRank,
  compressExclusive,
  cutPart,
  excludedTensors,
  decomposeDelta,
  decomposeExclusive,
  lowRankPart,
  materializeMerge,
  partDelta,
  routedTask,
  truncateExclusive,
  type DecomposeOptions,
  type DeltaDense,
  type DeltaSvd,
  type DensePart,
  type ExclusiveDecomposition,
  type ExclusiveKnowledge,
  type ExclusivePart,
  type LowRankPart,
  type OwnPart,
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
