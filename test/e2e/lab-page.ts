/**
 * Page object for the lab: what a test may look at or do on the page, named as the user sees it
 * (tabs, panels, rows), so tests read as flows and survive markup changes in one place.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { diagnostics, type PageDiagnostics } from './diagnostics.js';

export type TabName = 'Models' | 'Methods' | 'About';
export type DemoState = 'loaded' | 'failed';
export type BackendChoiceName = 'auto' | 'webgpu' | 'wasm' | 'cpu';
/** The Merge panel's job states (data-job-state). */
export type JobStateName = 'idle' | 'running' | 'cancelling' | 'done' | 'cancelled' | 'failed';

/** The live score as displayed (the Live score group's data attributes and table). */
export interface LiveScoreView {
  readonly state: string;
  /** The request the shown numbers answer. */
  readonly seq: number;
  readonly density: number;
  readonly lambda: number;
  readonly normalized: number;
  /** Merged accuracy per task as shown, e.g. '54.2%'. */
  readonly perTask: readonly string[];
}

/** One row of the Models table as displayed. */
export interface ModelRow {
  readonly file: string;
  readonly role: string;
  readonly task: string;
  readonly dtype: string;
  readonly parameters: string;
  readonly size: string;
  /** 'loading' | 'ready' | 'error' */
  readonly status: string;
  /** The row's status cell text (the error message when status is 'error'). */
  readonly statusText: string;
}

/** One row of the Tasks table as displayed. */
export interface TaskRow {
  readonly id: string;
  readonly label: string;
  readonly transform: string;
  readonly base: string;
  readonly expert: string;
}

/** Roles that are controls: each needs an accessible name. */
// A full-page capture of the tall lab waits for a frame: under CI's load (two Chromium pages and
// vitest on two cores) that took over playwright's 10 s default once; the screenshots are records, not checks.
const SCREENSHOT_TIMEOUT_MS = 45_000;
/** The `*_hide` flags of the charts the digits demo draws (src/app/presentation.ts). */
const CHARTS_HIDDEN = ['accuracy', 'sweep', 'conflicts', 'cosines', 'spectrum', 'layers'].map((c) => `${c}_hide=1`);
const CONTROL_ROLES = ['button', 'link', 'combobox', 'textbox', 'searchbox', 'slider', 'spinbutton', 'checkbox', 'radio', 'switch', 'tab', 'menuitem', 'listbox'];

export class LabPage {
  constructor(
    readonly page: Page,
    readonly baseURL: string,
    readonly resultsDir: string,
  ) {}

  get diagnostics(): PageDiagnostics {
    return diagnostics(this.page);
  }

  /**
   * Opens the lab (optionally with a URL hash, without the '#'). `backend` starts the engine on
   * that backend (?backend=…, the same setting as the status bar's Backend select), so a test
   * that does not test WebGPU need not wait for SwiftShader. `charts: false` hides the digits
   * demo's charts with the URL's `*_hide` flags, for a test that reads none of them: drawing them
   * took ~0.6 of a page's ~3.5 CPU-s here, and a hidden chart is not computed
   * (charts-slice.ts).
   */
  async open(hash = '', options: { backend?: BackendChoiceName; charts?: boolean } = {}): Promise<void> {
    const query = options.backend ? `?backend=${options.backend}` : '';
    const full = options.charts === false ? [hash, ...CHARTS_HIDDEN].filter(Boolean).join('&') : hash;
    const url = `${this.baseURL}/${query}${full ? `#${full}` : ''}`;
    // The same page with another (or the same) hash would be a same-document navigation, the page
    // kept as it was: a link is opened afresh, as a reader opening it would.
    if (this.page.url().split('#')[0] === url.split('#')[0]) await this.page.goto('about:blank');
    await this.page.goto(url);
  }

  tab(name: TabName): Locator {
    return this.page.getByRole('tab', { name, exact: true });
  }

  panel(name: TabName): Locator {
    return this.page.getByRole('tabpanel', { name, exact: true });
  }

  async openTab(name: TabName): Promise<Locator> {
    await this.tab(name).click();
    const panel = this.panel(name);
    await panel.waitFor({ state: 'visible' });
    return panel;
  }

