/**
 * The engine client's recovery (src/app/engine/engine-client.ts): a worker that dies is replaced on
 * the same backend with everything the page had opened in it again; a lost WebGPU device, or the
 * same backend failing twice within CRASH_LOOP_MS, moves the engine to the next backend; too many
 * failures in a minute stop the restarts. The workers are fake (test/app/helpers/fake-worker.ts),
 * the comlink traffic between client and engine is real. The clock the client reads
 * (performance.now) is stubbed where the test depends on time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EngineClient, type DemoFiles, type EngineEvents } from '../../src/app/engine/engine-client.js';
import { EngineGoneError, isEngineGone } from '../../src/app/engine/failures.js';
import type { BackendInfo } from '../../src/engine/backend.js';
import { MergeLabError } from '../../src/engine/errors.js';
import { fakeWorkers, newScript, type FakeWorker, type Script } from './helpers/fake-worker.js';

/** Waits (real time) until `cond` holds; fails with `what` after 2 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let t = 0; !cond(); t += 5) {
    if (t > 2000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const file = (path: string, text = path) => ({ path, blob: new Blob([text]) });

function demo(): DemoFiles {
  const base = file('base.safetensors', 'base bytes');
  const invert = file('invert.safetensors', 'invert bytes');
  return {
    blobs: { manifest: '{"tasks":[]}', checkpoints: { [base.path]: base.blob, [invert.path]: invert.blob }, digits: new Blob(['digits']) },
    models: new Map([
      ['base', [base]],
      ['invert', [invert]],
    ]),
  };
}

function recordingEvents() {
  return {
    starting: vi.fn<EngineEvents['starting']>(),
    ready: vi.fn<EngineEvents['ready']>(),
    failed: vi.fn<EngineEvents['failed']>(),
    problem: vi.fn<EngineEvents['problem']>(),
    demoLoading: vi.fn<EngineEvents['demoLoading']>(),
    demoLoaded: vi.fn<EngineEvents['demoLoaded']>(),
    demoFailed: vi.fn<EngineEvents['demoFailed']>(),
  };
}

let script: Script;
let fake: ReturnType<typeof fakeWorkers>;
let events: ReturnType<typeof recordingEvents>;
let client: EngineClient;
/** The client's clock (performance.now), in ms; tests move it. */
let clock = 1_000_000;

beforeEach(() => {
  script = newScript();
  fake = fakeWorkers(script);
  events = recordingEvents();
  client = new EngineClient(fake.create, events);
  clock = 1_000_000;
  vi.spyOn(performance, 'now').mockImplementation(() => clock);
});

afterEach(() => {
  fake.closeAll();
  vi.restoreAllMocks();
});

const worker = (i: number): FakeWorker => fake.workers[i]!;
const readyCount = () => events.ready.mock.calls.length;
const lastReady = (): [BackendInfo, string | undefined] => events.ready.mock.calls.at(-1)!;

/** Starts on `choice` and waits for the first worker's backend. */
async function started(choice: Parameters<EngineClient['start']>[0] = 'auto'): Promise<void> {
  client.start(choice);
  await until(() => readyCount() === 1, 'the first backend');
}

/** Crashes the current worker (its 'error' event) and waits for the next one to be ready. */
async function crashAndRestart(message = 'boom'): Promise<void> {
  const before = readyCount();
  fake.workers.at(-1)!.crash(message);
  await until(() => readyCount() === before + 1, 'the restarted backend');
}

