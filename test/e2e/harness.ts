/**
 * The e2e fixtures (tldraw-style): import `test` and `describeE2E` from here instead of vitest.
 *
 *   import { describeE2E, test } from './harness.js';
 *   describeE2E('my flow', () => {
 *     test('does a thing', async ({ lab }) => {
 *       await lab.open();
 *       await lab.waitForDemo();
 *       ...
 *     });
 *   });
 *
 * Fixtures: `browser` (this test worker's Chromium), `page` (a fresh page per test in the
 * worker's one browser context, whose site storage is cleared after each test, with console
 * errors and uncaught page errors recorded), `lab` (the LabPage page object over that page) and `loaded` (one page with the
 * demo loaded, shared by a file's tests that only read it). A test fails when the page
 * threw an uncaught error, even if its own assertions passed; console errors are printed and
 * available as `lab.diagnostics.consoleErrors` for tests that want none.
 */
import './context.js';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { describe, expect, inject, test as base } from 'vitest';
import { PageDiagnostics, diagnosticsOf } from './diagnostics.js';
import { LabPage } from './lab-page.js';

export { diagnostics, PageDiagnostics } from './diagnostics.js';

export const e2e = inject('e2e');

if (e2e.skipReason) console.warn(`[e2e] SKIPPED: ${e2e.skipReason}`);

/** `describe` that skips (and has already printed why) when the browser tests cannot run here. */
export const describeE2E = describe.skipIf(e2e.skipReason !== null);

/**
 * This worker's Chromium and its one context, launched on first use and kept for the whole run (the
 * e2e project keeps a worker's modules from one file to the next): on a profile of its own, pages
 * after the first take the app's scripts, their compiled code and the wasm from its caches, about
 * 0.65 of a page's 3.1 CPU-s here. Tests in a worker run one at a time, so clearing the site's
 * storage after each (clearSiteStorage) gives the next one the fresh storage a new context had.
 */
let workerContext: Promise<BrowserContext> | undefined;
function sharedContext(): Promise<BrowserContext> {
  workerContext ??= (async () => {
    const dir = fs.mkdtempSync(path.join(e2e.profilesDir, `worker-${process.pid}-`));
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: e2e.chromium.executablePath,
      args: [...e2e.chromium.args],
      headless: true,
      baseURL: e2e.baseURL,
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    // Fail fast: nothing in this app should take seconds to appear (hookTimeout covers startup).
    context.setDefaultTimeout(10_000);
    return context;
  })();
  return workerContext;
}

/** What a test may have left in the site's storage (the browser-storage merges' files): the caches stay. */
async function clearSiteStorage(context: BrowserContext): Promise<void> {
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(page);
  try {
    await cdp.send('Storage.clearDataForOrigin', { origin: e2e.baseURL, storageTypes: 'file_systems,indexeddb,local_storage,cache_storage,service_workers' });
  } finally {
    await cdp.detach();
  }
}

/** A fresh page in the worker's context (the lab's viewport, downloads accepted), whose console and errors are recorded. */
async function openPage() {
  const context = await sharedContext();
  const page = await context.newPage();
  const d = new PageDiagnostics(page);
  diagnosticsOf.set(page, d);
  return { context, page, d };
}

export const test = base
  .extend('browser', { scope: 'file' }, async (): Promise<Browser> => (await sharedContext()).browser()!)
  .extend('page', async ({ task }, { onCleanup }): Promise<Page> => {
    const { context, page, d } = await openPage();
    const popups: Page[] = [];
    page.on('popup', (p) => void popups.push(p));
    onCleanup(async () => {
      for (const p of [...popups, page]) await p.close();
      await clearSiteStorage(context);
      for (const line of d.consoleErrors) console.warn(`[e2e] console error in "${task.name}": ${line}`);
      if (d.pageErrors.length > 0) {
        const all = d.pageErrors.map((e) => `  ${e.stack ?? e.message}`).join('\n');
        throw new Error(`The page threw ${d.pageErrors.length} uncaught error(s) during "${task.name}":\n${all}`);
      }
    });
    return page;
  })
  .extend('lab', async ({ page }): Promise<LabPage> => new LabPage(page, e2e.baseURL, e2e.resultsDir))
  /**
   * One lab page for the whole file, opened on wasm with the demo loaded, for the tests that only
   * read it (each page starts two engine workers that load the demo, and draws every chart: ~3 CPU-s
   * here). Each such test checks `lab.diagnostics.pageErrors` itself (the per-test page's check).
   */
  // vitest's fixture signature: the first parameter must be a destructuring pattern, here empty.
  // eslint-disable-next-line no-empty-pattern
  .extend('loaded', { scope: 'file' }, async ({}, { onCleanup }): Promise<LabPage> => {
    const { page, d } = await openPage();
    onCleanup(async () => {
      await page.close();
      for (const line of d.consoleErrors) console.warn(`[e2e] console error on a file's shared page: ${line}`);
    });
    const lab = new LabPage(page, e2e.baseURL, e2e.resultsDir);
    await lab.open('', { backend: 'wasm' });
    expect(await lab.waitForDemo()).toBe('loaded');
    return lab;
  });
