/** Starting a tfjs backend from Node: wasm binaries come from node_modules, not a URL. */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BACKENDS, initBackend, setWasmLocation, type BackendName } from '../engine/backend.js';
import { MergeLabError } from '../engine/errors.js';
import { installDawn, removeDawn } from './node-webgpu.js';

export function parseBackend(value: string | undefined, fallback: BackendName = 'wasm'): BackendName {
  if (value === undefined) return fallback;
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName;
  throw new MergeLabError('PARAMETER_INVALID', `--backend "${value}" is not one of ${BACKENDS.join(', ')}.`);
}

export async function initNodeBackend(name: BackendName): Promise<BackendName> {
  // Production mode also keeps tfjs from printing its "install tfjs-node" banner on stderr, which
  // would break the CLI's promise of one line per failure.
  tf.enableProdMode();
  if (name === 'wasm') {
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    // tfjs' Node loader wants a directory path ending in a separator, not a file URL.
    setWasmLocation(dist + path.sep);
  } else if (name === 'webgpu' && !(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
    const dawn = await installDawn();
    if (!dawn.ok) throw new MergeLabError('BACKEND_UNAVAILABLE', `Backend "webgpu" is not available here: ${dawn.reason} Use --backend wasm.`);
    // Dawn keeps the process alive while navigator.gpu exists.
    process.once('beforeExit', removeDawn);
  }
  const started = await initBackend(name);
  // Small ops would otherwise silently run on tfjs' cpu kernels.
  if (started === 'webgpu') tf.env().set('WEBGPU_CPU_FORWARD', false);
  return started;
}