describe('a worker crash', () => {
  it('starts a new worker on the same backend, re-opens every model with the same files and loads the demo again; a call in flight rejects with EngineGoneError', async () => {
    await started('auto');
    client.setDemo(demo());
    const mine = [file('mine/model.safetensors', 'my weights'), file('mine/config.json', '{}')];
    await client.openModel('mine', mine);
    await until(() => events.demoLoaded.mock.calls.length === 1, 'the demo in the first worker');
    expect(events.starting.mock.calls).toEqual([['auto', undefined]]);

    script.diagnose = 'hang';
    const inFlight = client.call((e) => e.diagnostics.diagnose({ merge_method: 'ties', models: [] } as never));
    const settled = inFlight.then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await until(() => worker(0).log.calls.includes('diagnose'), 'the call to reach the engine');

    worker(0).crash('out of stack');
    const error = await settled;
    expect(error).toBeInstanceOf(EngineGoneError);
    expect(isEngineGone(error)).toBe(true);

    await until(() => events.demoLoaded.mock.calls.length === 2, 'the demo in the new worker');
    expect(fake.workers).toHaveLength(2);
    expect(worker(0).terminated).toBe(true);
    expect(events.starting.mock.calls[1]![0]).toBe('auto');
    expect(events.starting.mock.calls[1]![1]).toMatch(/its worker stopped \(out of stack\)/);
    // Same backend: 'auto' again (nothing counted against webgpu), and it answered webgpu.
    expect(worker(1).log.backends).toEqual(['auto']);
    expect(lastReady()[0].name).toBe('webgpu');
    expect(lastReady()[1]).toMatch(/out of stack/);

    // Every model again, with the same files (paths and bytes), and the demo's blobs.
    const opened = worker(1).log.opened;
    expect(opened.map((o) => o.id).sort()).toEqual(['base', 'invert', 'mine']);
    const reopened = opened.find((o) => o.id === 'mine')!;
    expect(reopened.files.map((f) => f.path)).toEqual(mine.map((f) => f.path));
    expect(await Promise.all(reopened.files.map((f) => f.blob.text()))).toEqual(['my weights', '{}']);
    expect(worker(1).log.demos).toHaveLength(1);
    expect(await worker(1).log.demos[0]!.digits.text()).toBe('digits');
    expect(events.failed).not.toHaveBeenCalled();
  });

  it('sends a call still waiting for its models to the new worker instead', async () => {
    await started('wasm');
    script.hangOpen.add('slow');
    // Not awaited: it never answers in this worker, and the call below waits behind it.
    const opening = client.openModel('slow', [file('slow.safetensors')]);
    opening.catch(() => undefined);
    await until(() => worker(0).log.opened.some((o) => o.id === 'slow'), 'the model to reach the engine');
    script.diagnose = { answer: 42 };
    const waiting = client.call((e) => e.diagnostics.diagnose({} as never));
    script.hangOpen.clear();

    worker(0).crash('boom');
    await expect(waiting).resolves.toEqual({ answer: 42 });
    expect(worker(0).log.calls).not.toContain('diagnose');
    expect(worker(1).log.calls).toEqual(['diagnose']);
    expect(worker(1).log.backends).toEqual(['wasm']);
    expect(worker(1).log.opened.map((o) => o.id)).toEqual(['slow']);
    await expect(opening).rejects.toBeInstanceOf(EngineGoneError);
  });

  it('a model that does not open again is reported; the others still open', async () => {
    await started('auto');
    await client.openModel('gone', [file('gone.safetensors')]);
    await client.openModel('kept', [file('kept.safetensors')]);
    script.failOpen.add('gone');
    await crashAndRestart();
    await expect(client.call((e) => e.diagnostics.diagnose({} as never))).resolves.toEqual({ ok: true });
    expect(worker(1).log.opened.map((o) => o.id)).toEqual(['gone', 'kept']);
    expect(events.problem).toHaveBeenCalledTimes(1);
    expect((events.problem.mock.calls[0]![0] as Error).message).toMatch(/gone: unreadable/);
    expect(events.failed).not.toHaveBeenCalled();
  });

  it('killWorker takes the same path as a crash', async () => {
    // Node has no ErrorEvent; the browser's carries `message` as this one does.
    const hadErrorEvent = 'ErrorEvent' in globalThis;
    if (!hadErrorEvent) {
      vi.stubGlobal(
        'ErrorEvent',
        class extends Event {
          readonly message: string;
          constructor(type: string, init: { message?: string } = {}) {
            super(type, { cancelable: true });
            this.message = init.message ?? '';
          }
        },
      );
    }
    try {
      await started('auto');
      client.killWorker();
      await until(() => readyCount() === 2, 'the restarted backend');
      expect(worker(0).terminated).toBe(true);
      expect(events.starting.mock.calls[1]![1]).toMatch(/its worker stopped \(it was terminated\)/);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('a lost WebGPU device', () => {
  it('restarts the engine on the next backend (webgpu → wasm) and says why', async () => {
    await started('auto');
    expect(lastReady()[0].name).toBe('webgpu');
    const lost = new Error('GPUDevice was lost: the driver was reset');
    script.diagnose = lost;

    await expect(client.call((e) => e.diagnostics.diagnose({} as never))).rejects.toThrow('GPUDevice was lost');
    await until(() => readyCount() === 2, 'the restarted backend');
    expect(worker(0).terminated).toBe(true);
    // Webgpu is skipped in the new worker, not tried again.
    expect(worker(1).log.backends).toEqual(['wasm']);
    const [info, after] = lastReady();
    expect(info.name).toBe('wasm');
    expect(info.fallbackReason).toMatch(/webgpu failed earlier in this session/);
    expect(after).toMatch(/WebGPU device was lost/);
  });

  it('an ordinary engine error restarts nothing', async () => {
    await started('auto');
    script.diagnose = new MergeLabError('RECIPE_INVALID', 'density must be in [0, 1]; the device was lost in thought');
    await expect(client.call((e) => e.diagnostics.diagnose({} as never))).rejects.toThrow('density must be');
    script.diagnose = new Error('Cannot read properties of undefined');
    await expect(client.call((e) => e.diagnostics.diagnose({} as never))).rejects.toThrow('Cannot read');
    expect(fake.workers).toHaveLength(1);
    expect(events.starting).toHaveBeenCalledTimes(1);
  });

  it('noticeError (the test hook) restarts on the next backend too', async () => {
    await started('auto');
    expect(client.noticeError(new Error('plain'))).toBe(false);
    expect(client.noticeError(new Error('DeviceLost'))).toBe(true);
    await until(() => readyCount() === 2, 'the restarted backend');
    expect(lastReady()[0].name).toBe('wasm');
  });
});

describe('the same backend failing twice', () => {
  it('within CRASH_LOOP_MS counts against the backend: the engine moves to the next one', async () => {
    await started('auto');
    await crashAndRestart();
    expect(lastReady()[0].name).toBe('webgpu');
    clock += 14_000; // under CRASH_LOOP_MS (15 s)
    await crashAndRestart();
    expect(worker(2).log.backends).toEqual(['wasm']);
    expect(lastReady()[0]).toMatchObject({ name: 'wasm', fallbackReason: expect.stringMatching(/webgpu failed earlier/) });
  });

  it('further apart is the worker’s fault: the engine stays on the backend', async () => {
    await started('auto');
    await crashAndRestart();
    clock += 16_000;
    await crashAndRestart();
    expect(worker(2).log.backends).toEqual(['auto']);
    expect(lastReady()[0]).toEqual({ name: 'webgpu' });
  });

  it('a backend chosen by the user falls back too, and cpu is the last', async () => {
    await started('wasm');
    await crashAndRestart();
    clock += 1_000;
    await crashAndRestart();
    expect(worker(2).log.backends).toEqual(['cpu']);
    clock += 1_000;
    await crashAndRestart();
    expect(worker(3).log.backends).toEqual(['cpu']);
  });
});

describe('too many failures', () => {
  it('more than MAX_FAILURES (5) within a minute: failed, and no more workers', async () => {
    await started('auto');
    for (let i = 0; i < 5; i++) {
      clock += 10_000;
      await crashAndRestart();
    }
    expect(fake.workers).toHaveLength(6);
    expect(events.failed).not.toHaveBeenCalled();

    clock += 5_000; // the sixth within 55 s of the first
    worker(5).crash('again');
    await until(() => events.failed.mock.calls.length === 1, 'the engine to give up');
    const error = events.failed.mock.calls[0]![0];
    expect(error).toBeInstanceOf(MergeLabError);
    expect((error as Error).message).toMatch(/failed 6 times in a minute.*again.*Reload the page/);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.workers).toHaveLength(6);
    expect(worker(5).terminated).toBe(true);
    expect(events.starting).toHaveBeenCalledTimes(6);
    await expect(client.call((e) => e.diagnostics.diagnose({} as never))).rejects.toBeInstanceOf(EngineGoneError);
  });

  it('failures spread over more than a minute keep restarting', async () => {
    await started('auto');
    for (let i = 0; i < 7; i++) {
      clock += 16_000;
      await crashAndRestart();
    }
    expect(fake.workers).toHaveLength(8);
    expect(events.failed).not.toHaveBeenCalled();
  });

  it('start() forgets earlier failures', async () => {
    await started('auto');
    for (let i = 0; i < 5; i++) await crashAndRestart();
    expect(lastReady()[0].name).toBe('cpu');
    client.start('auto');
    await until(() => readyCount() === 7, 'the engine started again');
    expect(lastReady()[0]).toEqual({ name: 'webgpu' });
    await crashAndRestart();
    expect(events.failed).not.toHaveBeenCalled();
  });
});

describe('no backend starts', () => {
  it('reports failed with every backend’s reason', async () => {
    script.unavailable = new Set(['webgpu', 'wasm', 'cpu']);
    client.start('webgpu');
    await until(() => events.failed.mock.calls.length === 1, 'the failure');
    expect(worker(0).log.backends).toEqual(['webgpu', 'wasm', 'cpu']);
    expect((events.failed.mock.calls[0]![0] as Error).message).toMatch(/webgpu: no webgpu adapter; wasm: no wasm adapter; cpu: no cpu adapter/);
    expect(events.ready).not.toHaveBeenCalled();
  });
});
