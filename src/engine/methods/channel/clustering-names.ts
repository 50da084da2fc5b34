/**
 * The names of Channel Merging's grouping methods, without their code, so the app's main thread and
 * the routed methods' descriptors can list them (cluster.ts has the code).
 */
export const CLUSTERING_CHOICES: readonly ('kmeans' | 'average_linkage')[] = ['kmeans', 'average_linkage'];
export const DEFAULT_CLUSTERING_NAME = 'kmeans';
