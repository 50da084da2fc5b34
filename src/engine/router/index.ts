/**
 * The task router shared by the routed merges (Twin-Merging, Channel Merging): train a small MLP on
 * a model's features and task labels, turn its logits into per-sample task weights, serialise it.
 */
export { DEFAULT_ROUTER_OPTIONS, type EpochStats, type RouterOptions, type RouterWeights, type RoutingOptions, type TrainedRouter } from './types.js';
export { featureStandardisation, resolveRouterOptions, trainRouter, transposeMatrix, type RouterTrainingSet } from './train.js';
export {
  argmaxTasks,
  meanWeightsByTask,
  oneHotWeights,
  resolveRoutingOptions,
  routerLogits,
  routerParameterCount,
  routingAccuracy,
  routingAccuracyByTask,
  routingWeights,
} from './route.js';
export { ROUTER_LAYOUT, routerFromTensors, routerTensors } from './serialize.js';
