/**
 * Channel Merging (spec "Channel Merging"; seed paper arXiv 2412.15283, our reconstruction):
 * group the experts' task-vector rows per output channel into K groups (k-means or average linkage), merge within groups,
 * look rows up per task, route. Engine only: the CLI and the lab build on these.
 */
export {
  CLUSTERING_METHODS,
  DEFAULT_CLUSTERING,
  MAX_TASKS,
  agglomerate,
  channelCosines,
  channelLayout,
  clusterChannels,
  groupMembers,
  groupTable,
  outputChannelOwner,
  type ChannelClustering,
  type ChannelDendrograms,
  type ClusterInput,
  type ClusteringMethod,
} from './cluster.js';
export { AVERAGE, resolveGroupMethod, type GroupMethodSpec, type ResolvedGroupMethod } from './group-method.js';
export { mergeGroups, type GroupMergeInput } from './group-merge.js';
export { checkpointSource, weightsSource, type ChannelSource, type ChannelTensorSpec } from './source.js';
export {
  channelMerge,
  channelSweep,
  clusteringVectors,
  eachTensor,
  planTensors,
  electionView,
  mergeTensor,
  tensorContext,
  type ChannelMergeOptions,
  type ChannelModel,
  type ChannelSweep,
  type ChannelSweepPoint,
  type ChannelTensor,
  type PlannedTensor,
  type Similarity,
  type TensorContext,
} from './channel-merge.js';
export { argmaxRoutes, lookupTensor, oracleRoutes, routedAccuracy, taskWeights, type RoutedScore, type Routes } from './lookup.js';
export { channelStorage, type ChannelStorage } from './storage.js';
export { addPairCounts, emptyPairCounts, pairConflictRates, pairConflicts, type PairConflictCounts, type PairConflictRates } from './conflicts.js';
export {
  CHANNEL_FILES,
  CHANNEL_FORMAT,
  CHANNEL_VERSION,
  buildChannelPackage,
  readChannelPackage,
  type ChannelManifest,
  type ChannelPackage,
  type ChannelPackageOptions,
  type GroupsDtype,
} from './package.js';
export { assignmentMap, type AssignmentMap } from './assignment.js';
export {
  channelDemo,
  channelDemoPackage,
  defaultCandidates,
  penultimateFeatures,
  type ChannelCandidate,
  type ChannelDemo,
  type ChannelDemoOptions,
  type ChannelRow,
  type ChannelSweepRow,
} from './demo.js';
