/**
 * A second engine worker for the demo's live score alone. Every slider move asks for the score
 * (a merge and 1,800 forward passes) and for the diagnostics; in one worker they queue one behind
 * the other, in two they run side by side (this machine has two cores, and the page's main thread
 * mostly waits meanwhile). This worker holds only the demo. It starts with the main engine, on the
 * same choice, and follows the backend the main engine settles on (a fallback after a lost device
 * moves it too); until it has the demo, or if it cannot start, the main engine scores, so a
 * failure here never costs the lab its score.
 */
import type { BackendChoice, BackendName } from '../../engine/backend.js';
import { EngineClient, type DemoFiles } from './engine-client.js';

export class LiveEngine {
  private client: EngineClient | undefined;
  /** The backend the main engine runs, once it said so. */
  private mainBackend: BackendName | undefined;
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

  /** Starts (or restarts) the live worker on the user's choice, as the main engine is. */
  start(choice: BackendChoice): void {
    this.mainBackend = undefined;
    this.usable = false;
    if (!this.client) {
      const down = () => void (this.usable = false);
      this.client = new EngineClient(this.createWorker, {
        starting: down,
        ready: (info) => {
          if (this.mainBackend && info.name !== this.mainBackend) this.follow(this.mainBackend);
        },
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
    this.client.start(choice);
  }

  /** The main engine runs on `backend`: the live worker moves there unless it is already on it. */
  follow(backend: BackendName): void {
    this.mainBackend = backend;
    const mine = this.client?.backend?.name;
    // Still starting: its own ready() compares once it knows where it landed.
    if (!this.client || mine === undefined || mine === backend) return;
    this.start(backend);
    this.mainBackend = backend;
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
