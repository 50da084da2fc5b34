/**
 * Exposes an EngineApi over a comlink endpoint (the worker's global scope, or a MessagePort in
 * tests): results' bytes are transferred, not copied, and error codes survive the crossing.
 *
 * The engine object itself is exposed, every method with every argument as the engine declares it;
 * around each call, a progress callback (a comlink proxy holding a MessagePort) is released once
 * the call settles, and the results made for the caller alone hand their bytes over. Nothing here
 * lists the API's arguments again, so nothing here can drop one.
 */
import * as Comlink from 'comlink';
import type { EngineApi } from '../src/engine/api/engine-api.js';
import { registerErrorTransfer } from './error-transfer.js';

/**
 * Results built for this call alone (a merged model, a package's files): their buffers move to the
 * page instead of being copied. Others may share arrays with the engine's caches, so they are copied.
 */
const FRESH_RESULTS: ReadonlySet<PropertyKey> = new Set<keyof EngineApi>(['merge', 'routedMerge', 'routedPackage']);

/** Every distinct buffer of the Uint8Arrays in `value` (plain objects and arrays, a few levels deep). */
export function transferables(value: unknown, into = new Set<ArrayBuffer>(), depth = 0): Set<ArrayBuffer> {
  if (value instanceof Uint8Array) {
    into.add(value.buffer as ArrayBuffer);
  } else if (depth < 4 && value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !(value instanceof Blob)) {
    for (const v of Array.isArray(value) ? value : Object.values(value)) transferables(v, into, depth + 1);
  }
  return into;
}

const isProxy = (a: unknown): a is Comlink.Remote<unknown> => (typeof a === 'function' || (typeof a === 'object' && a !== null)) && Comlink.releaseProxy in (a as object);

export function exposeEngine(engine: EngineApi, endpoint?: Comlink.Endpoint): void {
  registerErrorTransfer();
  const api = new Proxy(engine, {
    get(target, key, receiver) {
      const member = Reflect.get(target, key, receiver) as unknown;
      if (typeof member !== 'function') return member;
      return async (...args: unknown[]) => {
        try {
          const result = await (member as (...a: unknown[]) => unknown).apply(target, args);
          if (!FRESH_RESULTS.has(key)) return result;
          return Comlink.transfer(result, [...transferables(result)]);
        } finally {
          for (const a of args) if (isProxy(a)) a[Comlink.releaseProxy]();
        }
      };
    },
  });
  Comlink.expose(api, endpoint);
}

/** The app's side: a typed proxy of the engine behind `endpoint` (a Worker). */
export function wrapEngine(endpoint: Comlink.Endpoint): Comlink.Remote<EngineApi> {
  registerErrorTransfer();
  return Comlink.wrap<EngineApi>(endpoint);
}
