/**
 * Answers by recipe, for requests that follow a slider: the newest request is the one that
 * matters, the same recipes come back as the slider moves to and fro, and the next one is easy to
 * guess (one more step the same way).
 *
 * - A recipe answered recently is answered at once from `kept`.
 * - A request for a recipe already being worked on (asked for before, or guessed) takes that work over.
 * - Any other request starts new work; all work nobody asked for last goes stale and stops at its
 *   next check (`stale()`), rejecting with CANCELLED.
 * - `ahead(yamls)` works on guesses one by one while no request comes in.
 *
 * Kept answers are handed to every later asker as they are (in-process callers get the object
 * itself), so they are frozen, deeply, when kept: one caller cannot change what the next one gets.
 */
import { nextTask } from '../next-task.js';
import type { RecentMap } from '../recent.js';
import { createLane, type Lane, type LaneToken } from './services/cancel.js';

export interface AnswersAhead<T> {
  /** The answer for `yaml` (see above); rejects with CANCELLED once a newer request makes it stale. */
  answer(yaml: string): Promise<T>;
  /** Works on `yamls` (most likely first) until a request comes in; what it finishes is kept. */
  ahead(yamls: readonly string[]): void;
}

export interface AnswersAheadOptions<T> {
  readonly kept: RecentMap<string, T>;
  /** The work for one recipe; it should check `stale()` between steps and stop (throw) when true. */
  readonly work: (yaml: string, stale: () => boolean) => Promise<T>;
  /** A request answered from `kept`: whatever still runs is stale now (e.g. stop a merge at once). */
  readonly onKept?: () => void;
  /** The lane (services/cancel.ts) whose requests make this work stale; default: a lane of its own. */
  readonly lane?: Lane;
}

export function answersAhead<T>(o: AnswersAheadOptions<T>): AnswersAhead<T> {
  const inflight = new Map<string, { promise: Promise<T>; wanted: LaneToken }>();
  const lane = o.lane ?? createLane('request');
  let queue: readonly string[] = [];
  let working = false;

  const start = (yaml: string): Promise<T> => {
    const entry = { wanted: lane.token(), promise: Promise.resolve(undefined as never) as Promise<T> };
    const stale = () => entry.wanted.cancelled;
    entry.promise = (async () => {
      await undefined; // in `inflight` before any work starts
      const superseded = () => lane.superseded();
      try {
        let value: T;
        try {
          value = await o.work(yaml, stale);
        } catch (e) {
          // Work that stopped because it went stale (however it said so) was simply not wanted.
          throw stale() ? superseded() : e;
        }
        // Right whoever asked: kept even when the asker has moved on, who then hears CANCELLED.
        o.kept.set(yaml, deepFreeze(value));
        if (stale()) throw superseded();
        return value;
      } finally {
        if (inflight.get(yaml) === entry) inflight.delete(yaml);
      }
    })();
    inflight.set(yaml, entry);
    return entry.promise;
  };

  return {
    answer(yaml) {
      lane.ask();
      queue = [];
      const known = o.kept.get(yaml);
      if (known !== undefined) {
        o.onKept?.();
        return Promise.resolve(known);
      }
      const running = inflight.get(yaml);
      if (running) {
        running.wanted.renew();
        return running.promise;
      }
      return start(yaml);
    },
    ahead(yamls) {
      queue = yamls.filter((y) => o.kept.get(y) === undefined && !inflight.has(y));
      if (working || queue.length === 0) return;
      working = true;
      void (async () => {
        try {
          // After the answer just given is on its way: started at once, the guesses' work (which
          // awaits only resolved promises) ran between the answer's own steps and held it back
          // by tens of milliseconds in a worker.
          await nextTask();
          while (queue.length > 0) {
            const [next, ...rest] = queue;
            queue = rest;
            await start(next!).catch(() => undefined);
          }
        } finally {
          working = false;
        }
      })();
    },
  };
}

/** `value` with every object and array in it frozen (answers are plain data: no cycles, no classes). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    // Typed arrays with elements cannot be frozen; answers hold plain arrays.
    if (ArrayBuffer.isView(value)) return value;
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
