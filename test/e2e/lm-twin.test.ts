/**
 * Twin-Merging on the language-model demo in Chromium (wasm): a #demo=lm link with Twin-Merging at
 * rank 16 draws the language-model card and the routing chart, and every number of both — each
 * domain's and the mixed windows' loss and gain of the routed merge, and each mixed window's routing
 * weights — equals lmLab.evaluate in Node with the same request (the shared expert's recipe, the
 * rank, the small router trained on the domains' validation texts). A rank move asks again and the
 * chart follows. The routing chart and the card are saved as test-results/lm-routing.png and lm-twin-eval.png.
 */
import path from 'node:path';
import { expect } from 'vitest';
import type { LmLabTwinAnswer, LmLabTwinRequest } from '../../src/engine/api/lm-lab-twin-api.js';
import { lmEvalTasks } from '../../src/engine/demo/lm-eval-set.js';
import { describeE2E, test } from './harness.js';
import type { LabPage } from './lab-page.js';
import { expectSame, lmDemoEngine, pageNumbers, waitForRouted } from './lm-routed.js';

/** lmLab.evaluate in Node with the request the page sends for these twin settings. */
async function nodeAnswer(rank: number): Promise<LmLabTwinAnswer> {
  const { engine, manifest } = await lmDemoEngine();
  const ids = manifest.domains.map((d) => d.id);
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

const waitForTwin = (lab: LabPage, rank: number) => waitForRouted(lab, new RegExp(`rank ${rank},`));

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
