/**
 * The CLI's merge pool: worker threads (node:worker_threads), each with its own tfjs backend, that
 * merge the tensors runMergePool (engine/merge/pool.ts) hands them. Inputs go to a worker and parts
 * of the result come back as transferred buffers, never copied. How many: `--workers`, by default
 * one per core for a merge large enough to gain from them (workerCount).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../engine/backend.js';
import { MergeLabError } from '../engine/errors.js';
import { poolBudget, toPoolPlan } from '../engine/merge/pool.js';
import { PortMergeWorker, type MergePool, type ToHost } from '../engine/merge/pool-protocol.js';
import { autoWorkerCount } from '../engine/merge/pool-size.js';
import type { MergePlanToRun } from '../engine/merge/run-merge.js';

export type { MergePool };
export { POOL_FROM_BYTES } from '../engine/merge/pool-size.js';

/**
 * What a worker thread holds before any tensor (its Node context, tsx, tfjs, the engine, its
 * backend's heap): about 75 MiB measured here (bench/memory-bench.ts, two workers against one),
 * counted with a margin in the pool's memory bound (poolMemoryBound).
 */
export const WORKER_FIXED_BYTES = 96 << 20;

/**
 * `--workers`: a count of at least 1, or 'auto' (the default): one per core, as many as the merge
 * gains from (autoWorkerCount). WebGPU merges on one worker: one GPU, one device.
 */
export function workerCount(option: string | undefined, plan: MergePlanToRun, backend: BackendName): number {
  const auto = option === undefined || option === 'auto';
  if (auto) return autoWorkerCount(plan, availableParallelism(), backend);
  const n = Number(option);
  if (!(Number.isInteger(n) && n >= 1 && /^\d+$/.test(option.trim()))) {
    throw new MergeLabError('PARAMETER_INVALID', `--workers must be a whole number of at least 1, or "auto" (one per core), got "${option}".`);
  }
  return backend === 'webgpu' ? 1 : n;
}

/**
 * The peak RSS a CLI merge on `workers` worker threads stays within: the pool's budget for the
 * tensors in flight (poolBudget: (models + 2) × the sum of the `workers` largest tensors), 64 MiB
 * as for one thread, and each worker's fixed part. bench/memory-bench.ts checks it.
 */
export function poolMemoryBound(plan: Parameters<typeof poolBudget>[0], workers: number): number {
  return poolBudget(plan, workers) + (64 << 20) + workers * WORKER_FIXED_BYTES;
}

/** Starts `count` workers for `plan` on `backend`; resolves once every one is ready. */
export async function startMergePool(count: number, plan: MergePlanToRun, backend: BackendName): Promise<MergePool> {
  const threads = Array.from({ length: count }, () => startThread());
  const pool: MergePool = { workers: threads.map((t) => t.worker), close: async () => void (await Promise.all(threads.map((t) => t.close()))) };
  try {
    const poolPlan = toPoolPlan(plan);
    await Promise.all(threads.map((t) => t.worker.start(poolPlan, backend)));
  } catch (e) {
    await pool.close();
    throw e;
  }
  return pool;
}

function startThread(): { worker: PortMergeWorker; close(): Promise<void> } {
  const thread = new Worker(new URL('./pool-boot.mjs', import.meta.url), {
    workerData: { entry: new URL('./pool-worker.ts', import.meta.url).href },
    // Not the terminal's: the CLI prints one line per failure, and a thread's output is not one.
    stdout: true,
    stderr: true,
  });
  /** The end of what the thread wrote to stderr, for the message when it dies. */
  let stderr = '';
  const worker = new PortMergeWorker((m, transfer) => thread.postMessage(m, transfer));
  thread.stdout.resume();
  thread.stderr.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-2000)));
  thread.on('message', (m: ToHost) => worker.receive(m));
  thread.on('error', (e: Error) => worker.fail(new MergeLabError('INTERNAL', `A merge worker stopped: ${e.message}`)));
  thread.on('exit', (code) => worker.fail(new MergeLabError('INTERNAL', `A merge worker exited (code ${code}).${stderr ? ` It said: ${lastLine(stderr)}` : ''}`)));
  return {
    worker,
    async close() {
      worker.fail(new MergeLabError('CANCELLED', 'The merge pool was closed.'));
      await thread.terminate();
    },
  };
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
