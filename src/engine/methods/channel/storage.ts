/**
 * What a Channel Merging package costs against keeping the T experts (spec "Channel Merging" 5):
 * K merged copies of every tensor plus one uint8 index table [T, C] per tensor. The base is not
 * needed at inference (groups hold full weights), so it is not counted; neither is it in the
 * experts' side. A router, when there is one, is counted apart (`routerBytes`, `withRouter`): the
 * headline `ratio` is the package's weights against the experts', the number the CLI, channel.json
 * and the lab all print for the same package.
 */
import { channelLayout } from './cluster.js';

export interface ChannelStorage {
  readonly tasks: number;
  readonly K: number;
  /** Σ over tensors of K · numel: the merged copies. */
  readonly groupParams: number;
  /** Σ over tensors of T · channels: index-table entries (one byte each). */
  readonly indexEntries: number;
  /** The router's parameters (0 when none), and their bytes (float32). */
  readonly routerParams: number;
  readonly routerBytes: number;
  /** T · Σ numel: what keeping every expert costs. */
  readonly expertParams: number;
  /** Bytes per stored weight (4 for F32, 2 for F16/BF16). */
  readonly bytesPerParam: number;
  /** Groups and index tables: the package's weights, no router. */
  readonly packageBytes: number;
  readonly expertBytes: number;
  /** packageBytes / expertBytes. */
  readonly ratio: number;
  /** The package with its router. */
  readonly withRouter: { readonly bytes: number; readonly ratio: number };
}

export function channelStorage(
  tensors: readonly { readonly shape: readonly number[]; readonly channels?: number }[],
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
    indexEntries += T * channelLayout(t.shape, t.channels).channels;
  }
  const groupParams = K * numel;
  const expertParams = T * numel;
  const packageBytes = groupParams * bytesPerParam + indexEntries;
  const routerBytes = routerParams * (options.routerBytesPerParam ?? 4);
  const expertBytes = expertParams * bytesPerParam;
  const of = (bytes: number) => (expertBytes > 0 ? bytes / expertBytes : 0);
  return {
    tasks: T,
    K,
    groupParams,
    indexEntries,
    routerParams,
    routerBytes,
    expertParams,
    bytesPerParam,
    packageBytes,
    expertBytes,
    ratio: of(packageBytes),
    withRouter: { bytes: packageBytes + routerBytes, ratio: of(packageBytes + routerBytes) },
  };
}
