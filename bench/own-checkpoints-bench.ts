/**
 * The lab with one's own checkpoints at size (issue 16): a base and four experts of 64 MiB float32
 * each, chosen with "Choose files" in headless Chromium on the page `npm start` serves, timed as a
 * user sees it — from the choice to the charts, a λ move to its redraw (the recipe, with the
 * charts kept: they do not depend on λ), a density move to its charts. Prints a table and one JSON
 * line; targets (issue 16): charts ≤ 5 s, λ ≤ 300 ms, density ≤ 1 s.
 *
 *   npm run bench:own                       (tsx bench/own-checkpoints-bench.ts)
 *   tsx bench/own-checkpoints-bench.ts --mib 64 --experts 4 --backend wasm --read 20
 */
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { ownCheckpointFiles } from './own-checkpoints-files.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '64' },
    experts: { type: 'string', default: '4' },
    backend: { type: 'string', default: 'wasm' },
    chromium: { type: 'string', default: process.env['MERGE_LAB_CHROMIUM'] ?? '/usr/bin/chromium' },
    /** Seconds between the first charts and the first density move (a user reading them). */
    read: { type: 'string', default: '20' },
  },
});
const MIB = Number(values.mib);
const EXPERTS = Number(values.experts);
const ROOT = path.resolve(import.meta.dirname, '..');
const VITE = path.join(ROOT, 'node_modules/.bin/vite');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const chart = (page: Page, id: string) => page.locator(`figure[data-chart="${id}"]`);
const seqOf = async (page: Page, id: string) => Number((await chart(page, id).getAttribute('data-seq')) ?? 0);

type Want = readonly (readonly [string, number])[];

/**
 * True once every chart named has drawn an answer newer than the seq given about one's own
 * checkpoints (its settings say so: the demo's answers, still on their way at the drop, do not
 * count), and none is updating. Runs in the page.
 */
function chartsReady(want: Want): boolean {
  return want.every(([id, after]) => {
    const f = document.querySelector(`figure[data-chart="${id}"]`);
    return f !== null && f.getAttribute('data-chart-state') === 'ready' && Number(f.getAttribute('data-seq')) > after && (f.getAttribute('data-settings') ?? '').includes('your checkpoints');
  });
}

/** True once the recipe the Merge panel shows holds `text`. Runs in the page. */
function recipeShows(text: string): boolean {
  return (document.querySelector('[aria-label="Recipe YAML"]')?.textContent ?? '').includes(text);
}

/** Milliseconds from `act` until `done(arg)` holds in the page (polled every animation frame). */
async function timed<A>(page: Page, act: () => Promise<void>, done: (arg: A) => boolean, arg: A): Promise<number> {
  const t0 = performance.now();
  await act();
  await page.waitForFunction(done, arg, { timeout: 120_000, polling: 'raf' }).catch(async (e: unknown) => {
    const charts = await page.evaluate(() => [...document.querySelectorAll('figure[data-chart]')].map((f) => `${f.getAttribute('data-chart')} ${f.getAttribute('data-chart-state')} #${f.getAttribute('data-seq')} ${f.getAttribute('data-settings')}`));
    throw new Error(`Waited in vain for ${done.name}(${JSON.stringify(arg)}); the charts: ${charts.join('; ')}`, { cause: e });
  });
  return performance.now() - t0;
}

