/**
 * Merging to disk from the page (issue 20, item 2): the merged model written as it is merged, never
 * held whole. "Merge into a folder…" writes into the folder the picker gives — here the picker is
 * replaced by one answering a folder of the page's private storage (OPFS), which is a real
 * FileSystemDirectoryHandle with the same createWritable; headless Chromium cannot show a picker.
 * The written files equal `merge-lab merge`'s for the recipe the page hands out; a cancel mid-way
 * leaves no file behind and nothing reported as done. Where the browser has no folder picker,
 * "Merge to disk" writes into the private storage and offers the files as downloads (from disk).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { parseManifest } from '../../src/engine/demo/manifest.js';
import { mergeLab } from './cli.js';
import { describeE2E, test } from './harness.js';
import type { LabPage } from './lab-page.js';
import { storedFiles } from './stored-files.js';
import { openSyntheticModels } from './synthetic-models.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MODELS = path.resolve(import.meta.dirname, '../fixtures/mergekit-recipes/models');
const TASKS = parseManifest(fs.readFileSync(path.join(ROOT, 'public/demo/manifest.json'), 'utf8'))
  .tasks.filter((t) => !t.hard)
  .map((t) => t.id);

/** The folder picker answers this folder of the private storage (created empty). */
const PICKED = 'picked';