  /** The element carrying the demo's load state (data-demo-state). */
  demoStatus(): Locator {
    return this.page.locator('[data-demo-state]');
  }

  /** Waits until every demo file has settled (or the manifest failed) and returns which. */
  async waitForDemo(timeout = 30_000): Promise<DemoState> {
    const done = this.page.locator('[data-demo-state="loaded"], [data-demo-state="failed"]');
    await done.waitFor({ state: 'attached', timeout });
    return (await done.getAttribute('data-demo-state')) as DemoState;
  }

  /** The status line under the Models heading ("Embedded demo loaded in …"). */
  async statusText(): Promise<string> {
    return (await this.demoStatus().getByRole('status').textContent()) ?? '';
  }

  modelsTable(): Locator {
    return this.page.getByRole('table', { name: 'Models', exact: true });
  }

  modelRow(file: string): Locator {
    return this.modelsTable().locator(`tbody tr[data-model="${file}"]`);
  }

  async models(): Promise<ModelRow[]> {
    return this.modelsTable()
      .locator('tbody tr')
      .evaluateAll((rows) =>
        rows.map((tr) => {
          const cells = [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim());
          return {
            file: (tr as HTMLElement).dataset['model'] ?? '',
            role: cells[1] ?? '',
            task: cells[2] ?? '',
            dtype: cells[3] ?? '',
            parameters: cells[4] ?? '',
            size: cells[5] ?? '',
            status: (tr as HTMLElement).dataset['status'] ?? '',
            statusText: cells[6] ?? '',
          };
        }),
      );
  }

  async tasks(): Promise<TaskRow[]> {
    return this.page
      .getByRole('table', { name: 'Tasks', exact: true })
      .locator('tbody tr')
      .evaluateAll((rows) =>
        rows.map((tr) => {
          const cells = [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim());
          const id = (tr as HTMLElement).dataset['task'] ?? '';
          return { id, label: (cells[0] ?? '').replace(id, '').replace(/hard$/, '').trim(), transform: cells[1] ?? '', base: cells[2] ?? '', expert: cells[3] ?? '' };
        }),
      );
  }

  /** The total download the page reports, in bytes (data-total-bytes). */
  async reportedTotalBytes(): Promise<number> {
    return Number(await this.page.locator('[data-total-bytes]').getAttribute('data-total-bytes'));
  }

  /** The 'demo-load' performance measure's duration in ms, or null if the page recorded none. */
  async demoLoadMs(): Promise<number | null> {
    return this.page.evaluate(() => performance.getEntriesByName('demo-load', 'measure')[0]?.duration ?? null);
  }

  /** When the demo finished loading, in ms since navigation start (includes loading the app itself). */
  async demoLoadedAtMs(): Promise<number | null> {
    return this.page.evaluate(() => performance.getEntriesByName('demo-load-end', 'mark')[0]?.startTime ?? null);
  }

  /** The URL of the digits data as the About panel links it (a hashed asset). */
  async dataUrl(): Promise<string> {
    const about = await this.openTab('About');
    const href = await about.getByRole('link', { name: /download the data/i }).getAttribute('href');
    if (!href) throw new Error('The About panel has no link to the data.');
    return new URL(href, this.baseURL).href;
  }

  /**
   * Controls (buttons, links, selects, inputs, tabs…) in the current view that have no accessible
   * name, from Chromium's accessibility tree via playwright's aria snapshot.
   */
  async unnamedControls(): Promise<string[]> {
    const snapshot = await this.page.locator('body').ariaSnapshot();
    const unnamed = new RegExp(`^\\s*- (${CONTROL_ROLES.join('|')})(?=$|:|\\s\\[)`);
    return snapshot.split('\n').filter((line) => unnamed.test(line));
  }

  // ---- the engine's status bar ----

  /** The engine's status bar (role=status, "Engine status"). */
  statusBar(): Locator {
    return this.page.getByRole('status', { name: 'Engine status' });
  }

  async statusBarText(): Promise<string> {
    return ((await this.statusBar().textContent()) ?? '').replace(/\s+/g, ' ');
  }

