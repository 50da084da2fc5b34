/**
 * A Worker for Node tests of the engine client: a MessageChannel whose far port carries a fake
 * engine exposed as the real worker exposes one (workers/expose.ts), so the client's comlink
 * traffic, error transfer and races are the real ones; only the engine behind it is scripted.
 * The worker is an EventTarget, so a test raises the 'error' event a crashed worker raises.
 */
import type * as Comlink from 'comlink';
import type { DemoBlobs, DemoSummary, EngineApi, ModelFile, ModelSummary } from '../../../src/engine/api/engine-api.js';
import type { BackendChoice, BackendInfo, BackendName } from '../../../src/engine/backend.js';
import { exposeEngine } from '../../../workers/expose.js';

/** What one fake engine was asked, in order. */
export interface EngineLog {
  readonly backends: BackendChoice[];
  readonly opened: { id: string; files: ModelFile[] }[];
  readonly demos: DemoBlobs[];
  readonly calls: string[];
}

/** How every fake engine behaves; a test changes it between steps (it applies to workers started later). */
export interface Script {
  /** What 'auto' starts. */
  auto: BackendName;
  /** Backends whose setBackend rejects (with "no adapter"). */
  unavailable: Set<BackendName>;
  /** Model ids whose openModel never answers (when asked while the id is listed). */
  hangOpen: Set<string>;
  /** Model ids whose openModel rejects (a file the new worker cannot read). */
  failOpen: Set<string>;
  /** What diagnose answers: a value, an error to reject with, or 'hang' (never answers). */
  diagnose: unknown;
}

export const newScript = (): Script => ({ auto: 'webgpu', unavailable: new Set(), hangOpen: new Set(), failOpen: new Set(), diagnose: { ok: true } });

const never = () => new Promise<never>(() => undefined);

function fakeEngine(script: Script, log: EngineLog): EngineApi {
  const engine = {
    system: {
      setBackend(choice: BackendChoice): Promise<BackendInfo> {
        log.backends.push(choice);
        const name = choice === 'auto' ? script.auto : choice;
        if (script.unavailable.has(name)) return Promise.reject(new Error(`no ${name} adapter`));
        return Promise.resolve({ name });
      },
    },
    models: {
      openModel(id: string, files: readonly ModelFile[]): Promise<ModelSummary> {
        log.opened.push({ id, files: [...files] });
        if (script.hangOpen.has(id)) return never();
        if (script.failOpen.has(id)) return Promise.reject(new Error(`${id}: unreadable`));
        return Promise.resolve({ id, name: files[0]?.path ?? id, tensors: [], parameters: 0, bytes: 0, dtypes: [] });
      },
      closeModel(id: string): Promise<void> {
        log.calls.push(`closeModel ${id}`);
        return Promise.resolve();
      },
    },
    demo: {
      loadDemo(files: DemoBlobs): Promise<DemoSummary> {
        log.demos.push(files);
        return Promise.resolve({ tasks: ['invert', 'shift'], expertAccuracy: { validation: [99, 98], test: [98, 97] } });
      },
    },
    diagnostics: {
      diagnose(): Promise<unknown> {
        log.calls.push('diagnose');
        const d = script.diagnose;
        if (d === 'hang') return never();
        return d instanceof Error ? Promise.reject(d) : Promise.resolve(d);
      },
    },
  };
  return engine as unknown as EngineApi;
}

/** The worker the client gets: messages go through `port`, everything else is its own. */
export class FakeWorker extends EventTarget {
  terminated = false;
  constructor(
    private readonly port: MessagePort,
    private readonly far: MessagePort,
    readonly log: EngineLog,
  ) {
    super();
  }
  postMessage(message: unknown, transfer?: Transferable[]): void {
    if (!this.terminated) this.port.postMessage(message, transfer ?? []);
  }
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    if (type === 'message') this.port.addEventListener(type, listener as EventListener);
    else super.addEventListener(type, listener, options);
  }
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void {
    if (type === 'message') this.port.removeEventListener(type, listener as EventListener);
    else super.removeEventListener(type, listener, options);
  }
  start(): void {
    this.port.start();
  }
  terminate(): void {
    this.terminated = true;
    this.port.close();
    this.far.close();
  }
  /** Raises the 'error' event a worker raises when it dies of an uncaught error. */
  crash(message: string): void {
    this.dispatchEvent(Object.assign(new Event('error', { cancelable: true }), { message }));
  }
}

/** A createWorker for EngineClient and the workers it made, oldest first. */
export function fakeWorkers(script: Script): { create: () => Worker; workers: FakeWorker[]; closeAll: () => void } {
  const workers: FakeWorker[] = [];
  const create = () => {
    const channel = new MessageChannel();
    const log: EngineLog = { backends: [], opened: [], demos: [], calls: [] };
    exposeEngine(fakeEngine(script, log), channel.port1 as unknown as Comlink.Endpoint);
    const w = new FakeWorker(channel.port2, channel.port1, log);
    w.start();
    workers.push(w);
    return w as unknown as Worker;
  };
  return { create, workers, closeAll: () => workers.forEach((w) => w.terminate()) };
}
