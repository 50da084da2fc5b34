/**
 * Choosing and initialising a tfjs backend. The engine imports tfjs-core only; this module
 * registers the backends. 'cpu' is the reference, 'wasm' the fast CPU path (~30x cpu here),
 * 'webgpu' the GPU path where an adapter exists. `chooseBackend('auto')` tries them in that
 * order of preference — webgpu, wasm, cpu — and says why it fell back.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { MergeLabError } from './errors.js';

export type BackendName = 'cpu' | 'wasm' | 'webgpu';
export const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu'];
export type BackendChoice = BackendName | 'auto';

/** What the app's status bar shows and the engine sizes GPU work by. */
export interface AdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  /** A software adapter (SwiftShader, lavapipe): correct but slow. */
  readonly isFallbackAdapter: boolean;
  /** No single GPU buffer may be larger: past it WebGPU silently computes wrong numbers. */
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
}

export interface BackendInfo {
  readonly name: BackendName;
  readonly adapter?: AdapterInfo;
  /** Why a preferred backend was not used (e.g. "no WebGPU adapter"), for the status bar. */
  readonly fallbackReason?: string;
}

/** Where wasm binaries live; set by the host (Node path or Vite-served URLs) before 'wasm' is used. */
let wasmPaths: string | Record<string, string> | undefined;
export function setWasmLocation(paths: string | Record<string, string>): void {
  wasmPaths = paths;
}

interface GpuAdapterLike {
  readonly isFallbackAdapter?: boolean;
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
  readonly info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}

async function requestAdapter(): Promise<GpuAdapterLike | null> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
  if (!gpu) return null;
  try {
    return await gpu.requestAdapter();
  } catch {
    return null;
  }
}

function describeAdapter(a: GpuAdapterLike): AdapterInfo {
  return {
    vendor: a.info?.vendor ?? '',
    architecture: a.info?.architecture ?? '',
    description: a.info?.description ?? '',
    isFallbackAdapter: Boolean(a.info?.isFallbackAdapter ?? a.isFallbackAdapter),
    maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
    maxBufferSize: a.limits.maxBufferSize,
  };
}

let current: BackendInfo | undefined;

/** The backend in use, once one was started. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/** Starts backend `name` or throws BACKEND_UNAVAILABLE saying why. */
export async function initBackend(name: BackendName): Promise<BackendName> {
  return (await startBackend(name)).name;
}

async function startBackend(name: BackendName): Promise<BackendInfo> {
  let adapter: AdapterInfo | undefined;
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (wasmPaths !== undefined) wasm.setWasmPaths(wasmPaths as string);
  } else if (name === 'webgpu') {
    // tfjs 4.22 crashes on a null adapter: check for one ourselves first.
    const a = await requestAdapter();
    if (!a) {
      throw new MergeLabError('BACKEND_UNAVAILABLE', 'Backend "webgpu" is not available here: no WebGPU adapter was found. Choose wasm or cpu.');
    }
    adapter = describeAdapter(a);
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new MergeLabError('BACKEND_UNAVAILABLE', `Backend "${name}" failed to start (${(e as Error).message}). Choose cpu.`);
  }
  if (!ok) throw new MergeLabError('BACKEND_UNAVAILABLE', `Backend "${name}" failed to start. Choose cpu.`);
  await tf.ready();
  current = { name, ...(adapter ? { adapter } : {}) };
  return current;
}

/**
 * Starts `choice`, or with 'auto' the best that works: webgpu when a hardware adapter exists, else
 * wasm, else cpu (without any adapter, wasm is no fallback and no reason is recorded). A software adapter (SwiftShader, lavapipe) is correct but many times slower than
 * wasm, so 'auto' passes it over (choose 'webgpu' to use it anyway). An explicit choice that fails
 * throws; 'auto' records why it fell back.
 */
export async function chooseBackend(choice: BackendChoice): Promise<BackendInfo> {
  if (choice !== 'auto') return startBackend(choice);
  const reasons: string[] = [];
  const adapter = await requestAdapter();
  const software = adapter ? describeAdapter(adapter) : undefined;
  // No adapter at all is how most browsers and machines are, not a fault to report: wasm is then
  // simply the best backend there is (the status bar says no GPU adapter is in use).
  const order: BackendName[] = !adapter || software?.isFallbackAdapter ? ['wasm', 'cpu'] : ['webgpu', 'wasm', 'cpu'];
  if (software?.isFallbackAdapter) {
    const what = [software.vendor, software.description].filter(Boolean).join(' ') || 'software';
    reasons.push(`webgpu: the only WebGPU adapter is a software one (${what}), slower than wasm; choose webgpu to use it anyway`);
  }
  for (const name of order) {
    try {
      const info = await startBackend(name);
      current = reasons.length ? { ...info, fallbackReason: reasons.join('; ') } : info;
      return current;
    } catch (e) {
      reasons.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new MergeLabError('BACKEND_UNAVAILABLE', `No tfjs backend could start (${reasons.join('; ')}).`);
}
