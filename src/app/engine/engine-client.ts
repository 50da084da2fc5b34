/**
 * The app's side of the engine worker: starts workers/engine.worker.ts, holds its comlink remote
 * (`EngineRemote`: the engine's services, e.g. `remote.merges.merge`), starts the chosen backend,
 * opens the models the page has (the demo's checkpoints, later dropped ones) and loads the demo
 * into it. It owns recovery: when the worker dies (an 'error' event) or a call reveals a lost WebGPU device, it starts a fresh worker — on
 * the next backend (webgpu → wasm → cpu) when the backend was at fault — opens everything again
 * and says why. Blobs live here and in the worker, never in the store.
 */
import type { DemoBlobs, DemoSummary, ModelFile, ModelSummary } from '../../engine/api/engine-api.js';
import type { BackendChoice, BackendInfo, BackendName } from '../../engine/backend.js';
import { MergeLabError } from '../../engine/errors.js';
import { wrapEngine, type EngineRemote } from '../../../workers/expose.js';
import { BACKEND_ORDER, EngineGoneError, failureOf, isBackendFault, isEngineGone, nextBackend, type Failure } from './failures.js';

export type { EngineRemote };

/** The performance measure of loading the demo into a worker (opening its models + loadDemo). */
export const ENGINE_DEMO_MEASURE = 'engine-demo-load';

/** What the client tells the store. Every callback is about the current worker only. */
export interface EngineEvents {
  /** A worker is starting on `choice`; `after` says why when it replaces one that failed. */
  starting(choice: BackendChoice, after: string | undefined): void;
  /** The backend runs. `restartedAfter`: the reason, when this worker replaced one that failed. */
  ready(info: BackendInfo, restartedAfter: string | undefined): void;
  /** No backend could start (or the engine failed too often to keep restarting). */
  failed(error: unknown): void;
  /** Something went wrong that does not stop the engine (a model that did not re-open). */
  problem(error: unknown): void;
  demoLoading(): void;
  demoLoaded(summary: DemoSummary, milliseconds: number): void;
  demoFailed(error: unknown): void;
}

/** The demo as the worker takes it: the raw files, and its checkpoints as models ('base', task ids). */
export interface DemoFiles {
  readonly blobs: DemoBlobs;
  readonly models: ReadonlyMap<string, readonly ModelFile[]>;
}

interface Instance {
  readonly gen: number;
  readonly worker: Worker;
  readonly remote: EngineRemote;
  /** Rejects with EngineGoneError once this worker stops, for whatever reason. */
  readonly gone: Promise<never>;
  stopped: boolean;
  stop(why: string): void;
  backend?: BackendInfo;
  /** The backend started. */
  ready: Promise<BackendInfo>;
  /** The models lane: backend started, then every model opening queued so far. */
  models: Promise<void>;
  /** The demo loaded into this worker; undefined when the page has none. */
  demo: Promise<DemoSummary | undefined>;
}