  backendSelect(): Locator {
    return this.page.getByRole('combobox', { name: 'Backend', exact: true });
  }

  /** Picks a backend in the status bar (the engine restarts on it). */
  async selectBackend(choice: BackendChoiceName): Promise<void> {
    await this.backendSelect().selectOption(choice);
  }

  /**
   * Waits until the engine runs (on `backend`, when given) with the demo loaded in the worker,
   * and returns the backend's name. SwiftShader WebGPU needs seconds for its first op.
   */
  async waitForEngine(backend?: string, timeout = 60_000): Promise<string> {
    const sel = `[data-engine-state="ready"][data-engine-demo="ready"]${backend ? `[data-backend="${backend}"]` : ''}`;
    await this.page.locator(sel).waitFor({ state: 'attached', timeout });
    return (await this.statusBar().getAttribute('data-backend')) ?? '';
  }

  /** How many times the engine restarted after a failure (data-restarts). */
  async engineRestarts(): Promise<number> {
    return Number(await this.statusBar().getAttribute('data-restarts'));
  }

  // ---- the Merge panel ----

  mergePanel(): Locator {
    return this.page.getByRole('region', { name: 'Merge', exact: true });
  }

  densitySlider(): Locator {
    return this.mergePanel().getByRole('slider', { name: 'Density', exact: true });
  }

  lambdaSlider(): Locator {
    return this.mergePanel().getByRole('slider', { name: 'λ', exact: true });
  }

  budgetInput(): Locator {
    return this.mergePanel().getByRole('spinbutton', { name: 'Memory budget (MiB)' });
  }

  mergeButton(): Locator {
    return this.mergePanel().getByRole('button', { name: 'Merge', exact: true });
  }

  cancelButton(): Locator {
    return this.mergePanel().getByRole('button', { name: 'Cancel', exact: true });
  }

  downloadWeightsLink(): Locator {
    return this.mergePanel().getByRole('link', { name: 'Download merged weights' });
  }

  /** The merged model's whole folder as a zip (after a merge). */
  downloadModelButton(): Locator {
    return this.job().getByRole('button', { name: 'Download merged model', exact: true });
  }

  /** The finished merge's recipe (merge-recipe.yml of the job), inside the job's area. */
  downloadRecipeLink(): Locator {
    return this.job().getByRole('link', { name: 'Download recipe' });
  }

  /** The current recipe's download under the YAML (shown while no merge result is there). */
  currentRecipeLink(): Locator {
    return this.mergePanel().getByRole('group', { name: 'Recipe' }).getByRole('link', { name: 'Download recipe' });
  }

  /** The element carrying the merge job's state, whose text says what happened. */
  job(): Locator {
    return this.mergePanel().locator('[data-job-state]');
  }

  async jobState(): Promise<JobStateName> {
    return (await this.job().getAttribute('data-job-state')) as JobStateName;
  }

  async jobText(): Promise<string> {
    return ((await this.job().textContent()) ?? '').replace(/\s+/g, ' ');
  }

  /** Waits for the job to reach one of `states` and returns which. */
  async waitForJob(states: readonly JobStateName[], timeout = 60_000): Promise<JobStateName> {
    const done = this.mergePanel().locator(states.map((s) => `[data-job-state="${s}"]`).join(', '));
    await done.waitFor({ state: 'attached', timeout });
    return (await done.getAttribute('data-job-state')) as JobStateName;
  }

  /** Clicks Merge and waits for the job to end: done, failed or cancelled. */
  async merge(timeout = 60_000): Promise<JobStateName> {
    await this.mergeButton().click();
    return this.waitForJob(['done', 'failed', 'cancelled'], timeout);
  }

  /** Clicks a download link and saves the file as `file`; returns its bytes. */
  async download(link: Locator, file: string): Promise<{ suggested: string; bytes: Buffer }> {
    const [download] = await Promise.all([this.page.waitForEvent('download'), link.click()]);
    await download.saveAs(file);
    return { suggested: download.suggestedFilename(), bytes: fs.readFileSync(file) };
  }

