/**
 * TEST HOOK — not an API. `window.__mergeLab` lets the end-to-end tests (test/e2e/) reach what the
 * UI does not show: the engine's comlink remote (e.g. `system.memory()`, or `models.openModel` of a synthetic
 * model set larger than the demo), a way to kill the worker as a crash would, a way to feed the
 * client an error a test cannot cause (a lost GPU device), and the store.
 * Nothing in the app reads it; it holds no data of its own.
 */
import type { EngineClient, EngineRemote } from './engine-client.js';
import type { LiveEngine } from './live-engine.js';

export interface MergeLabTestHook {
  /** The current worker's remote (a new one after every restart). */
  readonly engine: EngineRemote | undefined;
  /** The live-score worker's remote (see live-engine.ts), once started. */
  readonly liveEngine: EngineRemote | undefined;
  /** Terminates the worker and raises its 'error' event, as a crash would. */
  killWorker(): void;
  /** Opens the page's models (the demo's) again in the current worker, replacing what a test opened. */
  reopenModels(): Promise<void>;
  /**
   * Hands the engine client an error as if an engine call had rejected with `message` (e.g. a
   * browser's "Device is lost"), to exercise recovery from what a test cannot cause. Returns
   * whether the client took it for a failure and restarted.
   */
  simulateCallError(message: string): boolean;
  /** The zustand store (getState/setState/subscribe). */
  readonly store: unknown;
}

declare global {
  interface Window {
    /** Test hook; see src/app/engine/test-hook.ts. */
    __mergeLab?: MergeLabTestHook;
  }
}

export function installTestHook(client: () => EngineClient | undefined, live: () => LiveEngine | undefined, store: unknown): void {
  const hook: MergeLabTestHook = {
    get engine() {
      return client()?.remote;
    },
    get liveEngine() {
      return live()?.remote;
    },
    killWorker() {
      client()?.killWorker();
    },
    reopenModels() {
      return client()?.reopenModels() ?? Promise.resolve();
    },
    simulateCallError(message) {
      return client()?.noticeError(new Error(message)) ?? false;
    },
    store,
  };
  Object.defineProperty(window, '__mergeLab', { value: hook, configurable: true });
}
