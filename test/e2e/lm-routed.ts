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
import type { LmLabChannelRequest } from '../../src/engine/api/lm-lab-channel-api.js';
import type { LmLabTwinAnswer, LmLabTwinRequest } from '../../src/engine/api/lm-lab-twin-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { lmEvalTasks } from '../../src/engine/demo/lm-eval-set.js';
import { parseLmManifest, type LmDemoManifest } from '../../src/engine/demo/lm-manifest.js';
import type { LabPage } from './lab-page.js';
import { waitForFreshRouting, waitForLmAnswer } from './lm-answer.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');

/** Opens one of the demo's checkpoints in `engine` under `id`, config.json beside it, as the page does. */
async function openDemoModel(engine: EngineApi, manifest: LmDemoManifest, id: string, file: string): Promise<void> {
  await engine.models.openModel(id, [
    { path: 'config.json', blob: new Blob([await readFile(path.join(DEMO, manifest.config))]) },
    { path: file, blob: new Blob([await readFile(path.join(DEMO, file))]) },
  ]);
}

/** A Node engine (wasm) with the LM demo's base as "lm-base" and each expert under its domain id, as the page opens them. */
export async function lmDemoEngine(): Promise<{ engine: EngineApi; manifest: LmDemoManifest }> {
  await initNodeBackend('wasm');
  const manifest = parseLmManifest(await readFile(path.join(DEMO, 'manifest.json'), 'utf8'));
  const engine = createEngine();
  for (const [id, f] of [['lm-base', manifest.base], ...manifest.domains.map((d) => [d.id, d.expert])] as [string, string][]) await openDemoModel(engine, manifest, id, f);
  return { engine, manifest };
}

/**
 * lmLab.evaluate in Node for the request `build` makes for a value of the moved control, one
 * answer at a time (the lab is latest-wins), on one engine. Before every answer but the first, the
 * first expert is opened again (the same file, a new checkpoint): all that the lab keeps about the
 * experts — Twin-Merging's decomposition and router, Channel Merging's groups and router — is then
 * built from scratch, as in a fresh engine, so a page's answer after a move, which comes from its
 * kept router and groups, is still checked against one that kept nothing of them. Only the scores
 * of the base and the other experts on the windows are kept (no setting changes them; that the
 * lab keeps them while another model is opened, and scores the reopened one anew, is
 * test/api/lm-lab.test.ts'): a fresh engine per answer scored all of them again, ~2 CPU-s each.
 */
export function nodeAnswers(build: (shared: ReturnType<typeof routedRequest>, value: number) => LmLabTwinRequest | LmLabChannelRequest): (value: number) => Promise<LmLabTwinAnswer> {
  const opened = lmDemoEngine();
  let last: Promise<unknown> = opened;
  let asked = 0;
  return (value) => {
    const again = asked++ > 0;
    const answer = last.then(async () => {
      const { engine, manifest } = await opened;
      const expert = manifest.domains[0]!;
      if (again) await openDemoModel(engine, manifest, expert.id, expert.expert);
      return (await engine.lmLab.evaluate(build(routedRequest(manifest), value))) as LmLabTwinAnswer;
    });
    last = answer.catch(() => undefined);
    return answer;
  };
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
  await waitForLmAnswer(lab, 'full', settings, 180_000);
  await waitForFreshRouting(lab, 30_000);
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
  /** The request the page sends for a value of the moved control, given what every routed request holds. */
  readonly request: (shared: ReturnType<typeof routedRequest>, value: number) => LmLabTwinRequest | LmLabChannelRequest;
  readonly first: number;
  /** The control moved, and where to. */
  readonly control: string;
  readonly moved: number;
  /** Charts saved after the first answer: [chart id, file name under test-results]. */
  readonly screenshots: readonly (readonly [string, string])[];
}

/**
 * The charts a routed test reads none of, left out by the link's `*_hide` flags: drawing them is
 * work, and a hidden per-layer map's effective ranks (one SVD per matrix and expert, ~6 CPU-s of
 * the page's ~19 here) are not computed.
 */
const UNREAD_CHARTS = ['conflicts', 'cosines', 'spectrum', 'layers'].map((c) => `${c}_hide=1`).join('&');

/** Opens the link on wasm, checks the card and the routing chart against the engine, moves the control and checks again. */
export async function checkRoutedMove(lab: LabPage, o: RoutedMove): Promise<void> {
  const answer = nodeAnswers(o.request);
  const first = answer(o.first);
  await lab.open(`${o.hash}&${UNREAD_CHARTS}`, { backend: 'wasm' });
  await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 60_000 });
  await waitForRouted(lab, o.settings(o.first));
  expect(await lab.mergePanel().locator(o.controls).count()).toBe(1);
  expect(await lab.mergePanel().getByText('not available on the language-model demo').count()).toBe(0);
  expectSame(await pageNumbers(lab), await first);
  for (const [chart, file] of o.screenshots) await lab.chart(chart).screenshot({ path: path.join(lab.resultsDir, file) });
  const moved = answer(o.moved);
  await lab.mergePanel().locator(o.control).fill(String(o.moved));
  await waitForRouted(lab, o.settings(o.moved));
  expectSame(await pageNumbers(lab), await moved);
}
