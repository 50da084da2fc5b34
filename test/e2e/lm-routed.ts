/**
 * What the routed methods' e2e tests on the LM demo share (lm-twin.test.ts, lm-channel.test.ts): the
 * demo's models opened in a Node engine under the page's ids, waiting for the card's full answer
 * and the routing chart for the current settings, and comparing the page's numbers with the
 * engine's answer for the same request.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { EngineApi } from '../../src/engine/api/engine-api.js';
import type { LmLabTwinAnswer } from '../../src/engine/api/lm-lab-twin-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { lmEvalTasks } from '../../src/engine/demo/lm-eval-set.js';
import { parseLmManifest, type LmDemoManifest } from '../../src/engine/demo/lm-manifest.js';
import type { LabPage } from './lab-page.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');

/**
 * A Node engine (wasm) with the LM demo's base as "lm-base" and each expert under its domain id, as
 * the page opens them. A fresh one for each answer: the page's answer after a move comes from its
 * kept router and groups, and an answer built from scratch is what catches a cache kept wrongly.
 */
export async function lmDemoEngine(): Promise<{ engine: EngineApi; manifest: LmDemoManifest }> {
  await initNodeBackend('wasm');
  const manifest = parseLmManifest(await readFile(path.join(DEMO, 'manifest.json'), 'utf8'));
  const engine = createEngine();
  const config = new Blob([await readFile(path.join(DEMO, manifest.config))]);
  for (const [id, f] of [['lm-base', manifest.base], ...manifest.domains.map((d) => [d.id, d.expert])] as [string, string][]) {
    await engine.models.openModel(id, [
      { path: 'config.json', blob: config },
      { path: f, blob: new Blob([await readFile(path.join(DEMO, f))]) },
    ]);
  }
  return { engine, manifest };
}

/**
 * What every routed request the page sends on the LM demo holds beside its method's own settings:
 * the base and the experts under the page's ids, the validation windows scored whole, the small
 * router (seed 0) trained on each domain's validation text.
 */
export function routedRequest(manifest: LmDemoManifest) {
  const ids = manifest.domains.map((d) => d.id);
  return {
    ids,
    request: { base: 'lm-base', experts: ids, tasks: lmEvalTasks(manifest, 'validation'), mode: 'full' as const, context: manifest.context, probeTokens: 64 },
    router: { architecture: 'small' as const, seed: 0 },
    training: manifest.domains.map((d) => ({ expert: d.id, text: d.texts.validation })),
  };
}

/** Waits until the card shows the full answer for settings matching `settings` and the routing chart is fresh. */
export async function waitForRouted(lab: LabPage, settings: RegExp): Promise<void> {
  const answer = lab.chart('lm-eval').locator('[data-lm-answer]');
  await expect
    .poll(async () => ((await answer.count()) === 1 ? `${await answer.getAttribute('data-mode')} ${await answer.getAttribute('data-fresh')} ${(await answer.textContent()) ?? ''}` : ''), { timeout: 180_000 })
    .toMatch(new RegExp(`^full true .*${settings.source}`));
  await expect.poll(async () => lab.chart('lm-routing').locator('[data-routing-summary]').getAttribute('data-fresh').catch(() => null), { timeout: 30_000 }).toBe('true');
}

/** The card's merged rows and the routing chart's weights and mean largest weight, as drawn. */
export async function pageNumbers(lab: LabPage) {
  const rows = await lab
    .chart('lm-eval')
    .locator('table[aria-label="Language-model scores per task"] tbody tr[data-model="merged"]')
    .evaluateAll((trs) => trs.map((tr) => ({ task: (tr as HTMLElement).dataset['task']!, loss: Number((tr as HTMLElement).dataset['loss']), gain: (tr as HTMLElement).dataset['gain'] })));
  const weights = await lab
    .chart('lm-routing')
    .locator('tr[data-window]')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td[data-weight]')].map((td) => Number((td as HTMLElement).dataset['weight']))));
  const largest = Number(await lab.chart('lm-routing').locator('[data-mean-largest]').getAttribute('data-mean-largest'));
  return { rows, weights, largest };
}

/** The page's numbers against the engine's answer: each row's loss (1e-4 relative) and gain, each mixed window's weights, their mean largest weight. */
export function expectSame(shown: Awaited<ReturnType<typeof pageNumbers>>, want: LmLabTwinAnswer): void {
  expect(shown.rows.map((r) => r.task)).toEqual(want.tasks.map((t) => t.name));
  for (const [i, t] of want.tasks.entries()) {
    expect(Math.abs(shown.rows[i]!.loss - t.merged.loss) / t.merged.loss, t.name).toBeLessThan(1e-4);
    if (t.gain === null) expect(shown.rows[i]!.gain, t.name).toBe('');
    else expect(Number(shown.rows[i]!.gain), t.name).toBeCloseTo(t.gain, 3);
  }
  const mixed = want.tasks.flatMap((t, i) => (t.expert === undefined ? want.routing!.tasks[i]!.weights : []));
  expect(shown.weights).toHaveLength(mixed.length);
  shown.weights.forEach((row, w) => row.forEach((x, e) => expect(x, `mixed window ${w}, expert ${e}`).toBeCloseTo(mixed[w]![e]!, 3)));
  expect(shown.largest).toBeCloseTo(mixed.reduce((n, w) => n + Math.max(...w), 0) / mixed.length, 3);
}

export interface RoutedMove {
  /** The lab's link (after #). */
  readonly hash: string;
  /** The routed method's controls in the Merge panel. */
  readonly controls: string;
  /** The card's settings text for a value of the moved control. */
  readonly settings: (value: number) => RegExp;
  /** lmLab.evaluate in Node for a value of the moved control. */
  readonly answer: (value: number) => Promise<LmLabTwinAnswer>;
  readonly first: number;
  /** The control moved, and where to. */
  readonly control: string;
  readonly moved: number;
  /** Charts saved after the first answer: [chart id, file name under test-results]. */
  readonly screenshots: readonly (readonly [string, string])[];
}

/** Opens the link on wasm, checks the card and the routing chart against the engine, moves the control and checks again. */
export async function checkRoutedMove(lab: LabPage, o: RoutedMove): Promise<void> {
  const first = o.answer(o.first);
  await lab.open(o.hash, { backend: 'wasm' });
  await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 60_000 });
  await waitForRouted(lab, o.settings(o.first));
  expect(await lab.mergePanel().locator(o.controls).count()).toBe(1);
  expect(await lab.mergePanel().getByText('not available on the language-model demo').count()).toBe(0);
  expectSame(await pageNumbers(lab), await first);
  for (const [chart, file] of o.screenshots) await lab.chart(chart).screenshot({ path: path.join(lab.resultsDir, file) });
  const moved = o.answer(o.moved);
  await lab.mergePanel().locator(o.control).fill(String(o.moved));
  await waitForRouted(lab, o.settings(o.moved));
  expectSame(await pageNumbers(lab), await moved);
}
