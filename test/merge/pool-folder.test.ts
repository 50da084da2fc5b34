/**
 * The merges service writing into a folder while it merges (engine-api MergesService.mergeToFolder,
 * issue 20 item 2): the weights the in-memory merge gives, byte for byte (sharded too), the rest of
 * the folder, a budget that counts the working memory only, and all or nothing on a failure or a
 * cancel. The folder is an in-memory stand-in for Chromium's FileSystemDirectoryHandle.
 */
import { describe, expect, it } from 'vitest';
import type { OutputFolder, OutputWritable } from '../../src/engine/api/engine-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import type { EngineHost } from '../../src/engine/api/engine.js';
import { MergeLabError, isMergeLabError } from '../../src/engine/errors.js';
import { PortMergeWorker, serveMergeJobs } from '../../src/engine/merge/pool-protocol.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { LAYOUT } from './helpers.js';

async function modelBlob(fill: number): Promise<Blob> {
  const bytes = await writeSafetensorsToMemory(
    LAYOUT.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return { name: t.name, dtype: 'F32' as const, shape: t.shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i + fill) * (1 + fill)) };
    }),
  );
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

const RECIPE = `models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 0.5, density: 0.7}\nmerge_method: ties\nbase_model: base\n`;

async function engineWithModels() {
  const engine = createEngine();
  await engine.system.setBackend('cpu');
  for (const [id, fill] of [['base', 0], ['a', 1], ['b', 2]] as const) await engine.models.openModel(id, [{ path: `${id}/model.safetensors`, blob: await modelBlob(fill) }]);
  return engine;
}

/** A folder in memory: a file appears only when its writable is closed, as the browser does it. */
function memoryFolder(existing: Record<string, string> = {}, failOn?: string) {
  const files = new Map<string, Uint8Array>(Object.entries(existing).map(([k, v]) => [k, new TextEncoder().encode(v)]));
  const removed: string[] = [];
  const folder: OutputFolder = {
    async getFileHandle(name, options) {
      if (!files.has(name) && !options?.create) throw new Error(`${name} not found`);
      if (!files.has(name)) files.set(name, new Uint8Array(0));
      return {
        async createWritable(): Promise<OutputWritable> {
          if (name === failOn) throw new Error('no space left');
          const chunks: Uint8Array[] = [];
          return {
            async write(data) {
              chunks.push(data.slice());
            },
            async close() {
              files.set(name, new Uint8Array(Buffer.concat(chunks)));
            },
            async abort() {},
          };
        },
      };
    },
    async removeEntry(name) {
      removed.push(name);
      files.delete(name);
    },
  };
  return { folder, files, removed };
}

describe('mergeToFolder', () => {
  it('writes the weights the in-memory merge gives, then the rest of the folder; sharded too', async () => {
    const engine = await engineWithModels();
    const inMemory = await engine.merges.merge('m', RECIPE);
    const { folder, files } = memoryFolder();
    const progress: number[] = [];
    const r = await engine.merges.mergeToFolder('f', RECIPE, folder, {}, (p) => progress.push(p.tensorIndex));
    expect(Buffer.from(files.get('model.safetensors')!).equals(Buffer.from(inMemory.bytes))).toBe(true);
    expect(r.files).toEqual(['model.safetensors', 'merge-recipe.yml', ...inMemory.folder.map((f) => f.name)]);
    for (const f of inMemory.folder) expect(Buffer.from(files.get(f.name)!).equals(Buffer.from(f.bytes)), f.name).toBe(true);
    expect(new TextDecoder().decode(files.get('merge-recipe.yml'))).toBe(inMemory.recipeYaml);
    expect(progress).toEqual(LAYOUT.map((_, i) => i + 1));
    expect(r.weightsBytes).toBe(LAYOUT.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1) * 4, 0));
    const sharded = memoryFolder();
    const s = await engine.merges.mergeToFolder('s', RECIPE, sharded.folder, { maxShardSize: 100 });
    expect(s.files.filter((n) => n.startsWith('model-'))).toHaveLength(LAYOUT.length);
    expect(s.files).toContain('model.safetensors.index.json');
  });

  it("counts the working memory only against the budget: a result too large to hold fits when it goes to the folder", async () => {
    const engine = await engineWithModels();
    const check = await engine.merges.check(RECIPE);
    // Under the in-memory estimate (result + working memory) by the result's bytes minus one.
    const budgetBytes = check.memoryBytes! - 1;
    const refused = await engine.merges.merge('m', RECIPE, { budgetBytes }).catch((e: unknown) => e);
    expect(isMergeLabError(refused) && refused.code).toBe('BUDGET_EXCEEDED');
    await expect(engine.merges.mergeToFolder('f', RECIPE, memoryFolder().folder, { budgetBytes })).resolves.toMatchObject({ tensors: LAYOUT.length });
    const tiny = await engine.merges.mergeToFolder('t', RECIPE, memoryFolder().folder, { budgetBytes: 1000 }).catch((e: unknown) => e);
    expect(isMergeLabError(tiny) && tiny.code).toBe('BUDGET_EXCEEDED');
  });

  it('leaves the folder as it was on a failure and on a cancel', async () => {
    const engine = await engineWithModels();
    const broken = memoryFolder({ 'notes.txt': 'mine', 'model.safetensors': 'old' }, 'merge-recipe.yml');
    const err = await engine.merges.mergeToFolder('f', RECIPE, broken.folder).catch((e: unknown) => e);
    expect(isMergeLabError(err) && err.code).toBe('WRITE_FAILED');
    expect(new TextDecoder().decode(broken.files.get('model.safetensors'))).toBe('old');
    expect([...broken.files.keys()].sort()).toEqual(['model.safetensors', 'notes.txt']);
    const cancelled = memoryFolder();
    const run = engine.merges.mergeToFolder('c', RECIPE, cancelled.folder, {}, (p) => void (p.tensorIndex === 2 && engine.merges.cancel('c')));
    const e = await run.catch((x: unknown) => x);
    expect(isMergeLabError(e) && e.code).toBe('CANCELLED');
    expect([...cancelled.files.keys()]).toEqual([]);
  });
});

