/** Starts the engine worker (workers/engine.worker.ts); Vite bundles it from this exact expression. */
export function createEngineWorker(): Worker {
  return new Worker(new URL('../../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'merge-lab engine' });
}
