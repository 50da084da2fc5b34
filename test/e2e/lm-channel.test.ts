/**
 * Channel Merging on the language-model demo in Chromium (wasm): a #demo=lm link with Channel
 * Merging (K 2, TIES inside a group, k-means) draws the language-model card and the routing chart,
 * and every number of both — each domain's and the mixed windows' loss and gain of the looked-up
 * rows, and each mixed window's routing weights — equals lmLab.evaluate in Node with the same
 * request (K, the group method, the small router trained on the domains' validation texts). A K
 * move asks again and the card follows. The routing chart is saved as test-results/lm-channel-routing.png.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { LmLabChannelRequest } from '../../src/engine/api/lm-lab-channel-api.js';
import type { LmLabTwinAnswer } from '../../src/engine/api/lm-lab-twin-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { lmEvalTasks } from '../../src/engine/demo/lm-eval-set.js';
import { parseLmManifest } from '../../src/engine/demo/lm-manifest.js';
import { describeE2E, test } from './harness.js';
import type { LabPage } from './lab-page.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');

/** lmLab.evaluate in Node on the LM demo's files, opened under the page's ids, with the request the page sends for these settings. */
async function nodeAnswer(K: number): Promise<LmLabTwinAnswer> {
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
  const request: LmLabChannelRequest = {
    recipe: { mergeMethod: 'linear', models: ids.map((model) => ({ model, parameters: { weight: 1 } })), dtype: 'float32' },
    base: 'lm-base',
    experts: ids,
    tasks: lmEvalTasks(manifest, 'validation'),
    mode: 'full',
    context: manifest.context,
    probeTokens: 64,
    channel: { K, method: { id: 'ties', params: { density: 0.3, lambda: 1 } }, clustering: 'kmeans', oracle: false, router: { architecture: 'small', seed: 0 }, training: manifest.domains.map((d) => ({ expert: d.id, text: d.texts.validation })) },
  };
  return (await engine.lmLab.evaluate(request)) as LmLabTwinAnswer;
}

async function waitForChannel(lab: LabPage, K: number): Promise<void> {
  const answer = lab.chart('lm-eval').locator('[data-lm-answer]');
  await expect
    .poll(async () => ((await answer.count()) === 1 ? `${await answer.getAttribute('data-mode')} ${await answer.getAttribute('data-fresh')} ${(await answer.textContent()) ?? ''}` : ''), { timeout: 180_000 })
    .toMatch(new RegExp(`^full true .*K ${K},`));
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
  return { rows, weights };
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
}

describeE2E('Channel Merging on the language-model demo', () => {
  test('the card and the routing chart show the engine’s numbers for the looked-up rows, before and after a K move', async ({ lab }) => {
    const want2 = nodeAnswer(2);
    await lab.open('demo=lm&method=channel_merging&channel.K=2&channel.method=ties&channel.density=0.3&channel.lambda=1', { backend: 'wasm' });
    await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 60_000 });
    await waitForChannel(lab, 2);
    expect(await lab.mergePanel().locator('[data-routed="channel_merging"]').count()).toBe(1);
    expect(await lab.mergePanel().getByText('not available on the language-model demo').count()).toBe(0);
    expectSame(await pageNumbers(lab), await want2);
    await lab.chart('lm-routing').screenshot({ path: path.join(lab.resultsDir, 'lm-channel-routing.png') });

    // A K move: asked again (the grouping and the router are kept), the card follows.
    const want4 = nodeAnswer(4);
    await lab.mergePanel().locator('#channel-k').fill('4');
    await waitForChannel(lab, 4);
    expectSame(await pageNumbers(lab), await want4);
  }, 400_000);
});
