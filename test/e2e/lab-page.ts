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

  /** Opens the lab (optionally with a URL hash, without the '#'). */
  async open(hash = ''): Promise<void> {
    await this.page.goto(`${this.baseURL}/${hash ? `#${hash}` : ''}`);
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

  /** Saves a full-page screenshot to test-results/<name>.png and returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(this.resultsDir, { recursive: true });
    const file = path.join(this.resultsDir, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }
}
