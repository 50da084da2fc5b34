/**
 * The page's merge pool: Web Workers started by the engine worker, each merging the tensors the
 * engine's pool hands it (src/engine/merge/pool.ts), so a merge into a folder uses every core
 * while the engine worker reads the inputs and writes the files.
 */
import { MergeLabError } from '../src/engine/errors.js';
import type { BackendName } from '../src/engine/backend.js';
import type { PoolPlan } from '../src/engine/merge/pool.js';
import { PortMergeWorker, type MergePool, type ToHost } from '../src/engine/merge/pool-protocol.js';

export async function startMergeWorkers(count: number, plan: PoolPlan, backend: BackendName): Promise<MergePool> {
  const started = Array.from({ length: count }, () => startOne());
  const pool: MergePool = {
    workers: started.map((s) => s.worker),
    close: async () => {
      for (const s of started) s.close();
    },
  };
  try {
    await Promise.all(started.map((s) => s.worker.start(plan, backend)));
  } catch (e) {
    await pool.close();
    throw e;
  }
  return pool;
}

function startOne(): { worker: PortMergeWorker; close(): void } {
  const web = new Worker(new URL('./merge-pool.worker.ts', import.meta.url), { type: 'module', name: 'merge-lab merge worker' });
  const worker = new PortMergeWorker((m, transfer) => web.postMessage(m, transfer));
  web.onmessage = (e: MessageEvent<ToHost>) => worker.receive(e.data);
  web.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    worker.fail(new MergeLabError('INTERNAL', `A merge worker stopped: ${e.message || 'it could not start'}. Merge again; if it fails again, merge with the command line.`));
  };
  return {
    worker,
    close() {
      worker.fail(new MergeLabError('CANCELLED', 'The merge workers were closed.'));
      web.terminate();
    },
  };
}
