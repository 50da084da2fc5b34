/**
 * What the charts show is the answer to the current recipe or nothing (issue 16, "honest state"),
 * in a real Chromium: switching the demo to a method it cannot merge (SLERP over five experts)
 * leaves no chart drawn from the previous method's answer; the cause is said once, above the
 * charts, naming the charts it stops; switching back draws them again, each caption naming the
 * method and settings it answers. With one's own checkpoints the Merge panel scores none of the
 * demo's tasks; back on the demo, its score answers the settings chosen meanwhile. A merge's result,
 * failure or files are shown only while the recipe and models are the ones it merged.
 */
import { expect } from 'vitest';
import { writeSafetensorsToMemory } from '../../src/engine/io/safetensors-writer.js';
import { describeE2E, test } from './harness.js';
import { waitInPage } from './lab-page.js';

const ENGINE = { backend: 'wasm' } as const;
const CHARTS = ['accuracy', 'sweep', 'sign-conflicts', 'task-cosines', 'svd-spectrum'];

describeE2E('honest state', () => {
  test('settings the demo cannot merge leave no earlier answer on screen, and say why once', async ({ lab }) => {
    await lab.open('', ENGINE);
    await lab.waitForEngine('wasm');
    for (const id of CHARTS) await lab.waitForChart(id);
    const accuracy = lab.chart('accuracy');
    expect(await accuracy.locator('[data-answer-for]').getAttribute('data-answer-for')).toBe('ties');
    // Every setting of the recipe it scored, as the live score says it.
    expect(await accuracy.locator('figcaption').innerText()).toMatch(/for TIES: lambda [\d.]+, .*density [\d.]+ \(every model\)/);
    const live = await lab.mergePanel().getByRole('group', { name: 'Live score' }).locator('[data-settings]').getAttribute('data-settings');
    expect(await accuracy.locator('[data-answer-for]').innerText()).toBe(`TIES: ${live}`);

    const method = lab.page.getByRole('combobox', { name: 'Merge method' });
    // DELLA at density 0.05: density − ε (0.15) < 0, which it refuses (SLERP, once the example, now merges the two models picked).
    await method.selectOption('della');
    await lab.densitySlider().fill('0.05');
    const charts = lab.page.locator('.charts-panel');
    // Every chart that answered TIES is replaced by a note; none keeps bars or a score.
    await charts.locator('.not-drawn').nth(2).waitFor({ state: 'attached', timeout: 30_000 });
    for (const id of ['accuracy', 'sign-conflicts', 'task-cosines']) {
      const chart = lab.chart(id);
      expect(await chart.getAttribute('data-chart-state'), id).toBe('error');
      expect(await chart.locator('svg.recharts-surface').count(), `${id} draws nothing`).toBe(0);
      expect(await chart.locator('[data-normalized]').count(), `${id} shows no score`).toBe(0);
    }
    // One message per cause, above the charts, naming what it stops.
    const alerts = charts.getByRole('alert');
    const texts = await alerts.allInnerTexts();
    const codes = texts.map((t) => t.split(/\s/)[0]);
    expect(new Set(codes).size, texts.join('\n')).toBe(codes.length);
    expect(texts.join('\n')).toMatch(/not drawn: .*Accuracy per task/);
    // The cause is the same for every expert (the global density): said once, naming the others.
    expect(texts.join('\n').match(/DELLA needs density/g), texts.join('\n')).toHaveLength(1);
    expect(texts.join('\n')).toMatch(/The same holds for every other tensor \(4 in all\), and for models "permute", "shift-left", "shift-right" and "occlude-top"\./);
    // The live score points at it rather than saying it again, and is not also "computing".
    const liveScore = lab.mergePanel().getByRole('group', { name: 'Live score' });
    await lab.mergePanel().locator('[data-live-state="error"]').waitFor({ state: 'attached' });
    expect(await liveScore.innerText()).toMatch(/Not scored: PARAMETER_OUT_OF_RANGE, see the message above the charts\./);
    expect((await lab.page.locator('body').innerText()).match(/DELLA needs density/g), 'the cause said once on the page').toHaveLength(1);
    expect(await liveScore.innerText()).not.toMatch(/Computing the first score/);
    expect(lab.diagnostics.consoleErrors).toEqual([]);

    await method.selectOption('ties');
    await lab.densitySlider().fill('0.3');
    for (const id of ['accuracy', 'sign-conflicts']) await lab.waitForChart(id);
    await waitInPage(lab.page, (p: { last: boolean }) => {
      const n = document.querySelectorAll('.charts-panel [role="alert"]').length;
      return p.last ? `${n} alerts: ${[...document.querySelectorAll('.charts-panel [role="alert"]')].map((a) => a.textContent).join(' | ')}` : n === 0;
    }, null, 'The charts still showed an alert', 30_000);
    expect(await charts.getByRole('alert').count()).toBe(0);
    expect(await accuracy.locator('.recharts-bar-rectangle').count()).toBe(10);
    expect(await accuracy.locator('[data-answer-for]').getAttribute('data-answer-for')).toBe('ties');

    // SLERP merges two models, one as base_model: one task vector, so the charts that compare task
    // vectors say there is nothing to compare instead of drawing empty bars and "0.0% conflicting".
    const seq = Number(await lab.chart('sign-conflicts').getAttribute('data-seq'));
    await method.selectOption('slerp');
    await lab.waitForChart('sign-conflicts', seq);
    for (const id of ['sign-conflicts', 'task-cosines']) {
      const chart = lab.chart(id);
      expect(await chart.locator('.drawing').innerText(), id).toMatch(/^Nothing to compare: this method's recipe leaves one task vector/);
      expect(await chart.locator('svg.recharts-surface, .heatmap').count(), `${id} draws nothing`).toBe(0);
    }
    expect(await lab.chart('sign-conflicts').locator('[data-overall-conflict]').count()).toBe(0);
  }, 120_000);

  test("DELLA's density sweep covers the densities it accepts instead of failing at its defaults", async ({ lab }) => {
    // The spectrum is the same for every method (task arithmetic's task vectors): left out, it is not computed.
    await lab.open('spectrum_hide=1', ENGINE);
    await lab.waitForEngine('wasm');
    await lab.waitForChart('sweep');
    await lab.page.getByRole('combobox', { name: 'Merge method' }).selectOption('della');
    const sweep = lab.chart('sweep');
    await lab.page.locator('figure[data-chart="sweep"][data-chart-state="ready"]').waitFor({ state: 'attached', timeout: 60_000 });
    await waitInPage(lab.page, (p: { last: boolean }) => {
      const caption = (document.querySelector('figure[data-chart="sweep"] figcaption') as HTMLElement | null)?.innerText ?? '';
      return p.last ? caption : /of della on the demo/.test(caption);
    }, null, "The sweep's caption did not name DELLA on the demo", 60_000);
    expect(await sweep.getAttribute('data-chart-state')).toBe('ready');
    expect(await sweep.locator('figcaption').innerText()).toMatch(/of della on the demo/);
    // density ± ε (0.15) inside (0, 1): 0.2 … 0.8, and 1 (no trim).
    const csv = (await lab.exportChart('sweep', 'CSV')).bytes.toString('utf8').trim().split('\n');
    expect(csv.slice(1).map((row) => Number(row.split(',')[0]))).toEqual([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1]);
    expect(await lab.page.locator('.charts-panel').getByRole('alert').count()).toBe(0);
  }, 120_000);

  test("with one's own checkpoints the Merge panel shows no score of the demo's tasks; back on the demo, the score is for the method chosen meanwhile", async ({ lab }) => {
    await lab.open('', { ...ENGINE, charts: false });
    await lab.waitForEngine('wasm');
    await lab.waitForLiveScore();
    // Every chart left out by the link: the panel says so rather than standing empty.
    expect(await lab.page.locator('.charts-panel [data-no-charts]').innerText()).toMatch(/The link leaves out every chart here/);
    // "My checkpoints" before any is dropped: the charts panel asks for them, and no error speaks of a base no model could be.
    await lab.openTab('Models');
    await lab.page.getByRole('radio', { name: /my checkpoints/i }).check();
    await lab.page.locator('.charts-panel [data-no-models]').waitFor({ state: 'attached' });
    expect(await lab.page.getByRole('alert').count(), (await lab.page.getByRole('alert').allInnerTexts()).join(' | ')).toBe(0);
    const tensor = (seed: number) => ({ name: 'layers.0.weight', dtype: 'F32' as const, shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i + seed)) });
    const files = await Promise.all(['base', 'expert-a', 'expert-b'].map(async (id, k) => ({ name: `${id}.safetensors`, bytes: await writeSafetensorsToMemory([tensor(k)]) })));
    await lab.dropFiles(files);
    await lab.waitForMyModels(3);
    expect(await lab.source()).toBe('mine');
    // Plain weights with no text dropped: why no text is scored is said without an alarm (no config.json is no fault here).
    const models = await lab.openTab('Models');
    await models.locator('[data-lm-model="unsupported"]').waitFor({ state: 'attached', timeout: 10_000 });
    expect(await models.locator('[data-lm-model="unsupported"]').count()).toBe(1);
    expect(await models.getByRole('alert').count()).toBe(0);
    // base.safetensors is listed as base-2 (the demo's base holds "base" in the worker): the row says so, the recipe names the file.
    expect(await lab.myModelRow('base-2').locator('th').innerText()).toMatch(/from base\.safetensors/);
    const panel = lab.mergePanel();
    await lab.page.getByRole('combobox', { name: 'Merge method' }).selectOption('slerp');
    await lab.recipeYaml();
    expect(await panel.getByRole('group', { name: 'Live score' }).count(), 'no live score of the demo').toBe(0);
    expect(await panel.locator('tr[data-task]').count(), "no row of the demo's tasks").toBe(0);
    expect(await panel.getByRole('group', { name: 'Score', exact: true }).innerText()).toMatch(/Your checkpoints/);
    expect(await lab.recipeYaml()).toMatch(/base_model: base\.safetensors/);
    // SLERP takes two of the three: the refusal says how to pick them here (the roles), not only what the recipe lacks.
    expect(await lab.merge()).toBe('failed');
    expect(await lab.job().innerText()).toMatch(/TOO_MANY_MODELS[\s\S]*"excluded"/);

    await lab.page.getByRole('radio', { name: /Digits demo/ }).check();
    await waitInPage(lab.page, (p: { last: boolean }) => {
      const settings = (document.querySelector('section[aria-labelledby="merge-heading"] .live[data-live-state="ready"] [data-settings]') as HTMLElement | null)?.innerText ?? '';
      return p.last ? settings : /^slerp: t 0\.5\b/.test(settings);
    }, null, 'The live score did not answer for SLERP at t 0.5', 30_000);
    expect(await panel.locator('.live[data-live-state="ready"] [data-settings]').innerText()).toMatch(/^slerp: t 0\.5\b/);
    expect(await panel.locator('tr[data-task]').count()).toBe(5);
    // The refused merge was of the checkpoints: on the demo the panel offers Merge and says what that one was.
    expect(await lab.jobState()).toBe('idle');
    expect(await lab.job().locator('[data-job-earlier="slerp"]').innerText()).toMatch(/The last merge \(SLERP, of your checkpoints\) was of other settings and models/);

    // A finished merge goes with its recipe: another method offers Merge again and the current
    // recipe's download (no file of the earlier merge); the same settings again show that merge.
    expect(await lab.merge()).toBe('done');
    expect(await lab.downloadWeightsLink().count()).toBe(1);
    const method = lab.page.getByRole('combobox', { name: 'Merge method' });
    await method.selectOption('ties');
    await lab.waitForJob(['idle']);
    expect(await lab.job().locator('[data-job-earlier="slerp"]').innerText()).toMatch(/The last merge \(SLERP\) was of other settings: Merge again for these, or set them back to download it\./);
    expect(await lab.downloadWeightsLink().count(), "no download of SLERP's merge under TIES").toBe(0);
    await lab.currentRecipeLink().waitFor({ state: 'attached' });
    await method.selectOption('slerp');
    await lab.waitForJob(['done']);
    expect(await lab.downloadWeightsLink().count()).toBe(1);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);
});
