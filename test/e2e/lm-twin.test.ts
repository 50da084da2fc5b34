/**
 * Twin-Merging on the language-model demo in Chromium (wasm): a #demo=lm link with Twin-Merging at
 * rank 16 draws the language-model card and the routing chart, and every number of both — each
 * domain's and the mixed windows' loss and gain of the routed merge, and each mixed window's routing
 * weights — equals lmLab.evaluate in Node with the same request (the shared expert's recipe, the
 * rank, the small router trained on the domains' validation texts). A rank move asks again and the
 * chart follows. The routing chart and the card are saved as test-results/lm-routing.png and lm-twin-eval.png.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { LmLabTwinAnswer, LmLabTwinRequest } from '../../src/engine/api/lm-lab-twin-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { lmEvalTasks } from '../../src/engine/demo/lm-eval-set.js';
import { parseLmManifest } from '../../src/engine/demo/lm-manifest.js';
import { describeE2E, test } from './harness.js';
import type { LabPage } from './lab-page.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');

/** lmLab.evaluate in Node on the LM demo's files, opened under the page's ids, with the request the page sends for these twin settings. */
async function nodeAnswer(rank: number): Promise<LmLabTwinAnswer> {
  await initNodeBackend('wasm');
  const manifest = parseLmManifest(await readFile(path.join(DEMO, 'manifest.json'), 'utf8'));
  const engine = createEngine();
  const config = new Blob([await readFile(path.join(DEMO, manifest.config))]);
  const ids = manifest.domains.map((d) => d.id);
  for (const [id, f] of [['lm-base', manifest.base], ...manifest.domains.map((d) => [d.id, d.expert])] as [string, string][]) {
    await engine.models.openModel(id, [
      { path: 'config.json', blob: config },
      { path: f, blob: new Blob([await readFile(path.join(DEMO, f))]) },
    ]);
  }
  const request: LmLabTwinRequest = {
    recipe: { mergeMethod: 'task_arithmetic', baseModel: 'lm-base', models: ids.map((model) => ({ model, parameters: { weight: 1 } })), parameters: { lambda: 0.3 }, dtype: 'float32' },
    base: 'lm-base',
    experts: ids,
    tasks: lmEvalTasks(manifest, 'validation'),
    mode: 'full',
    context: manifest.context,
    probeTokens: 64,
    twin: { rank, temperature: 1, oracle: false, router: { architecture: 'small', seed: 0 }, training: manifest.domains.map((d) => ({ expert: d.id, text: d.texts.validation })) },
  };
  return (await engine.lmLab.evaluate(request)) as LmLabTwinAnswer;
}

async function waitForTwin(lab: LabPage, rank: number): Promise<void> {
  const answer = lab.chart('lm-eval').locator('[data-lm-answer]');
  await expect
    .poll(async () => ((await answer.count()) === 1 ? `${await answer.getAttribute('data-mode')} ${await answer.getAttribute('data-fresh')} ${(await answer.textContent()) ?? ''}` : ''), { timeout: 180_000 })
    .toMatch(new RegExp(`^full true .*rank ${rank},`));
  await expect.poll(async () => lab.chart('lm-routing').locator('[data-routing-summary]').getAttribute('data-fresh').catch(() => null), { timeout: 30_000 }).toBe('true');
}

async function pageNumbers(lab: LabPage) {
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

function expectSame(shown: Awaited<ReturnType<typeof pageNumbers>>, want: LmLabTwinAnswer): void {
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

describeE2E('Twin-Merging on the language-model demo', () => {
  test('the card and the routing chart show the engine’s numbers for the routed merge, before and after a rank move', async ({ lab }) => {
    const want16 = nodeAnswer(16);
    await lab.open('demo=lm&method=twin_merging&twin.lambda=0.3&twin.rank=16&twin.temperature=1', { backend: 'wasm' });
    await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 60_000 });
    await waitForTwin(lab, 16);
    expect(await lab.mergePanel().locator('[data-lm-twin]').count()).toBe(1);
    expect(await lab.mergePanel().getByText('not available on the language-model demo').count()).toBe(0);
    expectSame(await pageNumbers(lab), await want16);
    await lab.chart('lm-routing').screenshot({ path: path.join(lab.resultsDir, 'lm-routing.png') });
    await lab.chart('lm-eval').screenshot({ path: path.join(lab.resultsDir, 'lm-twin-eval.png') });

    // A rank move: asked again, the chart follows (the router is kept: it reads the shared expert only).
    const want8 = nodeAnswer(8);
    await lab.mergePanel().locator('#twin-rank').fill('8');
    await waitForTwin(lab, 8);
    expectSame(await pageNumbers(lab), await want8);
  }, 400_000);
});
