/**
 * What a Channel Merging package costs against keeping the T experts (spec "Channel Merging" 5):
 * K merged copies of every tensor plus one uint8 index table [T, C] per tensor. The base is not
 * needed at inference (groups hold full weights), so it is not counted; neither is it in the
 * experts' side. A router, when there is one, is added to the package's side.
 */
import { channelLayout } from './cluster.js';

export interface ChannelStorage {
  readonly tasks: number;
  readonly K: number;
  /** Σ over tensors of K · numel: the merged copies. */
  readonly groupParams: number;
  /** Σ over tensors of T · channels: index-table entries (one byte each). */
  readonly indexEntries: number;
  /** The router's parameters (0 when none). */
  readonly routerParams: number;
  /** T · Σ numel: what keeping every expert costs. */
  readonly expertParams: number;
  /** Bytes per stored weight (4 for F32, 2 for F16/BF16). */
  readonly bytesPerParam: number;
  readonly packageBytes: number;
  readonly expertBytes: number;
  /** packageBytes / expertBytes. */
  readonly ratio: number;
}

export function channelStorage(
  tensors: readonly { readonly shape: readonly number[] }[],
  T: number,
  K: number,
  options: { bytesPerParam?: number; routerParams?: number; routerBytesPerParam?: number } = {},
): ChannelStorage {
  const bytesPerParam = options.bytesPerParam ?? 4;
  const routerParams = options.routerParams ?? 0;
  let numel = 0;
  let indexEntries = 0;
  for (const t of tensors) {
    numel += t.shape.reduce((a, b) => a * b, 1);
    indexEntries += T * channelLayout(t.shape).channels;
  }
  const groupParams = K * numel;
  const expertParams = T * numel;
  const packageBytes = groupParams * bytesPerParam + indexEntries + routerParams * (options.routerBytesPerParam ?? 4);
  const expertBytes = expertParams * bytesPerParam;
  return { tasks: T, K, groupParams, indexEntries, routerParams, expertParams, bytesPerParam, packageBytes, expertBytes, ratio: expertBytes > 0 ? packageBytes / expertBytes : 0 };
}
