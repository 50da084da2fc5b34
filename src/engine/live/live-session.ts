/**
 * Live recompute for small models (the demo, small dropped checkpoints): inputs stay decoded in
 * memory, sort orders of task-vector magnitudes are kept (a density or λ move then costs O(n),
 * not a sort), the task-arithmetic family's result before λ is kept per tensor (a λ move then
 * costs one pass of base + λ·u per tensor: run-merge.ts UnscaledCache), and requests are latest-wins — a request overtaken by a newer one stops before its
 * next tensor and is never queued behind it.
 */
import { MergeLabError } from '../errors.js';
import type { Checkpoint } from '../io/types.js';
import { mergeToMemory } from '../merge/merge-to-memory.js';
import type { UnscaledCache } from '../merge/run-merge.js';
import { METHODS } from '../methods/registry.js';
import type { OrderCache } from '../methods/types.js';
import type { Recipe } from '../recipe/types.js';

export interface LiveSession {
  /**
   * Merges `recipe` into memory; rejects with CANCELLED (superseded) when a newer call came in.
   * `pause` is awaited before each read of an input tensor: work that must give way (a sweep beside
   * a slider's requests) lets the worker take its messages between tensors, not only after the merge.
   */
  merge(recipe: Recipe, options?: { readonly pause?: () => Promise<void> }): Promise<Record<string, Float32Array>>;
  /** Stops the merge in flight at its next tensor (its answer is no longer wanted). */
  supersede(): void;
  /** Forget what was kept about `model` (it was reloaded or removed). */
  invalidate(model?: string): void;
  /** How many sort orders are kept (for tests and the status bar). */
  readonly cachedOrders: number;
  /** How many tensors' results before λ are kept (for tests). */
  readonly cachedUnscaled: number;
}

/** A checkpoint whose tensors are decoded once and then served from memory. Values must not be mutated. */
export function memoizedCheckpoint(c: Checkpoint): Checkpoint {
  const values = new Map<string, Promise<Float32Array>>();
  return {
    name: c.name,
    tensorNames: c.tensorNames,
    metadata: c.metadata,
    info: (n) => c.info(n),
    readRaw: (n) => c.readRaw(n),
    readFloat32(n) {
      let v = values.get(n);
      if (!v) {
        v = c.readFloat32(n);
        values.set(n, v);
        v.catch(() => values.delete(n));
      }
      return v;
    },
    close: () => c.close(),
  };
}

/** `inputs` whose reads first await `pause`; the same arrays come back, so what is kept about them still holds. */
function pausing(inputs: ReadonlyMap<string, Checkpoint>, pause: () => Promise<void>): Map<string, Checkpoint> {
  return new Map(
    [...inputs].map(([k, c]) => [
      k,
      {
        name: c.name,
        tensorNames: c.tensorNames,
        metadata: c.metadata,
        info: (n) => c.info(n),
        readRaw: (n) => c.readRaw(n),
        readFloat32: async (n) => {
          await pause();
          return c.readFloat32(n);
        },
        close: () => c.close(),
      } satisfies Checkpoint,
    ]),
  );
}

export function createLiveSession(checkpoints: ReadonlyMap<string, Checkpoint>): LiveSession {
  const inputs = new Map([...checkpoints].map(([k, c]) => [k, memoizedCheckpoint(c)]));
  // One cache per working dtype: rounding inputs to float16/bfloat16 changes every τ.
  const caches = new Map<string, Map<string, Int32Array>>();
  // By tensor name, the newest recipe's: one model's worth of float32 at most.
  const unscaled: UnscaledCache = new Map();
  let generation = 0;
  let running: Promise<unknown> = Promise.resolve();

  const cacheFor = (dtype: string): OrderCache => {
    let m = caches.get(dtype);
    if (!m) caches.set(dtype, (m = new Map()));
    return m;
  };
  const superseded = () => new MergeLabError('CANCELLED', 'Superseded by a newer request.');

  return {
    async merge(recipe, options = {}) {
      const mine = ++generation;
      // Wait for the request in flight to notice it is stale and stop; never run two at once.
      await running.catch(() => undefined);
      if (mine !== generation) throw superseded();
      const job = mergeToMemory({
        recipe,
        methods: METHODS,
        checkpoints: options.pause ? pausing(inputs, options.pause) : inputs,
        orderCache: cacheFor(recipe.dtype ?? 'float32'),
        unscaledCache: unscaled,
        cancel: {
          get cancelled() {
            return mine !== generation;
          },
        },
      });
      running = job;
      return job;
    },
    supersede() {
      generation++;
    },
    invalidate(model) {
      // Entries name no model: they are made anew when their inputs are other arrays, and go now to free their memory.
      unscaled.clear();
      for (const m of caches.values()) {
        for (const k of [...m.keys()]) if (model === undefined || k.split('\u0000').includes(model)) m.delete(k);
      }
    },
    get cachedUnscaled() {
      return unscaled.size;
    },
    get cachedOrders() {
      return [...caches.values()].reduce((s, m) => s + m.size, 0);
    },
  };
}
