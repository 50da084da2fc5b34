/**
 * What went wrong with the engine, and whether it was the backend's fault (then the engine
 * restarts on the next backend, webgpu → wasm → cpu) or the worker's (it restarts on the same one).
 */
import type { BackendName } from '../../engine/backend.js';
import { isMergeLabError } from '../../engine/errors.js';

/** The order backends are tried in, best first (as the engine's 'auto' does). */
export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];

export type FailureKind =
  /** The worker raised an 'error' event (an uncaught error or a failed load), or was terminated. */
  | 'worker'
  /** The WebGPU device was lost (a driver reset, a GPU process crash): the backend's fault. */
  | 'device-lost'
  /** The wasm heap ran out ("memory access out of bounds"): a fresh worker has a fresh heap. */
  | 'wasm-memory';

export interface Failure {
  readonly kind: FailureKind;
  /** What happened, as a clause: "its worker stopped (…)". */
  readonly describe: string;
}

/** A call whose worker died under it; the client is already restarting the engine. */
export class EngineGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineGoneError';
  }
}

export function isEngineGone(e: unknown): e is EngineGoneError {
  return e instanceof EngineGoneError;
}

/** True for a failure that says the backend, not the worker, broke. */
export function isBackendFault(f: Failure): boolean {
  return f.kind === 'device-lost';
}

/** The backend after `name` in BACKEND_ORDER (cpu stays cpu). */
export function nextBackend(name: BackendName): BackendName {
  const i = BACKEND_ORDER.indexOf(name);
  return BACKEND_ORDER[Math.min(i + 1, BACKEND_ORDER.length - 1)]!;
}

/**
 * A failure a call's rejection reveals, if any. The engine reports no device loss itself (tfjs
 * 4.22's webgpu backend does not watch `GPUDevice.lost`), so this reads what the browser's
 * WebGPU errors say; MergeLabErrors are the engine's deliberate answers and never failures.
 */
export function failureOf(e: unknown): Failure | undefined {
  if (isMergeLabError(e) || isEngineGone(e)) return undefined;
  const message = e instanceof Error ? e.message : String(e);
  if (/device (is |was |has been )?lost|GPUDevice.*(lost|destroyed)|DeviceLost/i.test(message)) {
    return { kind: 'device-lost', describe: `the WebGPU device was lost (${message})` };
  }
  if (/memory access out of bounds|out of memory/i.test(message)) {
    return { kind: 'wasm-memory', describe: `the engine ran out of memory (${message})` };
  }
  return undefined;
}
