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
 * Fixtures: `browser` (one connection per file to the Chromium the global setup started),
 * `page` (a fresh browser context and page per test, with console errors and uncaught page
 * errors recorded), `lab` (the LabPage page object over that page) and `loaded` (one page with the
 * demo loaded, shared by a file's tests that only read it). A test fails when the page
 * threw an uncaught error, even if its own assertions passed; console errors are printed and
 * available as `lab.diagnostics.consoleErrors` for tests that want none.
 */
import './context.js';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe, expect, inject, test as base } from 'vitest';
import { PageDiagnostics, diagnosticsOf } from './diagnostics.js';
import { LabPage } from './lab-page.js';

export { diagnostics, PageDiagnostics } from './diagnostics.js';

export const e2e = inject('e2e');

if (e2e.skipReason) console.warn(`[e2e] SKIPPED: ${e2e.skipReason}`);

/** `describe` that skips (and has already printed why) when the browser tests cannot run here. */
export const describeE2E = describe.skipIf(e2e.skipReason !== null);

/** A fresh browser context (the lab's viewport, downloads accepted) and its page, whose console and errors are recorded. */
async function openPage(browser: Browser) {
  const context = await browser.newContext({ baseURL: e2e.baseURL, viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  // Fail fast: nothing in this app should take seconds to appear (hookTimeout covers startup).
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const d = new PageDiagnostics(page);
  diagnosticsOf.set(page, d);
  return { context, page, d };
}

export const test = base
  // vitest's fixture signature: the first parameter must be a destructuring pattern, here empty.
  // eslint-disable-next-line no-empty-pattern
  .extend('browser', { scope: 'file' }, async ({}, { onCleanup }): Promise<Browser> => {
    const browser = await chromium.connect(e2e.wsEndpoint);
    onCleanup(() => browser.close());
    return browser;
  })
  .extend('page', async ({ browser, task }, { onCleanup }): Promise<Page> => {
    const { context, page, d } = await openPage(browser);
    onCleanup(async () => {
      await context.close();
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
  .extend('loaded', { scope: 'file' }, async ({ browser }, { onCleanup }): Promise<LabPage> => {
    const { context, page, d } = await openPage(browser);
    onCleanup(async () => {
      await context.close();
      for (const line of d.consoleErrors) console.warn(`[e2e] console error on a file's shared page: ${line}`);
    });
    const lab = new LabPage(page, e2e.baseURL, e2e.resultsDir);
    await lab.open('', { backend: 'wasm' });
    expect(await lab.waitForDemo()).toBe('loaded');
    return lab;
  });
