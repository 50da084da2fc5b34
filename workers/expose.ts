/**
 * Exposes an EngineApi over a comlink endpoint (the worker's global scope, or a MessagePort in
 * tests): results' bytes are transferred, not copied, and error codes survive the crossing.
 *
 * The engine object itself is exposed, its service objects and every method with every argument
 * as the engine declares them (comlink reaches `remote.merges.merge(...)` by the property path);
 * around each call, a progress callback (a comlink proxy holding a MessagePort) is released once
 * the call settles, and the results made for the caller alone hand their bytes over. Nothing here
 * lists the API's methods or arguments again, so nothing here can drop one.
 */
import * as Comlink from 'comlink';
import type { EngineApi } from '../src/engine/api/engine-api.js';
import { registerErrorTransfer } from './error-transfer.js';

type Fresh = { readonly [S in keyof EngineApi]?: readonly (keyof EngineApi[S])[] };

/**
 * Results built for this call alone (a merged model, a package's files): their buffers move to the
 * page instead of being copied. Others may share arrays with the engine's caches, so they are copied.
 */
const FRESH_RESULTS: ReadonlySet<string> = new Set(
  Object.entries({ merges: ['merge', 'routedMerge'], demo: ['routedPackage'] } satisfies Fresh).flatMap(([service, methods]) => methods.map((m) => `${service}.${m}`)),
);

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

/** `target` with every method (at any depth: the services' too) wrapped as described above; `path` names it. */
function wrapped<T extends object>(target: T, path: readonly string[]): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      const member = Reflect.get(t, key, receiver) as unknown;
      if (typeof key !== 'string') return member;
      const at = [...path, key];
      if (member !== null && typeof member === 'object') return wrapped(member, at);
      if (typeof member !== 'function') return member;
      const fresh = FRESH_RESULTS.has(at.join('.'));
      return async (...args: unknown[]) => {
        try {
          const result = await (member as (...a: unknown[]) => unknown).apply(t, args);
          return fresh ? Comlink.transfer(result, [...transferables(result)]) : result;
        } finally {
          for (const a of args) if (isProxy(a)) a[Comlink.releaseProxy]();
        }
      };
    },
  });
}

export function exposeEngine(engine: EngineApi, endpoint?: Comlink.Endpoint): void {
  registerErrorTransfer();
  Comlink.expose(wrapped(engine, []), endpoint);
}

/**
 * The app's side of the engine: each service a comlink remote of its own type (comlink's
 * Remote<EngineApi> would type a plain object property as a promise of its clone, though comlink
 * proxies the path `remote.merges.merge` as called).
 */
export type EngineRemote = Omit<Comlink.Remote<EngineApi>, keyof EngineApi> & { readonly [S in keyof EngineApi]: Comlink.Remote<EngineApi[S]> };

/** The app's side: a typed proxy of the engine behind `endpoint` (a Worker). */
export function wrapEngine(endpoint: Comlink.Endpoint): EngineRemote {
  registerErrorTransfer();
  return Comlink.wrap<EngineApi>(endpoint) as unknown as EngineRemote;
}
