/**
 * A second engine worker for the demo's live score alone. Every slider move asks for the score
 * (a merge and 1,800 forward passes) and for the diagnostics; in one worker they queue one behind
 * the other, in two they run side by side (this machine has two cores, and the page's main thread
 * mostly waits meanwhile). This worker holds only the demo, runs on the backend the main engine
 * settled on and follows it when that changes; if it cannot start or load the demo, the main
 * engine scores again, so a failure here never costs the lab its score.
 */
import type { BackendName } from '../../engine/backend.js';
import { EngineClient, type DemoFiles } from './engine-client.js';

export class LiveEngine {
  private client: EngineClient | undefined;
  private backend: BackendName | undefined;
  private demo: DemoFiles | undefined;
  private usable = false;

  constructor(
    private readonly createWorker: () => Worker,
    /** The live worker has the demo: a score asked for before can be asked for again there. */
    private readonly onDemoLoaded: () => void,
  ) {}

  /** The live worker's client once its demo is in, else undefined: score on the main engine then. */
  get available(): EngineClient | undefined {
    return this.usable ? this.client : undefined;
  }

  /** Runs the live worker on `backend` (the main engine's), restarting it when that changed. */
  follow(backend: BackendName): void {
    if (this.backend === backend && this.client) return;
    this.backend = backend;
    this.usable = false;
    if (!this.client) {
      const down = () => void (this.usable = false);
      this.client = new EngineClient(this.createWorker, {
        starting: down,
        ready: () => undefined,
        failed: down,
        problem: () => undefined,
        demoLoading: down,
        demoLoaded: () => {
          this.usable = true;
          this.onDemoLoaded();
        },
        demoFailed: down,
      });
      this.client.setDemo(this.demo);
    }
    this.client.start(backend);
  }

  /** The demo's files, without hard mode's tasks (the live score never scores them). */
  setDemo(files: DemoFiles | undefined): void {
    const { hard: _hard, ...blobs } = files?.blobs ?? {};
    this.demo = files ? { ...files, blobs: blobs as DemoFiles['blobs'] } : undefined;
    this.usable = false;
    this.client?.setDemo(this.demo);
  }

  /** The live worker's remote, for the test hook. */
  get remote() {
    return this.client?.remote;
  }
}
