// The merge pool's worker thread starts here (src/cli/pool.ts): Node does not hand a thread the
// TypeScript loader its parent runs under, so the thread registers tsx itself, then loads its entry.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
