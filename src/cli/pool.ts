/**
 * The CLI's merge pool: worker threads (node:worker_threads), each with its own tfjs backend, that
 * merge the tensors runMergePool (engine/merge/pool.ts) hands them. Inputs go to a worker and parts
 * of the result come back as transferred buffers, never copied. How many: `--workers`, by default
 * one per core for a merge large enough to gain from them (workerCount).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../engine/backend.js';
import { MergeLabError, type ErrorCode } from '../engine/errors.js';
import { numel } from '../engine/io/dtypes.js';
import { poolBudget, toPoolPlan, type JobEvents, type MergeWorker } from '../engine/merge/pool.js';
import type { MergePlanToRun } from '../engine/merge/run-merge.js';
import type { FromHost, ToHost } from './pool-messages.js';

/**
 * Below this many bytes of inputs (float32) a merge takes a second or two on one thread, about
 * what starting a worker costs (its own Node context, tsx, tfjs and backend: ~1 s of CPU here):
 * `--workers auto` keeps it on one.
 */
export const POOL_FROM_BYTES = 256 << 20;

/**
 * What a worker thread holds before any tensor (its Node context, tsx, tfjs, the engine, its
 * backend's heap): about 75 MiB measured here (bench/memory-bench.ts, two workers against one),
 * counted with a margin in the pool's memory bound (poolMemoryBound).
 */
export const WORKER_FIXED_BYTES = 96 << 20;

/**
 * `--workers`: a count of at least 1, or 'auto' (the default): one per core, but no more than the
 * merge has work for beside its largest tensor (the inputs' bytes over the largest tensor's, so a
 * checkpoint that is mostly one embedding stays on one worker and its memory), and 1 for a merge
 * whose inputs are under POOL_FROM_BYTES. WebGPU merges on one worker: one GPU, one device.
 */
export function workerCount(option: string | undefined, plan: MergePlanToRun, backend: BackendName): number {
  const auto = option === undefined || option === 'auto';
  const n = auto ? availableParallelism() : Number(option);
  if (!auto && !(Number.isInteger(n) && n >= 1 && /^\d+$/.test(option!.trim()))) {
    throw new MergeLabError('PARAMETER_INVALID', `--workers must be a whole number of at least 1, or "auto" (one per core), got "${option}".`);
  }
  if (backend === 'webgpu') return 1;
  if (!auto) return n;
  const total = inputBytes(plan);
  if (total < POOL_FROM_BYTES) return 1;
  const largest = Math.max(...plan.tensors.map((t) => numel(t.shape) * 4 * t.models.length));
  return Math.max(1, Math.min(n, Math.floor(total / largest)));
}

function inputBytes(plan: MergePlanToRun): number {
  return plan.tensors.reduce((s, t) => s + numel(t.shape) * 4 * t.models.length, 0);
}

/**
 * The peak RSS a CLI merge on `workers` worker threads stays within: the pool's budget for the
 * tensors in flight (poolBudget: (models + 2) × the sum of the `workers` largest tensors), 64 MiB
 * as for one thread, and each worker's fixed part. bench/memory-bench.ts checks it.
 */
export function poolMemoryBound(plan: Parameters<typeof poolBudget>[0], workers: number): number {
  return poolBudget(plan, workers) + (64 << 20) + workers * WORKER_FIXED_BYTES;
}

export interface MergePool {
  readonly workers: readonly MergeWorker[];
  /** Stops every worker (a merge still running in one is abandoned). */
  close(): Promise<void>;
}

/** Starts `count` workers for `plan` on `backend`; resolves once every one is ready. */
export async function startMergePool(count: number, plan: MergePlanToRun, backend: BackendName): Promise<MergePool> {
  const workers = Array.from({ length: count }, () => new ThreadWorker());
  const pool: MergePool = { workers, close: async () => void (await Promise.all(workers.map((w) => w.close()))) };
  try {
    const poolPlan = toPoolPlan(plan);
    await Promise.all(workers.map((w) => w.start(poolPlan, backend)));
  } catch (e) {
    await pool.close();
    throw e;
  }
  return pool;
}

interface Job {
  readonly events: JobEvents;
  resolve(outputNonFinite: number): void;
  reject(e: unknown): void;
}

class ThreadWorker implements MergeWorker {
  private readonly thread: Worker;
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;
  private ready: { resolve(): void; reject(e: unknown): void } | undefined;
  private dead: MergeLabError | undefined;
  /** The end of what the thread wrote to stderr, for the message when it dies. */
  private stderr = '';

  constructor() {
    this.thread = new Worker(new URL('./pool-boot.mjs', import.meta.url), {
      workerData: { entry: new URL('./pool-worker.ts', import.meta.url).href },
      // Not the terminal's: the CLI prints one line per failure, and a thread's output is not one.
      stdout: true,
      stderr: true,
    });
    this.thread.stdout.resume();
    this.thread.stderr.on('data', (chunk: Buffer) => void (this.stderr = (this.stderr + chunk.toString()).slice(-2000)));
    this.thread.on('message', (m: ToHost) => this.receive(m));
    this.thread.on('error', (e: Error) => this.fail(new MergeLabError('INTERNAL', `A merge worker stopped: ${e.message}`)));
    this.thread.on('exit', (code) => this.fail(new MergeLabError('INTERNAL', `A merge worker exited (code ${code}).${this.stderr ? ` It said: ${lastLine(this.stderr)}` : ''}`)));
  }

  start(plan: ReturnType<typeof toPoolPlan>, backend: BackendName): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject };
      this.post({ type: 'init', plan, backend });
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

  async close(): Promise<void> {
    this.dead ??= new MergeLabError('CANCELLED', 'The merge pool was closed.');
    await this.thread.terminate();
  }

  private post(m: FromHost, transfer: ArrayBuffer[] = []): void {
    this.thread.postMessage(m, transfer);
  }

  private receive(m: ToHost): void {
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

  private fail(e: MergeLabError): void {
    this.dead ??= e;
    this.ready?.reject(this.dead);
    this.ready = undefined;
    for (const job of this.jobs.values()) job.reject(this.dead);
    this.jobs.clear();
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
