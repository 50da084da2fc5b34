/**
 * One of the page's merge workers, started by the engine worker (merge-workers.ts) for a merge
 * into a folder: its own tfjs backend, the plan once, then the tensors it is sent, one at a time
 * (src/engine/merge/pool-protocol.ts serves them, as in the CLI's threads).
 */
import { initBackend } from '../src/engine/backend.js';
import { serveMergeJobs, type FromHost } from '../src/engine/merge/pool-protocol.js';
import { METHODS } from '../src/engine/methods/registry.js';
import { locateWasm } from './wasm-location.js';

locateWasm();
const scope = self as unknown as { postMessage(m: unknown, transfer: Transferable[]): void; onmessage: ((e: MessageEvent<FromHost>) => void) | null };
const handle = serveMergeJobs({
  send: (m, transfer = []) => scope.postMessage(m, transfer),
  startBackend: async (name) => void (await initBackend(name)),
  methods: METHODS,
});
scope.onmessage = (e) => void handle(e.data);
