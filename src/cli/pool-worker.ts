/**
 * A merge pool's worker thread (src/cli/pool.ts): starts its own tfjs backend, takes the plan once,
 * then merges the tensors it is sent one at a time with the engine's job runner (merge/pool.ts),
 * sending each part of the result back as it comes, its buffer handed over rather than copied.
 */
import { parentPort } from 'node:worker_threads';
import { MergeLabError, isMergeLabError } from '../engine/errors.js';
import { createJobRunner, fromPoolPlan } from '../engine/merge/pool.js';
import { METHODS } from '../engine/methods/registry.js';
import { collectGarbage } from './collect-garbage.js';
import { initNodeBackend } from './node-backend.js';
import type { FromHost, ToHost } from './pool-messages.js';

const port = parentPort;
if (!port) throw new MergeLabError('INTERNAL', 'src/cli/pool-worker.ts runs as a worker thread of a merge pool.');
let run: ReturnType<typeof createJobRunner> | undefined;

const send = (m: ToHost, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

function failure(e: unknown): { code: string; message: string } {
  if (isMergeLabError(e)) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: `A merge worker failed: ${(e as Error)?.message ?? String(e)}` };
}

port.on('message', (m: FromHost) => void handle(m));

async function handle(m: FromHost): Promise<void> {
  if (m.type === 'init') {
    try {
      await initNodeBackend(m.backend);
      run = createJobRunner(fromPoolPlan(m.plan, METHODS), { collectGarbage });
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
}
