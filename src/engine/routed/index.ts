/**
 * Routed methods (Twin-Merging, Channel Merging) for recipes: their registry, recipe validation
 * and package builds from checkpoints, and their rows on the embedded demo. Shared by the CLI and
 * the lab's worker.
 */
export { ROUTED_METHODS, closestRouted, findRoutedMethod, isRoutedMethod } from './routed-methods.js';
export { TWIN_MERGING } from './twin.js';
export { CHANNEL_MERGING } from './channel.js';
export { CHANNEL_PARAMS, ROUTED_INFO, findRoutedInfo, type RoutedInfo } from './info.js';
export type { OptionSpec, PackageStorage, RoutedBuildOptions, RoutedMethod, RoutedPackage, RoutedReport, RoutedValidateInput, RoutedValidation, TensorError } from './types.js';
export { ROUTED_FULL_GRID, ROUTED_QUICK_GRID, routedDemo, type KSweepRow, type RankSweepRow, type RoutedDemoGrid, type RoutedDemoOptions, type RoutedDemoTables } from './demo.js';