  /** The live score as shown. */
  async liveScore(): Promise<LiveScoreView> {
    return this.mergePanel()
      .getByRole('group', { name: 'Live score' })
      .evaluate((el) => {
        const d = (el as HTMLElement).dataset;
        const normalized = el.querySelector('[data-normalized]')?.getAttribute('data-normalized');
        return {
          state: d['liveState'] ?? '',
          seq: Number(d['seq'] ?? 0),
          density: Number(d['density'] ?? NaN),
          lambda: Number(d['lambda'] ?? NaN),
          normalized: Number(normalized ?? NaN),
          perTask: [...el.querySelectorAll('tbody tr')].map((tr) => (tr.querySelector('td')?.textContent ?? '').trim()),
        };
      });
  }

  /** Waits until the live score shown is final (no newer request pending) and, if given, for `density`. */
  async waitForLiveScore(density?: number, timeout = 30_000): Promise<LiveScoreView> {
    const sel = `[data-live-state="ready"]${density !== undefined ? `[data-density="${density}"]` : ''}`;
    await this.mergePanel().locator(sel).waitFor({ state: 'attached', timeout });
    return this.liveScore();
  }

  /** Durations of every performance measure named `name` on the page, in ms. */
  async measures(name: string): Promise<number[]> {
    return this.page.evaluate((n) => performance.getEntriesByName(n, 'measure').map((e) => e.duration), name);
  }

  /**
   * tfjs' live tensors in the main engine worker (or, with `which: 'live'`, in the worker that
   * computes the live score), through the test hook (window.__mergeLab).
   */
  async engineMemory(which: 'main' | 'live' = 'main'): Promise<{ numTensors: number; numBytes: number }> {
    return this.page.evaluate(async (w) => {
      const engine = w === 'live' ? window.__mergeLab?.liveEngine : window.__mergeLab?.engine;
      if (!engine) throw new Error(`window.__mergeLab.${w === 'live' ? 'liveEngine' : 'engine'} is missing: the engine was not started.`);
      return engine.system.memory();
    }, which);
  }

  /** Terminates the engine worker as a crash would (test hook). */
  async killWorker(): Promise<void> {
    await this.page.evaluate(() => window.__mergeLab!.killWorker());
  }

  // ---- the user's own checkpoints (Models panel) ----

  /** The "Drop checkpoints" zone. */
  dropZone(): Locator {
    return this.page.getByRole('group', { name: 'Drop checkpoints', exact: true });
  }