function stubFolderPicker(): void {
  (window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () => {
    const root = await navigator.storage.getDirectory();
    return root.getDirectoryHandle('picked', { create: true });
  };
}

function noFolderPicker(): void {
  Object.defineProperty(window, 'showDirectoryPicker', { value: undefined, configurable: true });
}

async function chooseFixtureModels(lab: LabPage): Promise<void> {
  await lab.open('', { backend: 'wasm', charts: false });
  await lab.waitForDemo();
  for (const [i, m] of ['base', 'ft1', 'ft2'].entries()) {
    await lab.chooseFolder(path.join(MODELS, m));
    await lab.waitForMyModels(i + 1);
  }
}

/** `merge-lab merge` of the page's downloaded recipe beside the fixture models: its output folder's files. */
async function cliFiles(lab: LabPage, dir: string): Promise<Record<string, Buffer>> {
  await lab.download(lab.downloadRecipeLink(), path.join(dir, 'recipe.yml'));
  for (const m of ['base', 'ft1', 'ft2']) fs.cpSync(path.join(MODELS, m), path.join(dir, m), { recursive: true });
  await mergeLab(['merge', 'recipe.yml', '--out', 'cli', '--backend', 'wasm', '--no-progress'], dir);
  return Object.fromEntries(fs.readdirSync(path.join(dir, 'cli')).map((f) => [f, fs.readFileSync(path.join(dir, 'cli', f))]));
}

/** A synthetic set far larger than the demo, under the ids the panel's recipe names (as engine.test.ts's cancel). */
async function openLargeSet(lab: LabPage) {
  const spec = { ids: ['base', ...TASKS], count: 32, rows: 512, cols: 512, fill: 'sin' } as const;
  await openSyntheticModels(lab.page, spec);
  return spec;
}

describeE2E('merging to disk from the page', () => {
  test('"Merge into a folder…" writes the model folder as it merges, the same bytes as merge-lab merge', async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-to-disk-'));
    try {
      await lab.page.addInitScript(stubFolderPicker);
      await chooseFixtureModels(lab);
      await lab.mergePanel().getByRole('button', { name: 'Merge into a folder…', exact: true }).click();
      expect(await lab.waitForJob(['done', 'failed', 'cancelled']), await lab.jobText()).toBe('done');
      expect(await lab.jobText()).toMatch(/Written into the folder picked as it merged: model\.safetensors, merge-recipe\.yml, config\.json/);
      // No zip of the whole model is offered: it would be built in memory.
      expect(await lab.downloadModelButton().count()).toBe(0);

      const written = await lab.page.evaluate(storedFiles, [PICKED]);
      const cli = await cliFiles(lab, dir);
      expect(Object.keys(written).sort()).toEqual(Object.keys(cli).sort());
      // Every file but the model card, whose title is the folder's name (the page's merged-ties, the CLI's --out).
      for (const [name, bytes] of Object.entries(cli)) if (name !== 'README.md') expect(Buffer.from(written[name]!, 'base64').equals(bytes), name).toBe(true);
      expect(Buffer.from(written['README.md']!, 'base64').toString()).toBe(cli['README.md']!.toString().replace('# cli\n', '# merged-ties\n'));
      // The weights link reads the file on disk.
      const { bytes } = await lab.download(lab.downloadWeightsLink(), path.join(dir, 'link.safetensors'));
      expect(bytes.equals(cli['model.safetensors']!)).toBe(true);
      expect(lab.diagnostics.consoleErrors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test('a cancel mid-way leaves no file in the folder and nothing reported as done', async ({ lab }) => {
    await lab.page.addInitScript(stubFolderPicker);
    await lab.open('', { backend: 'wasm', charts: false });
    await lab.waitForEngine('wasm');
    await lab.waitForDemo();
    const spec = await openLargeSet(lab);
    await lab.mergePanel().getByRole('button', { name: 'Merge into a folder…', exact: true }).click();
    const progress = lab.mergePanel().getByRole('progressbar', { name: 'Merge progress' });
    await expect.poll(async () => Number(await progress.getAttribute('data-tensor')), { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    await lab.cancelButton().click();
    expect(await lab.waitForJob(['cancelled', 'done', 'failed'])).toBe('cancelled');
    const at = /Merge cancelled after tensor (\d+) of (\d+); nothing was written/.exec(await lab.jobText());
    expect(at, await lab.jobText()).not.toBeNull();
    expect(Number(at![1])).toBeLessThan(spec.count);
    // Nothing in the folder: not the weights begun, not a swap file, not the side files.
    expect(Object.keys(await lab.page.evaluate(storedFiles, [PICKED]))).toEqual([]);
    expect(await lab.downloadWeightsLink().count()).toBe(0);
  }, 120_000);

  test('a worker lost mid-merge leaves none of the files it had created', async ({ lab }) => {
    await lab.page.addInitScript(stubFolderPicker);
    await lab.open('', { backend: 'wasm', charts: false });
    await lab.waitForEngine('wasm');
    await lab.waitForDemo();
    await openLargeSet(lab);
    await lab.mergePanel().getByRole('button', { name: 'Merge into a folder…', exact: true }).click();
    const progress = lab.mergePanel().getByRole('progressbar', { name: 'Merge progress' });
    await expect.poll(async () => Number(await progress.getAttribute('data-tensor')), { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    // The weights file exists (empty: its bytes are in its swap file, .crswap, until it is closed).
    expect(Object.keys(await lab.page.evaluate(storedFiles, [PICKED])).sort()).toEqual(['model.safetensors', 'model.safetensors.crswap']);
    await lab.page.evaluate(() => window.__mergeLab!.killWorker());
    expect(await lab.waitForJob(['cancelled', 'done', 'failed'])).toBe('failed');
    expect(await lab.jobText()).toMatch(/ENGINE_STOPPED/);
    expect(Object.keys(await lab.page.evaluate(storedFiles, [PICKED]))).toEqual([]);
  }, 120_000);

  test('over the budget, Merge points at merging to disk, whose own check counts the working memory only', async ({ lab }) => {
    await lab.page.addInitScript(stubFolderPicker);
    await lab.open('', { backend: 'wasm', charts: false });
    await lab.waitForDemo();
    await lab.budgetInput().fill('1');
    expect(await lab.merge()).toBe('failed');
    await expect.poll(() => lab.mergePanel().locator('[data-hint="merge-to-disk"]').textContent()).toMatch(/Merge into a folder… needs only the merge's working memory/);
    await lab.mergePanel().getByRole('button', { name: 'Merge into a folder…', exact: true }).click();
    await expect.poll(() => lab.jobText()).toMatch(/BUDGET_EXCEEDED .*working space for its largest tensor; the result goes to the folder as it is made\), over the 1 MiB budget/);
    expect(Object.keys(await lab.page.evaluate(storedFiles, [PICKED]))).toEqual([]);
  }, 60_000);

  test('without a folder picker, "Merge to disk" writes into the browser\'s storage and downloads the files from there', async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-to-opfs-'));
    try {
      await lab.page.addInitScript(noFolderPicker);
      await chooseFixtureModels(lab);
      expect(await lab.mergePanel().getByRole('button', { name: 'Merge into a folder…' }).count()).toBe(0);
      await lab.page.evaluate(async () => {
        const exports = await (await navigator.storage.getDirectory()).getDirectoryHandle('merge-lab-exports', { create: true });
        await (await (await exports.getDirectoryHandle('an-earlier-export', { create: true })).getFileHandle('model.safetensors', { create: true })).createWritable().then((w) => w.close());
      });
      await lab.mergePanel().getByRole('button', { name: 'Merge to disk', exact: true }).click();
      expect(await lab.waitForJob(['done', 'failed', 'cancelled']), await lab.jobText()).toBe('done');
      const files = lab.job().getByRole('group', { name: 'Merged model folder' });
      expect(await files.getAttribute('data-written-to')).toBe('browser-storage');
      const cli = await cliFiles(lab, dir);
      for (const name of ['model.safetensors', 'config.json', 'mergekit_config.yml']) {
        const { suggested, bytes } = await lab.download(files.getByRole('link', { name, exact: true }), path.join(dir, `download-${name}`));
        expect(suggested).toBe(name);
        expect(bytes.equals(cli[name]!), name).toBe(true);
      }
      // The export before (here a stale folder made before the merge) was released from the private storage.
      const folders = await lab.page.evaluate(async () => {
        const exports = await (await navigator.storage.getDirectory()).getDirectoryHandle('merge-lab-exports');
        const names: string[] = [];
        for await (const n of (exports as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
        return names;
      });
      expect(folders).toEqual(['merged-ties']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
