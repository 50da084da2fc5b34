/**
 * Bringing up a non-reference tfjs backend inside one vitest file, and putting it down again
 * (a worker process runs several files one after another: vite.config.ts, isolate: false).
 *
 * - 'wasm': the CLI's own path, initNodeBackend('wasm') (binaries from node_modules).
 * - 'webgpu': Dawn through the `webgpu` npm package. `navigator.gpu` must exist BEFORE the engine's
 *   initBackend('webgpu') dynamically imports tfjs' webgpu backend (it registers itself only if
 *   `navigator.gpu` exists at import time), and must be deleted at the end or the process never
 *   exits. Dawn needs a Vulkan driver it accepts — on Debian 12 Mesa ≥ 25 lavapipe from
 *   bookworm-backports (.ci/run installs it); Mesa 22 gives no adapter.
 *
 * `probeBackend` never throws for an absent WebGPU: it returns the reason, and the suite reports
 * itself skipped with it (printed), never a silent pass. A wasm backend that does not start is a
 * failure, not a skip: it needs nothing outside node_modules.
 */
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend } from '../../src/engine/backend.js';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { installDawn, removeDawn, type Probe } from '../../src/cli/node-webgpu.js';

export type ParityBackend = 'wasm' | 'webgpu';
export type { Probe };

/**
 * Checks that `name` can run here without switching tfjs to it yet (the reference results are
 * computed on cpu first). For webgpu this loads Dawn, installs navigator.gpu and asks for an adapter.
 */
export async function probeBackend(name: ParityBackend): Promise<Probe> {
  if (name === 'wasm') return { ok: true, detail: 'tfjs-backend-wasm from node_modules' };
  return installDawn();
}

/** Switches tfjs to `name` (after a successful probe). Throws if it does not start. */
export async function startBackend(name: ParityBackend): Promise<string> {
  await initNodeBackend(name);
  if (name === 'webgpu') {
    // Run every op on the GPU. By default tfjs-webgpu hands ops whose inputs are small (< 1000
    // entries) and CPU-resident to its cpu kernels, which would make small cases equal by
    // construction; real checkpoints' tensors are far above that size.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  }
  const a = currentBackend()?.adapter;
  return a ? `${name} (${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}, maxStorageBufferBindingSize ${a.maxStorageBufferBindingSize})` : name;
}

/**
 * Back to cpu. WebGPU's backend is removed and navigator.gpu with it, so the process can exit.
 * wasm stays registered: its registration runs once, when its module is first imported, and the
 * unit project shares modules between files (isolate: false), so a later file could not start it.
 */
export async function stopBackend(name: ParityBackend): Promise<void> {
  await tf.setBackend('cpu');
  if (name === 'webgpu') {
    if (tf.findBackend(name)) tf.removeBackend(name);
    removeDawn();
  }
}

/** Worst |a − b| / max(1, |b|) over all entries; Infinity on a length mismatch or a lone NaN. */
export function worstRelDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) && Number.isNaN(e)) continue;
      return Infinity;
    }
    if (a === e) continue;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(1, Math.abs(e)));
  }
  return worst;
}
