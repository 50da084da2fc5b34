/**
 * How the engine stops work nobody wants any more: one primitive, the cancel token the tensor loops
 * already check (merge/progress.ts), handed out two ways, and every service that stops work uses
 * one of the two instead of a counter of its own.
 *
 * - Lanes (`createLanes`): requests where only the newest matters (chart data while a slider
 *   moves). Each request on a lane takes a token that turns cancelled once a newer request comes in
 *   on the same lane; lanes are independent, so a sweep never cancels a slider's score.
 * - Jobs (`createJobs`): long work the caller stops by name (a merge it started and then cancels).
 *
 * Work that sees its token cancelled stops at its next check and rejects with CANCELLED.
 */
import { MergeLabError } from '../../errors.js';
import type { CancelToken } from '../../merge/progress.js';

/** A token of a lane: cancelled once a newer request came in, until the newest request takes it over. */
export interface LaneToken extends CancelToken {
  /** The newest request wants this work too (it asked for the same thing): not cancelled again until a newer one. */
  renew(): void;
}

export interface Lane {
  /** How many requests came in on this lane: a caller can tell whether anyone asked since it did. */
  readonly generation: number;
  /** A new request: every token handed out before is cancelled from now on. */
  ask(): LaneToken;
  /** A token for work on behalf of the newest request, asking nothing new (work ahead, guesses). */
  token(): LaneToken;
  /**
   * A request whose work waits for the one running on this lane to stop first (they share the
   * backend's memory), and is dropped with CANCELLED if a newer request came in meanwhile.
   */
  latest<T>(work: (cancel: CancelToken) => Promise<T>): Promise<T>;
  /** The error stale work on this lane rejects with. */
  superseded(): MergeLabError;
}

/**
 * One lane per key; `what` names a key's requests in its CANCELLED message ("Superseded by a newer
 * sweep."), e.g. `createLanes({ sweep: 'sweep', twin: 'Twin-Merging request' })`.
 */
export function createLanes<K extends string>(what: Readonly<Record<K, string>>): Readonly<Record<K, Lane>> {
  return Object.fromEntries(Object.entries<string>(what).map(([k, w]) => [k, createLane(w)])) as Record<K, Lane>;
}

export function createLane(what: string): Lane {
  let generation = 0;
  let running: Promise<unknown> = Promise.resolve();
  const token = (): LaneToken => {
    let at = generation;
    return {
      get cancelled() {
        return at !== generation;
      },
      renew() {
        at = generation;
      },
    };
  };
  const lane: Lane = {
    get generation() {
      return generation;
    },
    ask() {
      generation++;
      return token();
    },
    token,
    latest<T>(work: (cancel: CancelToken) => Promise<T>): Promise<T> {
      const cancel = lane.ask();
      const job = (async () => {
        await running.catch(() => undefined);
        if (cancel.cancelled) throw lane.superseded();
        return work(cancel);
      })();
      running = job;
      return job;
    },
    superseded: () => new MergeLabError('CANCELLED', `Superseded by a newer ${what}.`),
  };
  return lane;
}

export interface Jobs {
  /** Runs `work` as job `jobId`: cancel(jobId) cancels the token it is given, until it settles. */
  run<T>(jobId: string, work: (cancel: CancelToken) => Promise<T>): Promise<T>;
  /** Cancels job `jobId` if it runs; nothing otherwise (a job not yet started, or done). */
  cancel(jobId: string): void;
}

export function createJobs(): Jobs {
  const running = new Map<string, { cancelled: boolean }>();
  return {
    async run(jobId, work) {
      const token = { cancelled: false };
      running.set(jobId, token);
      try {
        return await work(token);
      } finally {
        if (running.get(jobId) === token) running.delete(jobId);
      }
    },
    cancel(jobId) {
      const t = running.get(jobId);
      if (t) t.cancelled = true;
    },
  };
}
