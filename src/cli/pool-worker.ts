/**
 * A merge pool's worker thread (src/cli/pool.ts): starts its own tfjs backend, takes the plan once,
 * then merges the tensors it is sent one at a time (engine/merge/pool-protocol.ts serves them).
 */
import { parentPort } from 'node:worker_threads';
import { MergeLabError } from '../engine/errors.js';
import { serveMergeJobs, type FromHost } from '../engine/merge/pool-protocol.js';
import { METHODS } from '../engine/methods/registry.js';
import { collectGarbage } from './collect-garbage.js';
import { initNodeBackend } from './node-backend.js';

const port = parentPort;
if (!port) throw new MergeLabError('INTERNAL', 'src/cli/pool-worker.ts runs as a worker thread of a merge pool.');

const handle = serveMergeJobs({
  send: (m, transfer = []) => port.postMessage(m, transfer),
  startBackend: async (name) => void (await initNodeBackend(name)),
  methods: METHODS,
  collectGarbage,
});
port.on('message', (m: FromHost) => void handle(m));