/**
 * A host that starts merge workers (as the page's engine worker does with Web Workers), here in this
 * thread: each speaks the pool's messages (pool-protocol.ts) through a structured clone, as a port would.
 */
function loopbackHost(cores: number, beforeStart?: () => Promise<void>) {
  const started: number[] = [];
  const jobsPerWorker: number[] = [];
  let closed = 0;
  const host: EngineHost['mergeWorkers'] = {
    cores,
    async start(count, plan, backend) {
      started.push(count);
      await beforeStart?.();
      const workers = Array.from({ length: count }, (_, w) => {
        jobsPerWorker[w] = 0;
        const serve = serveMergeJobs({ send: (m) => queueMicrotask(() => worker.receive(structuredClone(m))), startBackend: async () => undefined, methods: METHODS });
        const worker: PortMergeWorker = new PortMergeWorker((m) => {
          if (m.type === 'job') jobsPerWorker[w]!++;
          void serve(structuredClone(m));
        });
        return worker;
      });
      await Promise.all(workers.map((w) => w.start(plan, backend)));
      return {
        workers,
        close: async () => {
          closed++;
          workers.forEach((w) => w.fail(new MergeLabError('CANCELLED', 'closed')));
        },
      };
    },
  };
  return { host, started, jobsPerWorker, closed: () => closed };
}

describe('mergeToFolder on merge workers', () => {
  async function engineWithPool(cores: number, beforeStart?: () => Promise<void>) {
    const pool = loopbackHost(cores, beforeStart);
    const engine = createEngine({ mergeWorkers: pool.host });
    await engine.system.setBackend('cpu');
    for (const [id, fill] of [['base', 0], ['a', 1], ['b', 2]] as const) await engine.models.openModel(id, [{ path: `${id}/model.safetensors`, blob: await modelBlob(fill) }]);
    return { engine, ...pool };
  }

  it('writes the same weights on two workers as on the engine thread, and says how many merged', async () => {
    const { engine, started, jobsPerWorker, closed } = await engineWithPool(4);
    const { folder: alone, files: aloneFiles } = memoryFolder();
    const one = await engine.merges.mergeToFolder('one', RECIPE, alone, { workers: 1 });
    expect(one.workers).toBe(1);
    expect(started).toEqual([]);
    const { folder, files } = memoryFolder();
    const two = await engine.merges.mergeToFolder('two', RECIPE, folder, { workers: 2 });
    expect(two.workers).toBe(2);
    expect(started).toEqual([2]);
    expect(closed()).toBe(1);
    // Both workers took tensors, and every tensor went to one of them.
    expect(jobsPerWorker.every((n) => n > 0)).toBe(true);
    expect(jobsPerWorker.reduce((a, b) => a + b, 0)).toBe(LAYOUT.length);
    expect(Buffer.from(files.get('model.safetensors')!).equals(Buffer.from(aloneFiles.get('model.safetensors')!))).toBe(true);
  });

  it('a cancel while the workers start closes them and leaves the folder empty', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { engine, started, closed } = await engineWithPool(4, () => gate);
    const { folder, files } = memoryFolder();
    const run = engine.merges.mergeToFolder('c', RECIPE, folder, { workers: 2 });
    await expect.poll(() => started.length).toBe(1);
    await engine.merges.cancel('c');
    release();
    const e = await run.catch((x: unknown) => x);
    expect(isMergeLabError(e) && e.code).toBe('CANCELLED');
    expect(closed()).toBe(1);
    expect([...files.keys()]).toEqual([]);
  });

  it("'auto' keeps a small merge on the engine thread; the budget caps the workers; a bad count is refused by name", async () => {
    const { engine, started } = await engineWithPool(4);
    expect((await engine.merges.mergeToFolder('auto', RECIPE, memoryFolder().folder)).workers).toBe(1);
    // Each worker counts PAGE_WORKER_FIXED_BYTES beside the working memory (64 MiB and a little here).
    const mib = 2 ** 20;
    expect((await engine.merges.mergeToFolder('roomy', RECIPE, memoryFolder().folder, { workers: 2, budgetBytes: 200 * mib })).workers).toBe(2);
    expect((await engine.merges.mergeToFolder('tight', RECIPE, memoryFolder().folder, { workers: 2, budgetBytes: 150 * mib })).workers).toBe(1);
    expect(started).toEqual([2]);
    const bad = await engine.merges.mergeToFolder('bad', RECIPE, memoryFolder().folder, { workers: 0 }).catch((e: unknown) => e);
    expect(isMergeLabError(bad) && bad.code).toBe('PARAMETER_INVALID');
    expect((bad as Error).message).toMatch(/workers must be a whole number/);
  });
});
