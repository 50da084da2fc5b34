/**
 * Exposes an EngineApi over a comlink endpoint (the worker's global scope, or a MessagePort in
 * tests): results' bytes are transferred, not copied, and error codes survive the crossing.
 */
import * as Comlink from 'comlink';
import type { EngineApi } from '../src/engine/api/engine-api.js';
import { registerErrorTransfer } from './error-transfer.js';

export function exposeEngine(engine: EngineApi, endpoint?: Comlink.Endpoint): void {
  registerErrorTransfer();
  const api: EngineApi = {
    ...engine,
    async merge(jobId, recipeYaml, options, onProgress) {
      try {
        const r = await engine.merge(jobId, recipeYaml, options, onProgress);
        return Comlink.transfer(r, [...new Set([r.bytes.buffer as ArrayBuffer, ...r.folder.map((f) => f.bytes.buffer as ArrayBuffer)])]);
      } finally {
        // The callback arrives as a comlink proxy holding a MessagePort: free it with the job.
        (onProgress as Partial<Comlink.Remote<unknown>> | undefined)?.[Comlink.releaseProxy]?.();
      }
    },
    async routedMerge(jobId, recipeYaml, onProgress) {
      try {
        const r = await engine.routedMerge(jobId, recipeYaml, onProgress);
        return Comlink.transfer(r, [...new Set(Object.values(r.files).map((b) => b.buffer as ArrayBuffer))]);
      } finally {
        (onProgress as Partial<Comlink.Remote<unknown>> | undefined)?.[Comlink.releaseProxy]?.();
      }
    },
    async routedPackage(request) {
      const files = await engine.routedPackage(request);
      // Each file's buffer once (a transfer list must not repeat one).
      return Comlink.transfer(files, [...new Set(Object.values(files).map((b) => b.buffer as ArrayBuffer))]);
    },
  };
  Comlink.expose(api, endpoint);
}

/** The app's side: a typed proxy of the engine behind `endpoint` (a Worker). */
export function wrapEngine(endpoint: Comlink.Endpoint): Comlink.Remote<EngineApi> {
  registerErrorTransfer();
  return Comlink.wrap<EngineApi>(endpoint);
}
