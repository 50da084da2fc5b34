/**
 * The lab opens with the embedded demo: the base and five experts listed from their headers, the
 * tasks with their transforms and measured accuracies, under 1 MB shipped, the data's CC BY 4.0
 * attribution in the About panel, per-row errors for broken files, and named controls.
 * Timings are printed for the record, never asserted.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'vitest';
import { architectureTensors, parseManifest } from '../../src/engine/demo/manifest.js';
import { describeTransform } from '../../src/engine/demo/transforms.js';
import { describeE2E, test } from './harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(ROOT, 'public/demo');
const manifest = parseManifest(fs.readFileSync(path.join(DEMO, 'manifest.json'), 'utf8'));
/**
 * These tests look at the page's own copy of the demo, not the engine: start the worker on wasm so
 * that it does not spend the test's CPU on SwiftShader WebGPU (engine.test.ts covers 'auto').
 */
const ENGINE = { backend: 'wasm' } as const;
const PARAMETERS = architectureTensors(manifest.architecture).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);

/**
 * Bytes of a file as the server sends it, not decompressed (node:http, unlike fetch, leaves a
 * Content-Encoding alone: the .gz data is counted as the .gz it is), asking for no on-the-fly compression.
 */
function servedBytes(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': 'identity' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`${url}: HTTP ${res.statusCode}`));
          return;
        }
        let n = 0;
        res.on('data', (chunk: Buffer) => (n += chunk.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * The harness's `loaded` page, opened once for the file, for the tests that only read the loaded
 * page (the models and tasks listed as it loads, the total shipped, the About panel, the controls'
 * names). Each of them opens the tab it reads (the first reads the page as it opened, on its
 * Models tab), and checks that the page threw nothing meanwhile (the per-test fixture's check).
 */
const onLoadedPage = test;

describeE2E('the lab opens with the embedded demo', () => {
  onLoadedPage('lists the base and the five experts with their tasks, and reaches its loaded state', async ({ loaded: lab }) => {
    expect(await lab.waitForDemo()).toBe('loaded');
    expect(await lab.statusText()).toMatch(/^Embedded demo loaded in [\d.]+ ms: 6 models, 5 tasks/);

    const models = await lab.models();
    const label = (id: string) => manifest.tasks.find((t) => t.id === id)!.label;
    expect(models.map((m) => [m.file, m.role, m.task])).toEqual([
      [manifest.base, 'base', 'all (generalist)'],
      ...manifest.tasks.map((t) => [t.expert, 'expert', label(t.id)]),
    ]);
    expect(models.filter((m) => m.role === 'expert')).toHaveLength(5);
    for (const m of models) {
      expect(m.status, `${m.file}: ${m.statusText}`).toBe('ready');
      expect(m.dtype).toBe('float16');
      expect(m.parameters).toBe(PARAMETERS.toLocaleString('en-US'));
      expect(m.size).toMatch(/^\d+(\.\d)? kB$/);
    }

    const tasks = await lab.tasks();
    expect(tasks.map((t) => [t.id, t.label, t.transform])).toEqual(manifest.tasks.map((t) => [t.id, t.label, describeTransform(t.transform)]));
    for (const t of tasks) {
      expect(t.expert).toBe(`${(manifest.accuracy.experts[t.id]![t.id]! * 100).toFixed(1)}%`);
      expect(t.base).toBe(`${(manifest.accuracy.base[t.id]! * 100).toFixed(1)}%`);
    }

    const loadMs = await lab.demoLoadMs();
    const loadedAt = await lab.demoLoadedAtMs();
    expect(loadMs, "the page records the performance measure 'demo-load'").not.toBeNull();
    console.log(`[e2e] demo-load: ${loadMs!.toFixed(1)} ms (fetch + header checks); demo ready ${loadedAt!.toFixed(0)} ms after navigation start`);

    expect(lab.diagnostics.consoleErrors).toEqual([]);
    expect(lab.diagnostics.pageErrors).toEqual([]);
    const shot = await lab.screenshot('lab-main');
    console.log(`[e2e] screenshot of the main view: ${path.relative(ROOT, shot)}`);
  });

  onLoadedPage('ships under 1 MB in total: manifest, checkpoints and data as served', async ({ loaded: lab }) => {
    const reported = await lab.reportedTotalBytes();
    const urls = [
      `${lab.baseURL}/demo/manifest.json`,
      ...[manifest.base, ...manifest.tasks.map((t) => t.expert)].map((f) => `${lab.baseURL}/demo/${f}`),
      await lab.dataUrl(),
    ];
    const sizes = await Promise.all(urls.map(servedBytes));
    const total = sizes.reduce((a, b) => a + b, 0);
    console.log(`[e2e] shipped demo: ${urls.length} files, ${total} bytes (data ${sizes.at(-1)} bytes)`);
    expect(total).toBeLessThan(1_000_000);
    // The total the page shows is the same sum.
    expect(reported).toBe(total);
    expect(lab.diagnostics.pageErrors).toEqual([]);
  });

  onLoadedPage('the About panel holds the CC BY 4.0 attribution of the digits data', async ({ loaded: lab }) => {
    const about = await lab.openTab('About');
    const text = (await about.getByLabel('Data attribution').textContent()) ?? '';
    expect(text).toContain('Optical Recognition of Handwritten Digits');
    expect(text).toContain('Alpaydin');
    expect(text).toContain('Kaynak');
    expect(text).toContain('1998');
    expect(text).toContain('CC BY 4.0');
    expect(await about.getByRole('link', { name: /CC BY 4\.0/ }).getAttribute('href')).toBe('https://creativecommons.org/licenses/by/4.0/');
    // Once the manifest is in, its own attribution line is shown too.
    await expect.poll(() => about.textContent()).toContain(manifest.dataset.attribution);
    expect(lab.diagnostics.pageErrors).toEqual([]);
  });

  test('a broken checkpoint and a missing data file show their errors on their own rows; the rest loads', async ({ lab }) => {
    const broken = 'expert-permute.safetensors';
    const bytes = fs.readFileSync(path.join(DEMO, broken));
    await lab.page.route(`**/demo/${broken}`, (route) =>
      route.fulfill({ status: 200, contentType: 'application/octet-stream', body: bytes.subarray(0, bytes.length - 100) }),
    );
    await lab.page.route('**/assets/digits.csv*', (route) => route.fulfill({ status: 404, body: 'not found' }));
    await lab.open('', ENGINE);
    expect(await lab.waitForDemo()).toBe('loaded');
    expect(await lab.statusText()).toMatch(/with 2 problems/);

    const row = lab.modelRow(broken);
    expect(await row.getAttribute('data-status')).toBe('error');
    const message = (await row.getByRole('alert').textContent()) ?? '';
    expect(message).toContain('FILE_TRUNCATED');
    expect(message).toContain(broken);
    for (const m of await lab.models()) if (m.file !== broken) expect(m.status, m.file).toBe('ready');
    const data = lab.page.getByRole('definition').filter({ hasText: 'digits.csv.gz' });
    expect(await data.getByRole('alert').textContent()).toMatch(/READ_FAILED.*digits\.csv\.gz.*404/);
    await lab.screenshot('lab-errors');

    // Fixed files load on "Reload demo", with nothing else disturbed.
    await lab.page.unrouteAll();
    await lab.panel('Models').getByRole('button', { name: 'Reload demo' }).click();
    await expect.poll(async () => (await lab.models()).map((m) => m.status)).toEqual(Array(6).fill('ready'));
    await expect.poll(() => lab.statusText()).toMatch(/^Embedded demo loaded in .*: 6 models, 5 tasks/);
  });

  test('an unreadable manifest is reported, not a blank page', async ({ lab }) => {
    await lab.page.route('**/demo/manifest.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"format": "merge-lab-demo", "version": 1}' }));
    await lab.open('', ENGINE);
    expect(await lab.waitForDemo()).toBe('failed');
    const alert = lab.panel('Models').getByRole('alert');
    expect(await alert.textContent()).toMatch(/DEMO_MANIFEST_INVALID.*manifest\.json/);
    expect(await lab.modelsTable().count()).toBe(0);
    // The rest of the lab still works.
    await lab.openTab('Methods');
    expect(await lab.page.getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('ties');
  });

  onLoadedPage('every control has an accessible name, and the tabs work from the keyboard', async ({ loaded: lab }) => {
    for (const name of ['Models', 'Methods', 'About'] as const) {
      await lab.openTab(name);
      expect(await lab.unnamedControls(), `controls without a name on ${name}`).toEqual([]);
    }
    await lab.tab('Models').click();
    await lab.page.keyboard.press('ArrowRight');
    expect(await lab.tab('Methods').getAttribute('aria-selected')).toBe('true');
    expect(await lab.page.evaluate(() => document.activeElement?.textContent)).toBe('Methods');
    await lab.page.keyboard.press('End');
    expect(await lab.tab('About').getAttribute('aria-selected')).toBe('true');
    await lab.page.keyboard.press('Home');
    expect(await lab.tab('Models').getAttribute('aria-selected')).toBe('true');
    // The default recipe is TIES.
    await lab.openTab('Methods');
    expect(await lab.page.getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('ties');
    expect(lab.diagnostics.pageErrors).toEqual([]);
  });
});