  /**
   * Drops files on the drop zone as a user's drag would: a DataTransfer built in the page and a
   * 'drop' DragEvent. `path` with a '/' puts the file in a folder (not expressible here: use
   * chooseFolder); names are plain file names.
   */
  async dropFiles(files: readonly { name: string; bytes: Uint8Array }[]): Promise<void> {
    const payload = files.map((f) => ({ name: f.name, b64: Buffer.from(f.bytes).toString('base64') }));
    await this.dropZone().evaluate((zone, list) => {
      const dt = new DataTransfer();
      for (const f of list) {
        const bin = atob(f.b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        dt.items.add(new File([bytes], f.name, { type: 'application/octet-stream' }));
      }
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, payload);
  }

  /** Chooses files with the "Choose files" picker (paths on this machine). */
  async chooseFiles(paths: readonly string[]): Promise<void> {
    await this.page.getByLabel('Choose files', { exact: true }).setInputFiles([...paths]);
  }

  /** Chooses a folder with the "Choose a folder" picker. */
  async chooseFolder(dir: string): Promise<void> {
    await this.page.getByLabel('Choose a folder', { exact: true }).setInputFiles(dir);
  }

  /** Which models are merged: 'demo' or 'mine' (the "Models to merge" switch). */
  async source(): Promise<string> {
    return (await this.page.locator('[data-source]').getAttribute('data-source')) ?? '';
  }

  myModelsTable(): Locator {
    return this.page.getByRole('table', { name: 'My checkpoints', exact: true });
  }

  myModelRow(id: string): Locator {
    return this.myModelsTable().locator(`tbody tr[data-model="${id}"]`);
  }

  /** The dropped models' rows as displayed. */
  async myModels(): Promise<{ id: string; role: string; status: string; check: string; dtype: string; parameters: string; size: string; statusText: string }[]> {
    return this.myModelsTable()
      .locator('tbody tr')
      .evaluateAll((rows) =>
        rows.map((tr) => {
          const el = tr as HTMLElement;
          const cells = [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim());
          return {
            id: el.dataset['model'] ?? '',
            role: (tr.querySelector('select') as HTMLSelectElement | null)?.value ?? '',
            status: el.dataset['status'] ?? '',
            check: el.dataset['check'] ?? '',
            dtype: cells[2] ?? '',
            parameters: cells[3] ?? '',
            size: cells[4] ?? '',
            statusText: cells[5] ?? '',
          };
        }),
      );
  }

  /** Waits until no dropped model is still being read. */
  async waitForMyModels(count: number): Promise<void> {
    await this.page.waitForFunction((n) => {
      const rows = [...document.querySelectorAll('table[aria-label="My checkpoints"] tbody tr')];
      return rows.length === n && rows.every((r) => (r as HTMLElement).dataset['status'] !== 'loading');
    }, count);
  }

  roleSelect(id: string): Locator {
    return this.page.getByRole('combobox', { name: `Role of ${id}`, exact: true });
  }

  /** The recipe YAML the Merge panel shows. */
  async recipeYaml(): Promise<string> {
    // The engine writes the text, a few milliseconds after a change: wait for the current recipe's.
    // The worker may be busy (loading the demo, a chart): as long as an answer takes, not poll's default second.
    return waitInPage<string>(this.page, recipeShown, null, 'The Merge panel showed no current recipe YAML', 30_000);
  }

  /** A chart's figure (data-chart = its id: accuracy, sweep, sign-conflicts, task-cosines, svd-spectrum). */
  chart(id: string): Locator {
    return this.page.locator(`figure[data-chart="${id}"]`);
  }

  /** Waits until chart `id` has drawn the answer to a request newer than `afterSeq`, and is not updating. */
  async waitForChart(id: string, afterSeq = 0, timeout = 30_000): Promise<number> {
    return waitInPage<number>(this.page, chartShown, { id, afterSeq }, `Chart "${id}" drew no answer newer than request ${afterSeq}`, timeout);
  }

  /** Downloads a chart's export ('PNG' | 'SVG' | 'CSV'). */
  async exportChart(id: string, kind: 'PNG' | 'SVG' | 'CSV'): Promise<{ suggested: string; bytes: Buffer }> {
    const title = await this.chart(id).getAttribute('aria-label');
    const name = kind === 'CSV' ? `Export ${title} data as CSV` : `Export ${title} as ${kind}`;
    fs.mkdirSync(this.resultsDir, { recursive: true });
    return this.download(this.chart(id).getByRole('button', { name, exact: true }), path.join(this.resultsDir, `${id}.${kind.toLowerCase()}`));
  }

  /** Saves a screenshot of the visible window (what a newcomer sees first) to test-results/<name>.png. */
  async viewportScreenshot(name: string): Promise<string> {
    fs.mkdirSync(this.resultsDir, { recursive: true });
    const file = path.join(this.resultsDir, `${name}.png`);
    await this.page.screenshot({ path: file, timeout: SCREENSHOT_TIMEOUT_MS });
    return file;
  }

  /** Saves a full-page screenshot to test-results/<name>.png and returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(this.resultsDir, { recursive: true });
    const file = path.join(this.resultsDir, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true, timeout: SCREENSHOT_TIMEOUT_MS });
    return file;
  }
}

/** The routed score (Twin-Merging, Channel Merging) as shown: its request number and the headline's numbers. */
export interface RoutedScoreView {
  readonly state: string | null;
  readonly seq: number;
  readonly normalized: number;
  readonly routing: string | null;
  readonly storage: number;
}

export async function routedScore(lab: LabPage): Promise<RoutedScoreView> {
  return lab.page.evaluate(routedShown, { arg: 0, last: true }).then((s) => {
    if (typeof s !== 'object') throw new Error(`No routed score to read: ${String(s)}`);
    return s;
  });
}

/** Waits for a routed score newer than `afterSeq` that no newer request is pending behind, and returns it. */
export async function waitForRouted(lab: LabPage, afterSeq = 0, timeout = 60_000): Promise<RoutedScoreView> {
  return waitInPage<RoutedScoreView>(lab.page, routedShown, afterSeq, `The routed score showed no answer newer than request ${afterSeq}`, timeout);
}

/**
 * Waits in the page until `shows({ arg, last: false })` returns something truthy, and returns that
 * (Playwright runs it every 100 ms, in the page). Polling over the protocol instead (expect.poll:
 * each call a round trip, every 50 ms) cost ~0.13 CPU-s per second waited here, in Node, Chromium's
 * browser process and the page, and the lab waits seconds for the engine's answers. On a timeout the
 * error says `what`, and what the page showed last: `shows({ arg, last: true })`, which describes the
 * state whatever it is. `shows` runs in the page, so it must be self-contained.
 */
export async function waitInPage<R>(page: Page, shows: (p: { arg: never; last: boolean }) => unknown, arg: unknown, what: string, timeout: number): Promise<R> {
  const run = shows as (p: { arg: unknown; last: boolean }) => unknown;
  try {
    const handle = await page.waitForFunction(run, { arg, last: false }, { polling: 100, timeout });
    const value = (await handle.jsonValue()) as R;
    await handle.dispose();
    return value;
  } catch (e) {
    const last = await page.evaluate(run, { arg, last: true }).catch(() => '(the page did not answer)');
    throw new Error(`${what} within ${timeout} ms; the page showed: ${JSON.stringify(last)}`, { cause: e });
  }
}

// The page-side checks for waitInPage (each runs in the page: self-contained).

/** Chart `arg.id`'s request number once it drew an answer newer than `arg.afterSeq` and is not updating. */
function chartShown(p: { arg: { id: string; afterSeq: number }; last: boolean }): number | false | string {
  const f = document.querySelector(`figure[data-chart="${p.arg.id}"]`);
  const state = f?.getAttribute('data-chart-state');
  const seq = Number(f?.getAttribute('data-seq') ?? 0);
  if (p.last) return f ? `data-chart-state ${state}, data-seq ${seq}: ${(f.textContent ?? '').replace(/\s+/g, ' ').slice(0, 300)}` : 'no such chart';
  return state === 'ready' && seq > p.arg.afterSeq ? seq : false;
}

/** The current recipe's YAML once the engine wrote it (not pending). */
function recipeShown(p: { last: boolean }): string | false {
  const pre = document.querySelector('section[aria-labelledby="merge-heading"] pre[aria-label="Recipe YAML"]');
  const text = pre?.textContent ?? '';
  if (p.last) return pre ? `aria-busy ${pre.getAttribute('aria-busy')}: "${text.slice(0, 300)}"` : 'no Recipe YAML in the Merge panel';
  return pre?.getAttribute('aria-busy') !== 'true' && text !== '' ? text : false;
}

/** The routed score once it answers a request newer than `arg` with no newer one pending (with `last`: whatever it shows). */
function routedShown(p: { arg: number; last: boolean }): { state: string | null; seq: number; normalized: number; routing: string | null; storage: number } | false | string {
  const g = document.querySelector('[role="group"][aria-label="Routed score"]');
  const strong = g?.querySelector('[data-normalized]');
  const storage = g?.querySelector('[data-storage-ratio]');
  if (!g || !strong || !storage) return p.last ? `no routed score shown${g ? `: ${(g.textContent ?? '').replace(/\s+/g, ' ').slice(0, 300)}` : ''}` : false;
  const s = {
    state: g.getAttribute('data-live-state'),
    seq: Number(g.getAttribute('data-seq')),
    normalized: Number(strong.getAttribute('data-normalized')),
    routing: strong.getAttribute('data-routing'),
    storage: Number(storage.getAttribute('data-storage-ratio')),
  };
  return p.last || (s.state === 'ready' && s.seq > p.arg) ? s : false;
}
