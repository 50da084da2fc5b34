/**
 * The page's merge pool (issue 20, item 1): a merge into a folder on two Web Workers started by
 * the engine worker, the engine worker reading and writing, gives the same files as the engine
 * worker merging alone — and says how many workers merged. The models are synthetic (6 × 6 MiB
 * float32, synthetic-models.ts, task vectors whose signs disagree), the folders are the page's
 * private storage (a real FileSystemDirectoryHandle, as a picked folder is).
 */
import { expect } from 'vitest';
import { describeE2E, test } from './harness.js';
import { storedFiles } from './stored-files.js';
import { openSyntheticModels } from './synthetic-models.js';

/** Merges the six models with TIES into private-storage folder `folderName` on `workers` merge workers; the result's workers and files. */
async function mergeInto([folderName, workers]: readonly [string, number | 'auto']): Promise<{ workers: number; files: readonly string[] }> {
  const engine = window.__mergeLab!.engine!;
  const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(folderName, { create: true });
  const ids = ['base', 't0', 't1', 't2', 't3', 't4'];
  const recipe = ['merge_method: ties', 'base_model: base', 'parameters: {density: 0.3}', 'models:', ...ids.slice(1).map((id) => `  - model: ${id}\n    parameters: {weight: 0.4}`), 'dtype: float32'].join('\n');
  const result = await engine.merges.mergeToFolder(`pool-${folderName}`, recipe, folder as never, { name: folderName, workers });
  return { workers: result.workers, files: result.files };
}

describeE2E('the page merges on a pool of workers', () => {
  test('a merge into a folder on two merge workers writes the same files as on the engine worker alone', async ({ lab }) => {
    // The merges are asked of the engine directly and no chart is read: hidden, the demo's charts are not
    // computed on the engine worker these merges run on (the sweep alone is ten merges and scores).
    await lab.open('', { backend: 'wasm', charts: false });
    await lab.waitForEngine('wasm');
    await openSyntheticModels(lab.page, { ids: ['base', 't0', 't1', 't2', 't3', 't4'], count: 24, rows: 256, cols: 256, fill: 'tasks' });
    const one = await lab.page.evaluate(mergeInto, ['one', 1] as const);
    const two = await lab.page.evaluate(mergeInto, ['two', 2] as const);
    expect(one.workers).toBe(1);
    expect(two.workers).toBe(2);
    expect(two.files).toEqual(one.files);
    expect(one.files).toContain('model.safetensors');
    // The model card's title is the folder's name; every other file is byte for byte the same.
    const { ['README.md']: _a, ...filesOne } = await lab.page.evaluate(storedFiles, ['one']);
    const { ['README.md']: _b, ...filesTwo } = await lab.page.evaluate(storedFiles, ['two']);
    expect(Object.keys(filesOne).sort()).toEqual(one.files.filter((f) => f !== 'README.md').sort());
    expect(filesTwo).toEqual(filesOne);
    // 'auto' on this 36 MiB merge (under POOL_FROM_BYTES) stays on the engine worker.
    expect((await lab.page.evaluate(mergeInto, ['auto', 'auto'] as const)).workers).toBe(1);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 180_000);
});
