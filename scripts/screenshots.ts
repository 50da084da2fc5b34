/**
 * Screenshots of the lab for a review or a closing note, as a lecturer would see it:
 *
 *   npx tsx scripts/screenshots.ts OUTDIR
 *
 * builds the app into a temporary folder, serves it with `vite preview` and drives the Chromium
 * the e2e tests use (/usr/bin/chromium, or MERGE_LAB_CHROMIUM) on the wasm backend. It writes:
 *   main-1440x900.png              the main view at 1440×900, every chart drawn
 *   present-1280x720.png           presentation mode at 1280×720 on a lesson (#preset=ta-vs-ties&present=1)
 *   lesson-midway-1280x720.png     the same lesson after its step (TIES, λ moved to 1), presentation mode
 *   narrow-800.png                 the main view 800 px wide (full page)
 * MERGE_LAB_URL=http://host:port uses a running server instead of building one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Page } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '..');
const VITE = path.join(ROOT, 'node_modules/.bin/vite');
const CHROMIUM = process.env['MERGE_LAB_CHROMIUM'] ?? '/usr/bin/chromium';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Builds the app and serves it; resolves with its URL and the server to stop. */
async function serve(): Promise<{ url: string; child?: ChildProcess; dir?: string }> {
  const given = process.env['MERGE_LAB_URL'];
  if (given) return { url: given.replace(/\/$/, '') };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-shots-'));
  // A production build, as `npm start` serves (not React's development build).
  await promisify(execFile)(VITE, ['build', '--outDir', path.join(dir, 'dist'), '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, env: { ...process.env, NODE_ENV: 'production' }, maxBuffer: 16 << 20 });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(VITE, ['preview', '--outDir', path.join(dir, 'dist'), '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: ROOT, stdio: 'ignore' });
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    try {
      if ((await fetch(`${url}/`)).ok) return { url, child, dir };
    } catch {
      // not listening yet
    }
  }
  child.kill('SIGKILL');
  throw new Error(`vite preview did not answer on ${url}`);
}

/** Waits until every chart on the page has drawn its answer (or says why it did not). */
async function chartsSettled(page: Page): Promise<void> {
  await page.locator('[data-engine-state="ready"][data-engine-demo="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
  await page.waitForFunction(() => {
    const figs = [...document.querySelectorAll('figure[data-chart]')];
    return figs.length > 0 && figs.every((f) => ['ready', 'error', 'idle'].includes(f.getAttribute('data-chart-state') ?? ''));
  }, undefined, { timeout: 60_000 });
  // Let the last redraw reach the screen.
  await page.waitForTimeout(500);
}

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'screenshots');
  fs.mkdirSync(out, { recursive: true });
  const server = await serve();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  const written: string[] = [];
  try {
    const shot = async (name: string, width: number, height: number, hash: string, act?: (page: Page) => Promise<void>, fullPage = false) => {
      const context = await browser.newContext({ viewport: { width, height } });
      const page = await context.newPage();
      await page.goto(`${server.url}/?backend=wasm${hash ? `#${hash}` : ''}`);
      await chartsSettled(page);
      if (act) {
        await act(page);
        await chartsSettled(page);
      }
      const file = path.join(out, `${name}.png`);
      await page.screenshot({ path: file, fullPage });
      written.push(file);
      await context.close();
    };
    await shot('main-1440x900', 1440, 900, '');
    await shot('present-1280x720', 1280, 720, 'preset=ta-vs-ties&present=1');
    // The lesson's step: switch to TIES and set λ to 1 (what its text says), then look.
    await shot('lesson-midway-1280x720', 1280, 720, 'preset=ta-vs-ties&present=1', async (page) => {
      await page.getByRole('combobox', { name: 'Merge method' }).selectOption('ties');
      const lambda = page.getByRole('region', { name: 'Merge', exact: true }).getByRole('slider', { name: 'λ', exact: true });
      await lambda.fill('1');
      await page.locator('[data-live-state="ready"][data-lambda="1"]').waitFor({ state: 'attached', timeout: 30_000 });
    });
    await shot('narrow-800', 800, 900, '', undefined, true);
  } finally {
    await browser.close();
    server.child?.kill('SIGTERM');
    if (server.dir) fs.rmSync(server.dir, { recursive: true, force: true });
  }
  for (const f of written) console.log(f);
}

await main();
