/**
 * The merge pool's messages and both ends of them, whatever carries them (Node worker_threads in
 * the CLI, Web Workers in the page): the worker's side serves merge jobs with the engine's job
 * runner (pool.ts), the host's side is a MergeWorker that posts jobs and turns the replies back into
 * JobEvents. A part of a result crosses as a handed-over buffer, never a copy, where it owns one.
 */
import type { BackendName } from '../backend.js';
import { MergeLabError, isMergeLabError, type ErrorCode } from '../errors.js';
import type { MergeMethod } from '../methods/types.js';
import { createJobRunner, fromPoolPlan, type JobEvents, type MergeWorker, type PoolPlan } from './pool.js';

export type FromHost =
  | { readonly type: 'init'; readonly plan: PoolPlan; readonly backend: BackendName }
  /** Tensor `index` of the plan; `values` are handed over. */
  | { readonly type: 'job'; readonly id: number; readonly index: number; readonly values: Float32Array[] };

export type ToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'inputs'; readonly id: number; readonly nonFinite: number[] }
  | { readonly type: 'part'; readonly id: number; readonly part: Float32Array; readonly whole: boolean }
  | { readonly type: 'warning'; readonly id: number; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly outputNonFinite: number }
  /** id −1: the worker could not start. */
  | { readonly type: 'failed'; readonly id: number; readonly code: string; readonly message: string };

export interface WorkerSide {
  send(m: ToHost, transfer?: ArrayBuffer[]): void;
  /** Starts this worker's tfjs backend (the host's choice: the pool's workers share it). */
  startBackend(name: BackendName): Promise<void>;
  readonly methods: readonly MergeMethod[];
  readonly collectGarbage?: () => void;
}

function failure(e: unknown): { code: string; message: string } {
  if (isMergeLabError(e)) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: `A merge worker failed: ${(e as Error)?.message ?? String(e)}` };
}

/** The worker's side: returns the handler for each message from the host. */
export function serveMergeJobs(side: WorkerSide): (m: FromHost) => Promise<void> {
  let run: ReturnType<typeof createJobRunner> | undefined;
  const { send } = side;
  return async (m) => {
    if (m.type === 'init') {
      try {
        await side.startBackend(m.backend);
        run = createJobRunner(fromPoolPlan(m.plan, side.methods), side.collectGarbage ? { collectGarbage: side.collectGarbage } : {});
        send({ type: 'ready' });
      } catch (e) {
        send({ type: 'failed', id: -1, ...failure(e) });
      }
      return;
    }
    const { id } = m;
    try {
      if (!run) throw new MergeLabError('INTERNAL', 'A merge worker was sent a tensor before its plan.');
      const bad = await run(m.index, m.values, {
        inputs: (nonFinite) => send({ type: 'inputs', id, nonFinite: [...nonFinite] }),
        part: (part, whole) => {
          // Handed over when the part is its buffer's alone; a view into a larger buffer goes as a copy.
          const own = part.byteOffset === 0 && part.byteLength === part.buffer.byteLength && part.buffer instanceof ArrayBuffer ? part : part.slice();
          send({ type: 'part', id, part: own, whole }, [own.buffer as ArrayBuffer]);
        },
        warning: (message) => send({ type: 'warning', id, message }),
      });
      send({ type: 'done', id, outputNonFinite: bad });
    } catch (e) {
      send({ type: 'failed', id, ...failure(e) });
    }
  };
}

interface Job {
  readonly events: JobEvents;
  resolve(outputNonFinite: number): void;
  reject(e: unknown): void;
}

/**
 * The host's side of one worker: `post` carries a message there, and whoever holds the worker calls
 * receive() with each of its replies and fail() when it dies.
 */
export class PortMergeWorker implements MergeWorker {
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private ready: { resolve(): void; reject(e: unknown): void } | undefined;
  private dead: MergeLabError | undefined;

  constructor(private readonly post: (m: FromHost, transfer: ArrayBuffer[]) => void) {}

  /** Sends the plan; resolves once the worker's backend is up. */
  start(plan: PoolPlan, backend: BackendName): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject };
      this.post({ type: 'init', plan, backend }, []);
    });
  }

  merge(index: number, values: Float32Array[], events: JobEvents): Promise<number> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.jobs.set(id, { events, resolve, reject });
      // Each buffer once (two inputs may view one), and only buffers that can be handed over.
      const buffers = [...new Set(values.map((v) => v.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      this.post({ type: 'job', id, index, values }, buffers);
    });
  }

  receive(m: ToHost): void {
    if (m.type === 'ready') {
      this.ready?.resolve();
      this.ready = undefined;
      return;
    }
    if (m.type === 'failed' && m.id < 0) {
      this.ready?.reject(new MergeLabError(m.code as ErrorCode, m.message));
      this.ready = undefined;
      return;
    }
    const job = this.jobs.get(m.id);
    if (!job) return;
    switch (m.type) {
      case 'inputs':
        job.events.inputs(m.nonFinite);
        break;
      case 'part':
        job.events.part(m.part, m.whole);
        break;
      case 'warning':
        job.events.warning(m.message);
        break;
      case 'done':
        this.jobs.delete(m.id);
        job.resolve(m.outputNonFinite);
        break;
      case 'failed':
        this.jobs.delete(m.id);
        job.reject(new MergeLabError(m.code as ErrorCode, m.message));
        break;
    }
  }

  /** The worker is gone: every job of it, and its start, fail with `e` (the first cause is kept). */
  fail(e: MergeLabError): void {
    this.dead ??= e;
    this.ready?.reject(this.dead);
    this.ready = undefined;
    for (const job of this.jobs.values()) job.reject(this.dead);
    this.jobs.clear();
  }
}

export interface MergePool {
  readonly workers: readonly MergeWorker[];
  /** Stops every worker (a merge still running in one is abandoned). */
  close(): Promise<void>;
}
