/**
 * The task router shared by the routed merges (Twin-Merging, Channel Merging): train an MLP (the
 * paper's architecture or the small one) on a model's features and task labels, with a held-out
 * curve and early stopping; turn its logits into per-sample task weights; serialise it.
 */
export {
  BATCH_NORM_EPS,
  LEAKY_SLOPE,
  ROUTER_ARCHITECTURES,
  ROUTER_DEFAULTS,
  type EpochStats,
  type ResolvedRouterOptions,
  type RouterArchitecture,
  type RouterLayer,
  type RouterNorm,
  type RouterOptions,
  type RouterWeights,
  type RoutingOptions,
  type TrainedRouter,
} from './types.js';
export { MIN_DELTA, featureStandardisation, pickRows, resolveRouterOptions, routerOptionsFor, routerOptionsOf, routerSplit, trainRouter, trainRouterOnSplit, transposeMatrix, type RouterTrainingSet } from './train.js';
export {
  argmaxTasks,
  meanLargestWeight,
  meanWeightsByTask,
  oneHotWeights,
  resolveRoutingOptions,
  routerLogits,
  routerLogitsTensor,
  routerParameterCount,
  routingAccuracy,
  routingAccuracyByTask,
  routingWeights,
} from './route.js';
export { routerFromTensors, routerLayout, routerTensors } from './serialize.js';
