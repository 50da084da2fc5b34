/**
 * Multi-gigabyte checkpoints merged in the page to a file on disk (issue 20, items 2 and 4): a base
 * and two fine-tunes, Llama-shaped and stored in bfloat16 (about 1.5 GB each by default), chosen with
 * "Choose a folder" in headless Chromium on the page `npm start` serves, merged with the panel's
 * default recipe (TIES) by "Merge into a folder…" with the default memory budget, then merged again
 * by `merge-lab merge` from the recipe the page hands out, and the two weights files compared
 * (sha256). Prints the time, the peak memory of Chromium's processes (their RSS and PSS summed,
 * sampled every 250 ms), the page's longest main-thread task (PerformanceObserver 'longtask')
 * before and during the merge, and the CLI's time and peak.
 *
 * Headless Chromium shows no folder picker: the page's showDirectoryPicker is replaced by one that
 * answers a folder of its private storage (OPFS), a FileSystemDirectoryHandle like a picked one
 * whose files Chromium keeps as plain files in the profile; the bench reads the weights from there.
 *
 *   nice -n 10 npx tsx bench/page-merge-bench.ts [--gb 1.5] [--backend wasm] [--keep] [--dir .cache/bench/page-merge]
 *                                                [--settle 900] [--sha256 HEX: skip the CLI, compare with a CLI run's hash]
 *                                                [--budget MiB: the panel's memory budget, default the page's]
 *
 * Besides long tasks it records long animation frames (PerformanceObserver 'long-animation-frame':
 * the scripts that ran in each, by function and file) and prints the longest during the merge,
 * so a task over 100 ms says whose it is.
 *
 * The checkpoints (3 × --gb) are written under --dir and deleted at the end unless --keep; the
 * bench needs about 6 × --gb of free disk (inputs, the page's output, the CLI's, Chromium's swap file).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { nodeFileSink } from '../src/engine/io/node-file.js';
import { createSafetensorsWriter } from '../src/engine/io/safetensors-writer.js';

const { values } = parseArgs({
  options: {
    gb: { type: 'string', default: '1.5' },
    backend: { type: 'string', default: 'wasm' },
    dir: { type: 'string', default: '.cache/bench/page-merge' },
    keep: { type: 'boolean', default: false },
    chromium: { type: 'string', default: process.env['MERGE_LAB_CHROMIUM'] ?? '/usr/bin/chromium' },
    /** Smaller shapes for a quick try of the bench itself (the defaults are the issue's). */
    hidden: { type: 'string', default: '1536' },
    vocab: { type: 'string', default: '32000' },
    /** Seconds to wait at most for the lab's charts over the chosen models before merging. */
    settle: { type: 'string', default: '900' },
    /** Skip merge-lab merge and compare the page's file with this sha256 (a CLI run's, same --gb and shapes). */
    sha256: { type: 'string' },
    /** The Merge panel's memory budget in MiB (the page's default when absent). */
    budget: { type: 'string' },
  },
});
const ROOT = path.resolve(import.meta.dirname, '..');
const DIR = path.resolve(ROOT, values.dir);
const VITE = path.join(ROOT, 'node_modules/.bin/vite');
const MODELS = ['base', 'ft1', 'ft2'] as const;
const log = (m: string) => console.log(`[page-merge-bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

/** Llama's tensors at hidden 1536 (16 heads of 96), MLP 4096, vocabulary 32000: the largest tensor (the embedding, 196.6 MB as float32) keeps a 3-model TIES within the page's default 1 GiB budget. */
const LLAMA = { hidden: Number(values.hidden), intermediate: Math.round((Number(values.hidden) * 8) / 3 / 256) * 256, vocab: Number(values.vocab), heads: 16 };

function llamaLayout(bytes: number): { name: string; shape: number[] }[] {
  const { hidden: h, intermediate: m, vocab: v } = LLAMA;
  const perLayer = 4 * h * h + 3 * h * m + 2 * h;
  const layers = Math.max(1, Math.round((bytes / 2 - 2 * v * h - h) / perLayer));
  const out = [{ name: 'model.embed_tokens.weight', shape: [v, h] }];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      { name: `${p}.input_layernorm.weight`, shape: [h] },
      ...['q', 'k', 'v', 'o'].map((x) => ({ name: `${p}.self_attn.${x}_proj.weight`, shape: [h, h] })),
      { name: `${p}.post_attention_layernorm.weight`, shape: [h] },
      { name: `${p}.mlp.gate_proj.weight`, shape: [m, h] },
      { name: `${p}.mlp.up_proj.weight`, shape: [m, h] },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, m] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [h] }, { name: 'lm_head.weight', shape: [v, h] });
  return out;
}

function llamaConfig(layers: number): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: LLAMA.hidden,
    intermediate_size: LLAMA.intermediate,
    num_attention_heads: LLAMA.heads,
    num_key_value_heads: LLAMA.heads,
    num_hidden_layers: layers,
    vocab_size: LLAMA.vocab,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    torch_dtype: 'bfloat16',
  };
}

/** base/, ft1/, ft2/ under DIR, each model.safetensors (bfloat16) and config.json; kept when already there. */
async function writeModels(): Promise<number> {
  const layout = llamaLayout(Number(values.gb) * 1e9);
  const layers = layout.filter((t) => t.name.endsWith('.input_layernorm.weight')).length;
  for (const [m, name] of MODELS.entries()) {
    const dir = path.join(DIR, name);
    const file = path.join(dir, 'model.safetensors');
    if (existsSync(path.join(dir, 'config.json'))) continue;
    await mkdir(dir, { recursive: true });
    const w = await createSafetensorsWriter(await nodeFileSink(file), layout.map((t) => ({ ...t, dtype: 'BF16' as const })), { format: 'pt' });
    for (const [t, spec] of layout.entries()) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      // xorshift: the base's values per tensor, each fine-tune's noise on top.
      let b = (0x9e3779b9 ^ (t * 2654435761)) >>> 0 || 1;
      let f = (0x85ebca6b * (m + 1) + t) >>> 0 || 1;
      for (let i = 0; i < n; i++) {
        b ^= b << 13;
        b ^= b >>> 17;
        b ^= b << 5;
        f ^= f << 13;
        f ^= f >>> 17;
        f ^= f << 5;
        const base = ((b >>> 0) / 2 ** 32 - 0.5) * 0.04;
        data[i] = m === 0 ? base : base + 0.004 * ((f >>> 0) / 2 ** 32 - 0.5);
      }
      await w.writeTensor(spec.name, data);
    }
    await w.finish();
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(llamaConfig(layers), null, 2) + '\n');
    log(`wrote ${name}: ${(statSync(file).size / 1e9).toFixed(2)} GB`);
  }
  return layers;
}

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

/** Every descendant of `root` (its children's children too), from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** kB of RSS and PSS of the processes whose command matches `name`. */
function memoryOf(pids: readonly number[], name: RegExp): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    try {
      if (!name.test(readFileSync(`/proc/${p}/comm`, 'utf8'))) continue;
      const roll = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return { rss, pss };
}

/** Samples the memory of `name`'s processes under `root` every 250 ms until stopped; the peaks in MiB. */
function sampler(root: () => number, name: RegExp) {
  const peak = { rss: 0, pss: 0 };
  const timer = setInterval(() => {
    const m = memoryOf(descendants(root()), name);
    peak.rss = Math.max(peak.rss, m.rss);
    peak.pss = Math.max(peak.pss, m.pss);
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      return { rssMiB: Math.round(peak.rss / 1024), pssMiB: Math.round(peak.pss / 1024) };
    },
  };
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 8 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The largest file under `dir` (the profile's copy of the page's weights). */
function largestFile(dir: string): { path: string; size: number } | undefined {
  let best: { path: string; size: number } | undefined;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size > (best?.size ?? -1)) best = { path: p, size: statSync(p).size };
    }
  };
  if (existsSync(dir)) walk(dir);
  return best;
}

const free = Number(spawnSync('df', ['--output=avail', '-B1', path.dirname(DIR)], { encoding: 'utf8' }).stdout.trim().split('\n').pop());
const need = 6 * Number(values.gb) * 1e9;
if (free < need) throw new Error(`${path.dirname(DIR)} has ${(free / 1e9).toFixed(1)} GB free; the bench needs about ${(need / 1e9).toFixed(0)} GB.`);
await mkdir(DIR, { recursive: true });
const profile = await mkdtemp(path.join(os.tmpdir(), 'merge-lab-page-bench-profile-'));
const cliOut = path.join(DIR, 'cli');
let preview: ReturnType<typeof spawn> | undefined;
try {
  const t0 = performance.now();
  const layers = await writeModels();
  const inputBytes = MODELS.reduce((s, m) => s + statSync(path.join(DIR, m, 'model.safetensors')).size, 0);
  log(`checkpoints ready (${layers} layers each, ${(inputBytes / 1e9).toFixed(2)} GB in all) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const dist = path.join(ROOT, '.cache/bench/page-merge-dist');
  const built = spawnSync(VITE, ['build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
  if (built.status !== 0) throw new Error(`vite build failed: ${built.stderr}`);
  const port = await freePort();
  preview = spawn(VITE, ['preview', '--outDir', dist, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { cwd: ROOT, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const root = process.getuid?.() === 0;
  const context = await chromium.launchPersistentContext(profile, { executablePath: values.chromium, headless: true, viewport: { width: 1440, height: 900 }, acceptDownloads: true, args: root ? ['--no-sandbox'] : [] });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: { start: number; duration: number; charts: number }[]; showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      // Charts still being computed when the task is reported: their answers render on this thread.
      const charts = document.querySelectorAll('figure[data-chart][data-chart-state="computing"]').length;
      for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration, charts });
    }).observe({ type: 'longtask', buffered: true });
    // Long animation frames name the scripts that ran in them (a long task does not).
    const f = window as unknown as { __frames: { start: number; duration: number; blocking: number; scripts: string[] }[] };
    f.__frames = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as unknown as { startTime: number; duration: number; blockingDuration: number; scripts: { invoker: string; sourceFunctionName: string; sourceURL: string; duration: number; forcedStyleAndLayoutDuration: number }[] }[]) {
        f.__frames.push({
          start: e.startTime,
          duration: e.duration,
          blocking: e.blockingDuration,
          scripts: e.scripts.map((x) => `${x.invoker} ${x.sourceFunctionName || '?'}@${x.sourceURL.split('/').pop()} ${Math.round(x.duration)} ms (layout ${Math.round(x.forcedStyleAndLayoutDuration)})`),
        });
      }
    }).observe({ type: 'long-animation-frame', buffered: true });
    // The folder picker answers a folder of the private storage (see the header).
    w.showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('picked', { create: true });
  });
  const browserMemory = sampler(() => process.pid, /chrom/i);
  await page.goto(`${url}?backend=${values.backend}`);
  await page.waitForSelector(`[data-engine-state="ready"][data-backend="${values.backend}"]`, { timeout: 120_000 });

  const tChoose = performance.now();
  for (const [i, m] of MODELS.entries()) {
    await page.getByLabel('Choose a folder', { exact: true }).setInputFiles(path.join(DIR, m));
    await page.waitForFunction(
      (n) => {
        const rows = [...document.querySelectorAll('table[aria-label="My checkpoints"] tbody tr')];
        return rows.length === n && rows.every((r) => (r as HTMLElement).dataset['status'] !== 'loading');
      },
      i + 1,
      { timeout: 300_000 },
    );
  }
  const chooseMs = performance.now() - tChoose;
  log(`models chosen and opened in ${(chooseMs / 1000).toFixed(1)} s`);
  // The lab draws its charts over the chosen models (in the worker) as a user reads them; the merge
  // is timed after they settle, as a user would click it, so the two are not timed together.
  const tSettle = performance.now();
  for (let quiet = 0; quiet < 3 && performance.now() - tSettle < Number(values.settle) * 1000; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const busy = await page.evaluate(() => document.querySelectorAll('figure[data-chart][data-chart-state="computing"]').length);
    quiet = busy === 0 ? quiet + 1 : 0;
  }
  const settleMs = performance.now() - tSettle;
  const beforeMerge = memoryOf(descendants(process.pid), /chrom/i);
  const chromiumPeakBefore = browserMemory.stop();
  log(`charts settled in ${(settleMs / 1000).toFixed(0)} s; Chromium now ${Math.round(beforeMerge.pss / 1024)} MiB PSS (peak so far ${chromiumPeakBefore.pssMiB})`);
  const mergeMemory = sampler(() => process.pid, /chrom/i);

  const panel = page.getByRole('region', { name: 'Merge', exact: true });
  if (values.budget) await panel.getByRole('spinbutton', { name: 'Memory budget (MiB)' }).fill(values.budget);
  const mergeAt = await page.evaluate(() => performance.now());
  const tMerge = performance.now();
  await panel.getByRole('button', { name: 'Merge into a folder…', exact: true }).click();
  let last = '';
  for (;;) {
    const state = await panel.locator('[data-job-state]').getAttribute('data-job-state');
    if (state === 'done' || state === 'failed' || state === 'cancelled') break;
    const text = ((await panel.locator('[data-job-state]').textContent()) ?? '').replace(/\s+/g, ' ');
    const tensor = /tensor \d+ of \d+/.exec(text)?.[0] ?? '';
    if (tensor && tensor !== last && Number(/\d+/.exec(tensor)?.[0]) % 25 === 0) log(text.slice(0, 160));
    last = tensor;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const pageMs = performance.now() - tMerge;
  const jobText = ((await panel.locator('[data-job-state]').textContent()) ?? '').replace(/\s+/g, ' ');
  const pagePeak = mergeMemory.stop();
  if ((await panel.locator('[data-job-state]').getAttribute('data-job-state')) !== 'done') throw new Error(`The page's merge did not finish: ${jobText}`);
  log(`page: ${jobText.slice(0, 300)}`);
  const tasks = await page.evaluate(() => (window as unknown as { __longTasks: { start: number; duration: number; charts: number }[] }).__longTasks);
  const longest = (xs: { duration: number }[]) => Math.round(Math.max(0, ...xs.map((x) => x.duration)));
  const during = tasks.filter((t) => t.start >= mergeAt);
  const frames = await page.evaluate(() => (window as unknown as { __frames: { start: number; duration: number; blocking: number; scripts: string[] }[] }).__frames);
  for (const [what, list] of [['before', frames.filter((x) => x.start < mergeAt)], ['during', frames.filter((x) => x.start >= mergeAt)]] as const) {
    const top = [...list].sort((a, b) => b.duration - a.duration).slice(0, 8);
    log(`long animation frames ${what} the merge: ${list.length}; the longest: ${top.map((x) => `${Math.round(x.duration)} ms (blocking ${Math.round(x.blocking)}) at ${Math.round(x.start - mergeAt)} ms [${x.scripts.join('; ')}]`).join(' | ') || 'none'}`);
  }

  // The recipe the page hands out, for the CLI beside the models.
  const [download] = await Promise.all([page.waitForEvent('download'), panel.locator('[data-job-state]').getByRole('link', { name: 'Download recipe' }).click()]);
  await download.saveAs(path.join(DIR, 'recipe.yml'));
  await context.close();

  await rm(cliOut, { recursive: true, force: true });
  // The page's weights: the largest file of the profile's private storage.
  const pageFile = largestFile(path.join(profile, 'Default', 'File System'));
  const pageHash = pageFile ? await sha256(pageFile.path) : 'none';
  let cliMs = NaN;
  let cliPeakRssMiB = NaN;
  let cliWorkers = 0;
  let size = pageFile?.size ?? 0;
  let cliHash = values.sha256 ?? '';
  const cli = { stdout: '', stderr: '', status: 0 as number | null };
  if (!values.sha256) {
    const tCli = performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'src/cli/main.ts'), 'merge', 'recipe.yml', '--out', 'cli', '--backend', values.backend, '--no-progress', '--stats'], { cwd: DIR });
    child.stdout.on('data', (d: Buffer) => (cli.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (cli.stderr += d.toString()));
    cli.status = await new Promise<number | null>((r) => child.on('close', r));
    cliMs = performance.now() - tCli;
    if (cli.status !== 0) throw new Error(`merge-lab merge failed: ${cli.stderr}`);
    // The CLI's own peak RSS (--stats: the process, its worker threads included).
    cliPeakRssMiB = Math.round(Number(/"peakRssBytes":(\d+)/.exec(cli.stdout)?.[1] ?? 0) / 2 ** 20);
    cliWorkers = Number(/"workers":(\d+)/.exec(cli.stdout)?.[1] ?? 0);
    const cliFile = path.join(cliOut, 'model.safetensors');
    size = statSync(cliFile).size;
    cliHash = await sha256(cliFile);
  }
  const pageHashes = pageFile?.size === size ? [pageHash] : [];

  const load = os.loadavg()[0]!.toFixed(1);
  const row = {
    models: `3 × ${(inputBytes / 3 / 1e9).toFixed(2)} GB bfloat16, Llama-shaped (${layers} layers, hidden ${LLAMA.hidden})`,
    backend: values.backend,
    pageMergeS: Math.round(pageMs / 100) / 10,
    chooseS: Math.round(chooseMs / 100) / 10,
    chartsSettleS: Math.round(settleMs / 1000),
    browserBeforeMergePssMiB: Math.round(beforeMerge.pss / 1024),
    browserPeakBeforeMergePssMiB: chromiumPeakBefore.pssMiB,
    browserPeakRssMiB: pagePeak.rssMiB,
    browserPeakPssMiB: pagePeak.pssMiB,
    longestTaskDuringMergeMs: longest(during),
    longTasksDuringMerge: during.length,
    longestTaskDuringMergeChartsIdleMs: longest(during.filter((t) => t.charts === 0)),
    longTasksDuringMergeChartsIdle: during.filter((t) => t.charts === 0).length,
    longestTaskBeforeMergeMs: longest(tasks.filter((t) => t.start < mergeAt)),
    cliMergeS: values.sha256 ? 'not run (--sha256)' : Math.round(cliMs / 100) / 10,
    cliPeakRssMiB,
    cliWorkers,
    outputBytes: size,
    sameBytes: pageHashes.length === 1 && pageHashes[0] === cliHash,
    sha256: cliHash,
    loadAtEnd: load,
  };
  console.log(`\nThree checkpoints merged in the page to a file on disk (${row.models}, TIES, ${values.budget ? `budget ${values.budget} MiB` : 'default budget'}, ${values.backend}, headless Chromium)\n`);
  console.log('| what | measured |\n|---|---:|');
  console.log(`| page: Merge into a folder… → done | ${row.pageMergeS} s |`);
  console.log(`| page: Chromium's processes, peak (RSS summed / PSS summed) | ${row.browserPeakRssMiB} / ${row.browserPeakPssMiB} MiB |`);
  console.log(`| page: longest main-thread task during the merge (long tasks ≥ 50 ms) | ${row.longestTaskDuringMergeMs} ms (${row.longTasksDuringMerge}) |`);
  console.log(`| page: … of them, those reported while no chart was being computed | ${row.longestTaskDuringMergeChartsIdleMs} ms (${row.longTasksDuringMergeChartsIdle}) |`);
  console.log(`| page: Chromium's processes before the merge (PSS summed; peak while the charts were drawn, ${row.chartsSettleS} s) | ${row.browserBeforeMergePssMiB} MiB (${row.browserPeakBeforeMergePssMiB} MiB) |`);
  console.log(`| page: longest main-thread task before it (load, choosing the folders: ${row.chooseS} s, the charts) | ${row.longestTaskBeforeMergeMs} ms |`);
  if (!values.sha256) console.log(`| merge-lab merge, same recipe and files (${cliWorkers} workers) | ${row.cliMergeS} s, peak RSS ${row.cliPeakRssMiB} MiB |`);
  console.log(`| weights file: ${size} bytes, sha256 ${cliHash.slice(0, 16)}… (${values.sha256 ? 'given' : "the CLI's"}) | ${row.sameBytes ? 'the same bytes' : `DIFFERENT (page's file: ${pageFile?.size ?? 'none'} bytes, sha256 ${pageHash.slice(0, 16)}…)`} |`);
  console.log(`\n${JSON.stringify(row)}`);
  if (cli.stdout.trim()) log(`CLI --stats: ${cli.stdout.trim().split('\n').slice(-6).join(' | ')}`);
  if (!row.sameBytes) process.exitCode = 1;
} finally {
  preview?.kill();
  await rm(profile, { recursive: true, force: true });
  await rm(cliOut, { recursive: true, force: true });
  if (!values.keep) await rm(DIR, { recursive: true, force: true });
}
