/**
 * Choosing and initialising a tfjs backend. The engine imports tfjs-core only; this module
 * registers the backends. 'cpu' is the reference, 'wasm' the fast CPU path (~30x cpu here),
 * 'webgpu' the GPU path where an adapter exists (see issue on workers).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MergeLabError } from './errors.js';

export type BackendName = 'cpu' | 'wasm' | 'webgpu';
export const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu'];

/** Where wasm binaries live; set by the host (Node path or Vite-served URLs) before 'wasm' is used. */
let wasmPaths: string | Record<string, string> | undefined;
export function setWasmLocation(paths: string | Record<string, string>): void {
  wasmPaths = paths;
}

export async function initBackend(name: BackendName): Promise<BackendName> {
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (wasmPaths !== undefined) wasm.setWasmPaths(wasmPaths as string);
  } else if (name === 'webgpu') {
    const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
    // tfjs 4.22 crashes on a null adapter: check for one ourselves first.
    const adapter = gpu ? await gpu.requestAdapter() : null;
    if (!adapter) {
      throw new MergeLabError('BACKEND_UNAVAILABLE', 'Backend "webgpu" is not available here: no WebGPU adapter was found. Use --backend wasm or cpu.');
    }
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new MergeLabError('BACKEND_UNAVAILABLE', `Backend "${name}" failed to start (${(e as Error).message}). Use --backend cpu.`);
  }
  if (!ok) throw new MergeLabError('BACKEND_UNAVAILABLE', `Backend "${name}" failed to start. Use --backend cpu.`);
  await tf.ready();
  return name;
}