/** After this many failures within CRASH_WINDOW_MS the client stops restarting. */
const MAX_FAILURES = 5;
const CRASH_WINDOW_MS = 60_000;
/** The same backend failing again this soon counts as the backend's fault. */
const CRASH_LOOP_MS = 15_000;

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class EngineClient {
  private inst: Instance | undefined;
  private gen = 0;
  private choice: BackendChoice = 'auto';
  /** Backends before this index in BACKEND_ORDER failed in this session and are skipped. */
  private floor = 0;
  private failures: { at: number; backend: BackendName | undefined }[] = [];
  /** Every model the page opened, by id: re-opened in each new worker. */
  private readonly models = new Map<string, readonly ModelFile[]>();
  private demo: DemoFiles | undefined;
  /** Lanes (models, demo) seen fulfilled: calls behind them need not wait. */
  private readonly fulfilled = new WeakSet<Promise<unknown>>();

  constructor(
    private readonly createWorker: () => Worker,
    private readonly events: EngineEvents,
  ) {}

  /** The current worker's remote (the test hook hands it out); undefined before start(). */
  get remote(): EngineRemote | undefined {
    return this.inst?.remote;
  }

  /** The backend the current worker runs, once started. */
  get backend(): BackendInfo | undefined {
    return this.inst?.backend;
  }

  /** Starts (or restarts) the engine on `choice`, the user's setting: earlier failures are forgotten. */
  start(choice: BackendChoice): void {
    this.choice = choice;
    this.floor = 0;
    this.failures = [];
    this.inst?.stop(`The engine was restarted on ${choice === 'auto' ? 'the best available backend' : choice}.`);
    this.launch(undefined);
  }

  /** Sets (or clears) the demo; it is loaded into the current worker and every later one. */
  setDemo(demo: DemoFiles | undefined): void {
    if (this.demo) for (const id of this.demo.models.keys()) this.models.delete(id);
    this.demo = demo;
    if (demo) for (const [id, files] of demo.models) this.models.set(id, files);
    if (this.inst) this.loadDemoInto(this.inst);
  }

  /** Opens a dropped model under `id` (replacing one of that id); it is re-opened after a restart. */
  openModel(id: string, files: readonly ModelFile[]): Promise<ModelSummary> {
    this.models.set(id, files);
    const inst = this.current();
    const opened = inst.models.then(() => this.race(inst, inst.remote.models.openModel(id, files)));
    inst.models = opened.then(
      () => undefined,
      () => undefined,
    );
    return opened;
  }

  /** The files model `id` was opened from (a LoRA adapter dropped later is paired with its base's). */
  modelFiles(id: string): readonly ModelFile[] | undefined {
    return this.models.get(id);
  }

  async closeModel(id: string): Promise<void> {
    this.models.delete(id);
    await this.call((r) => r.models.closeModel(id));
  }

  /** Opens every model the page has again in the current worker (after a test replaced some). */
  reopenModels(): Promise<void> {
    const inst = this.current();
    inst.models = inst.models.then(() => this.openAll(inst, [...this.models]));
    return inst.models;
  }

  /**
   * Runs `fn` on the engine once its models are open (and, with `demo`, the demo is loaded).
   * A worker that dies under the call rejects it with EngineGoneError (the restart is already
   * under way); a call not yet sent when its worker died is sent to the new one instead.
   */
  async call<T>(fn: (remote: EngineRemote) => Promise<T>, options: { demo?: boolean } = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const inst = this.current();
      const lane = options.demo ? inst.demo : inst.models;
      // A lane known to be done is not awaited: the request is then posted within the caller's
      // event handler, before React renders that input, instead of a render later.
      if (inst.stopped || !this.fulfilled.has(lane)) {
        try {
          await this.race<unknown>(inst, lane);
          this.fulfilled.add(lane);
        } catch (e) {
          if (isEngineGone(e) && this.inst !== inst && attempt < 3) continue;
          throw e;
        }
      }
      try {
        return await this.race(inst, fn(inst.remote));
      } catch (e) {
        this.notice(inst, e);
        throw e;
      }
    }
  }

  /**
   * Treats `e` as an error a call on the current worker rejected with: when it reveals a failure
   * (a lost WebGPU device, an exhausted wasm heap) the engine restarts. Returns whether it did.
   * Also the test hook's way to simulate a device loss, which a test cannot cause.
   */
  noticeError(e: unknown): boolean {
    return this.inst ? this.notice(this.inst, e) : false;
  }

  /** The demo as loaded in the current worker (waits for it); undefined when the page has none. */
  demoSummary(): Promise<DemoSummary | undefined> {
    const inst = this.current();
    return this.race(inst, inst.demo);
  }

  /**
   * Test hook: terminates the worker the way a crash ends it and lets the same 'error' path that a
   * real crash takes notice and recover.
   */
  killWorker(): void {
    const inst = this.inst;
    if (!inst || inst.stopped) return;
    inst.worker.terminate();
    inst.worker.dispatchEvent(new ErrorEvent('error', { message: 'it was terminated' }));
  }

  private notice(inst: Instance, e: unknown): boolean {
    const failure = failureOf(e);
    if (failure) this.fail(inst, failure);
    return failure !== undefined;
  }

  private current(): Instance {
    if (!this.inst) throw new MergeLabError('INTERNAL', 'The engine was not started.');
    return this.inst;
  }

  private race<T>(inst: Instance, p: Promise<T>): Promise<T> {
    return Promise.race([p, inst.gone]);
  }

  private launch(after: string | undefined): void {
    const gen = ++this.gen;
    const worker = this.createWorker();
    let reject!: (e: Error) => void;
    const gone = new Promise<never>((_, r) => (reject = r));
    gone.catch(() => undefined);
    const inst: Instance = {
      gen,
      worker,
      remote: wrapEngine(worker),
      gone,
      stopped: false,
      stop(why) {
        if (inst.stopped) return;
        inst.stopped = true;
        reject(new EngineGoneError(why));
        worker.terminate();
      },
      ready: Promise.resolve(undefined as never),
      models: Promise.resolve(),
      demo: Promise.resolve(undefined),
    };
    worker.addEventListener('error', (ev) => {
      ev.preventDefault();
      this.fail(inst, { kind: 'worker', describe: `its worker stopped (${ev.message || 'it failed to load or threw an uncaught error'})` });
    });
    this.inst = inst;
    this.events.starting(this.choice, after);

    inst.ready = this.race(inst, this.startBackend(inst));
    inst.ready.then(
      (info) => {
        inst.backend = info;
        if (this.inst === inst) this.events.ready(info, after);
      },
      (e: unknown) => {
        if (this.inst === inst && !isEngineGone(e)) this.events.failed(e);
      },
    );
    const demoIds = new Set(this.demo?.models.keys() ?? []);
    const dropped = [...this.models].filter(([id]) => !demoIds.has(id));
    inst.models = inst.ready.then(() => this.openAll(inst, dropped));
    inst.models.catch(() => undefined);
    this.loadDemoInto(inst);
  }

  /** The user's choice, or the first backend that starts from it on, skipping those that failed. */
  private async startBackend(inst: Instance): Promise<BackendInfo> {
    if (this.choice === 'auto' && this.floor === 0) return this.race(inst, inst.remote.system.setBackend('auto'));
    const reasons: string[] = [];
    const from = this.choice === 'auto' ? 0 : BACKEND_ORDER.indexOf(this.choice);
    for (let i = from; i < BACKEND_ORDER.length; i++) {
      const name = BACKEND_ORDER[i]!;
      if (i < this.floor && i < BACKEND_ORDER.length - 1) {
        reasons.push(`${name} failed earlier in this session`);
        continue;
      }
      try {
        const info = await this.race(inst, inst.remote.system.setBackend(name));
        return reasons.length > 0 ? { ...info, fallbackReason: reasons.join('; ') } : info;
      } catch (e) {
        if (isEngineGone(e)) throw e;
        reasons.push(`${name}: ${messageOf(e)}`);
      }
    }
    throw new MergeLabError('BACKEND_UNAVAILABLE', `No backend could start (${reasons.join('; ')}). Reload the page.`);
  }

  /** Opens `models` one by one; one that fails is reported and the others still open. */
  private async openAll(inst: Instance, models: readonly (readonly [string, readonly ModelFile[]])[]): Promise<void> {
    for (const [id, files] of models) {
      try {
        await this.race(inst, inst.remote.models.openModel(id, files));
      } catch (e) {
        if (isEngineGone(e)) throw e;
        if (this.inst === inst) this.events.problem(e);
      }
    }
  }

  private loadDemoInto(inst: Instance): void {
    const demo = this.demo;
    if (!demo) {
      inst.demo = Promise.resolve(undefined);
      return;
    }
    const live = () => this.inst === inst && this.demo === demo;
    let started = 0;
    inst.models = inst.models.then(() => {
      started = performance.now();
      if (live()) this.events.demoLoading();
      return this.openAll(inst, [...demo.models]);
    });
    inst.models.catch(() => undefined);
    inst.demo = inst.models.then(() => this.race(inst, inst.remote.demo.loadDemo(demo.blobs)));
    inst.demo.then(
      (summary) => {
        if (!live() || !summary) return;
        const ms = performance.measure(ENGINE_DEMO_MEASURE, { start: started, end: performance.now() }).duration;
        this.events.demoLoaded(summary, ms);
      },
      (e: unknown) => {
        if (live() && !isEngineGone(e)) this.events.demoFailed(e);
      },
    );
  }

  /** Replaces a failed worker: on the next backend when the backend was at fault. */
  private fail(inst: Instance, failure: Failure): void {
    if (inst.stopped || this.inst !== inst) return;
    const now = performance.now();
    const backend = inst.backend?.name;
    const last = this.failures.at(-1);
    this.failures = [...this.failures.filter((f) => now - f.at < CRASH_WINDOW_MS), { at: now, backend }];
    inst.stop(`The engine stopped: ${failure.describe}.`);
    if (this.failures.length > MAX_FAILURES) {
      this.events.failed(new MergeLabError('INTERNAL', `The engine failed ${this.failures.length} times in a minute, most recently because ${failure.describe}. Reload the page.`));
      return;
    }
    // A lost device is the backend's fault; so is the same backend failing again within seconds.
    const again = backend !== undefined && last?.backend === backend && now - last.at < CRASH_LOOP_MS;
    if (backend && (isBackendFault(failure) || again)) {
      this.floor = Math.max(this.floor, BACKEND_ORDER.indexOf(nextBackend(backend)));
    }
    this.launch(failure.describe);
  }
}