const files = await ownCheckpointFiles(MIB, EXPERTS);
const dist = path.join(ROOT, '.cache/bench/own-dist');
const built = spawnSync(VITE, ['build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
if (built.status !== 0) throw new Error(`vite build failed: ${built.stderr}`);
const port = await freePort();
const preview = spawn(VITE, ['preview', '--outDir', dist, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: ROOT, stdio: 'ignore' });
const url = `http://127.0.0.1:${port}/`;
for (let i = 0; i < 100; i++) {
  if (await fetch(url).then((r) => r.ok, () => false)) break;
  await new Promise((r) => setTimeout(r, 100));
}
const root = process.getuid?.() === 0;
const browser = await chromium.launch({ executablePath: values.chromium, headless: true, args: ['--enable-unsafe-webgpu', ...(root ? ['--no-sandbox'] : [])] });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${url}?backend=${values.backend}`);
  await page.waitForSelector(`[data-engine-state="ready"][data-backend="${values.backend}"]`, { timeout: 120_000 });
  await page.waitForSelector('[data-engine-demo="ready"]', { timeout: 120_000 });

  const choose = () => page.getByLabel('Choose files', { exact: true }).setInputFiles(files);
  const t0 = performance.now();
  // The first charts (sign conflicts, cosines), then the spectrum, which waits for them.
  await timed<Want>(page, choose, chartsReady, [['sign-conflicts', 0], ['task-cosines', 0]]);
  const toCharts = performance.now() - t0;
  await timed<Want>(page, async () => undefined, chartsReady, [['svd-spectrum', 0]]);
  const toSpectrum = performance.now() - t0;

  const lambda = page.getByRole('region', { name: 'Merge', exact: true }).getByRole('slider', { name: 'λ', exact: true });
  const density = page.getByRole('region', { name: 'Merge', exact: true }).getByRole('slider', { name: 'Density', exact: true });
  const lambdaMoves: number[] = [];
  let recomputed = 0;
  for (const v of ['0.7', '0.8', '0.9', '1.1', '1.2']) {
    const seq = await seqOf(page, 'sign-conflicts');
    const state = await chart(page, 'sign-conflicts').getAttribute('data-chart-state');
    if (state !== 'ready') throw new Error(`The charts are ${state} before a λ move, not ready.`);
    lambdaMoves.push(await timed(page, () => lambda.fill(v), recipeShows, `lambda: ${v}`));
    // Give a needless request the time to show itself: the charts must still hold the same answer.
    await page.waitForTimeout(300);
    if ((await seqOf(page, 'sign-conflicts')) !== seq || (await chart(page, 'sign-conflicts').getAttribute('data-chart-state')) !== 'ready') recomputed++;
  }
  // The sort orders are filled after the first answer (diagnose.ts DeferredOrders): give them the
  // time a user spends reading the first charts.
  await page.waitForTimeout(Number(values.read) * 1000);
  const densityMoves: number[] = [];
  for (const v of ['0.4', '0.5', '0.6', '0.2', '0.3']) {
    const seq = await seqOf(page, 'sign-conflicts');
    densityMoves.push(await timed<Want>(page, () => density.fill(v), chartsReady, [['sign-conflicts', seq]]));
  }
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const r = (x: number) => Math.round(x);
  const result = {
    backend: values.backend,
    models: `base + ${EXPERTS} × ${MIB} MiB float32`,
    chooseToChartsMs: r(toCharts),
    chooseToSpectrumMs: r(toSpectrum),
    lambdaMoveP50Ms: r(median(lambdaMoves)),
    lambdaMoveMaxMs: r(Math.max(...lambdaMoves)),
    lambdaMovesThatRecomputedCharts: recomputed,
    densityMoveP50Ms: r(median(densityMoves)),
    densityMoveMaxMs: r(Math.max(...densityMoves)),
  };
  console.log(`\nOwn checkpoints in the lab (${result.models}, ${values.backend}, headless Chromium)\n`);
  console.log('| step | measured | target |\n|---|---:|---:|');
  console.log(`| choose files → sign conflicts and cosines drawn | ${result.chooseToChartsMs} ms | ≤ 5,000 ms |`);
  console.log(`| choose files → SVD spectrum drawn too | ${result.chooseToSpectrumMs} ms | |`);
  console.log(`| λ move → redrawn (median / max of 5; charts kept: ${5 - recomputed}/5) | ${result.lambdaMoveP50Ms} / ${result.lambdaMoveMaxMs} ms | ≤ 300 ms |`);
  console.log(`| density move → charts redrawn (median / max of 5) | ${result.densityMoveP50Ms} / ${result.densityMoveMaxMs} ms | ≤ 1,000 ms |`);
  console.log(`\n${JSON.stringify(result)}`);
} finally {
  await browser.close();
  preview.kill();
}
