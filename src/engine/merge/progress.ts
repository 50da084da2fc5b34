/** Progress and cancellation shared by the CLI, the worker and tests. */
import { MergeLabError } from '../errors.js';

export interface MergeProgress {
  /** 1-based index of the tensor just finished. */
  readonly tensorIndex: number;
  readonly tensorCount: number;
  readonly tensorName: string;
  /** Output bytes written so far and in all. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Milliseconds since the merge started. */
  readonly elapsedMs: number;
}

/** A cancellation flag that crosses comlink (an AbortSignal does not). */
export interface CancelToken {
  readonly cancelled: boolean;
}

export function throwIfCancelled(token: CancelToken | undefined): void {
  if (token?.cancelled) throw new MergeLabError('CANCELLED', 'The merge was cancelled; nothing was written.');
}
