/**
 * One latest-wins request for a piece of chart data (diagnostics, spectrum, sweep, the routed
 * views): numbered when sent, its answer kept only if nothing newer was shown, its error only if
 * it is still the newest (and then instead of the last answer); an overtaken (CANCELLED) or
 * orphaned (worker gone) call says nothing.
 */
import type { StoreApi } from 'zustand';
import { isMergeLabError } from '../../engine/errors.js';
import { toAppError } from '../demo/errors.js';
import { isEngineGone } from '../engine/failures.js';
import type { AppError, ChartData, LabState } from './types.js';

/** The store keys that hold ChartData. */
export type ChartKey = 'diagnostics' | 'spectrum' | 'layerRanks' | 'sweep' | 'twinView' | 'channelView' | 'lmSweep';
type DataOf<K extends ChartKey> = NonNullable<LabState[K]['shown']>['data'];

/**
 * A request that failed, as the store keeps it: its error and no answer. The last answer goes with
 * it — it belonged to other settings, and drawn under this error it would read as their answer —
 * and so does every answer still on its way from before it (`floor`). An error found before any
 * request was sent (a recipe that cannot be built) counts as the next request: pass requested + 1.
 */
export function failed(requested: number, error: AppError): { readonly status: 'error'; readonly requested: number; readonly error: AppError; readonly floor: number } {
  return { status: 'error', requested, error, floor: requested };
}

/** Nothing to show, and nothing from before to be shown later either (the models or the source changed). */
export function cleared(requested: number): { readonly status: 'idle'; readonly requested: number; readonly floor: number } {
  return { status: 'idle', requested: requested + 1, floor: requested + 1 };
}

/** Whether an answer to request `seq` may still be shown over what `c` holds. */
export function showable(c: { readonly floor?: number; readonly shown?: { readonly seq: number } }, seq: number): boolean {
  return seq > (c.floor ?? 0) && !(c.shown && c.shown.seq > seq);
}

export function latestRequest<K extends ChartKey>(
  store: Pick<StoreApi<LabState>, 'getState' | 'setState'>,
  name: K,
  call: () => Promise<DataOf<K>>,
  inputAt?: number,
  /** Called when the worker was lost under the call (ask again next time even for the same inputs). */
  forget?: () => void,
  /** Called with an answer once it is shown and still the newest request's (e.g. to ask for more of it). */
  onShown?: (data: DataOf<K>) => void,
): void {
  const get = () => store.getState()[name] as ChartData<DataOf<K>>;
  const put = (c: ChartData<DataOf<K>>) => store.setState({ [name]: c } as Partial<LabState>);
  const seq = get().requested + 1;
  put({ ...get(), status: 'computing', requested: seq });
  call().then(
    (data) => {
      const c = get();
      if (!showable(c, seq)) return;
      put({ status: seq === c.requested ? 'ready' : 'computing', requested: c.requested, shown: { seq, data, ...(inputAt !== undefined ? { inputAt } : {}) } });
      if (seq === c.requested) onShown?.(data);
    },
    (e: unknown) => {
      if (isEngineGone(e)) forget?.();
      if ((isMergeLabError(e) && e.code === 'CANCELLED') || isEngineGone(e)) return;
      const c = get();
      if (seq === c.requested) put(failed(c.requested, toAppError(e)));
    },
  );
}
