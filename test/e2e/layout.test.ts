/**
 * The lab's layout as a newcomer, a lecturer on a projector and someone on a narrow window see it,
 * measured in Chromium: at 1440×900 the controls, the main charts and the drop zone are on the
 * first screen; at 800 px nothing scrolls sideways and no chart text is cut; in presentation mode
 * at 1280×720 the lesson's chart spans most of the screen with its slider beside it, and chart
 * titles are never smaller than the help text; no chart text is cut there on the opening view
 * (a density sweep) nor on Twin-Merging's and Channel Merging's charts, whose captions name the
 * split they scored.
 */
import { expect } from 'vitest';
import { describeE2E, test } from './harness.js';
import type { LabPage } from './lab-page.js';
import { cardsTallerThanContent, chartFills, clippedChartText, inViewport, overflowing, overlappingChartText, shortPlots, sidewaysScroll, titleAndHelpSizes, untitledAxes } from './measure.js';

const ENGINE = { backend: 'wasm' } as const;

/** Waits until every chart on the page has drawn (the demo's five on the main view). */
async function allCharts(lab: LabPage, ids: readonly string[]): Promise<void> {
  await lab.waitForEngine('wasm');
  for (const id of ids) await lab.waitForChart(id);
  // Let the charts' resize observers settle on their final width.
  await lab.page.waitForTimeout(300);
}

describeE2E('layout', () => {
  test('at 1440×900 the Merge panel, the main charts and the drop zone are on the first screen', async ({ lab }) => {
    await lab.page.setViewportSize({ width: 1440, height: 900 });
    await lab.open('', ENGINE);
    await allCharts(lab, ['accuracy', 'sweep']);
    expect(await inViewport(lab.page.getByRole('heading', { name: 'Merge', exact: true })), 'Merge heading').toBe(true);
    expect(await inViewport(lab.page.getByRole('combobox', { name: 'Merge method' })), 'method select').toBe(true);
    expect(await inViewport(lab.densitySlider()), 'density slider').toBe(true);
    expect(await inViewport(lab.lambdaSlider()), 'λ slider').toBe(true);
    for (const id of ['accuracy', 'sweep']) expect(await inViewport(lab.chart(id).locator('.recharts-wrapper > svg.recharts-surface').first()), `${id} drawn on the first screen`).toBe(true);
    expect(await inViewport(lab.dropZone()), 'drop zone').toBe(true);
    expect(await sidewaysScroll(lab.page)).toBeLessThanOrEqual(0);
    // Every method's first slider is on the first screen too: the explanation (the routed methods' formula, paper and choices) comes after the controls.
    const method = lab.page.getByRole('combobox', { name: 'Merge method' });
    for (const m of ['della', 'twin_merging', 'channel_merging']) {
      await method.selectOption(m);
      expect(await inViewport(lab.mergePanel().getByRole('slider').first()), `${m}: its first slider`).toBe(true);
    }
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 90_000);

  test('at 800 px wide nothing scrolls sideways, every chart fills its card and no chart text is cut or drawn over other text', async ({ lab }) => {
    await lab.page.setViewportSize({ width: 800, height: 900 });
    await lab.open('', ENGINE);
    const ids = ['accuracy', 'sweep', 'sign-conflicts', 'task-cosines', 'svd-spectrum'];
    await allCharts(lab, ids);
    expect(await sidewaysScroll(lab.page), 'document wider than the window').toBeLessThanOrEqual(0);
    const fills = await chartFills(lab.page);
    expect(fills.map((f) => f.id).sort()).toEqual([...ids].sort());
    for (const f of fills) {
      expect(f.union, `${f.id} fills its card`).toBeGreaterThanOrEqual(0.85);
      for (const e of f.each) expect(e.ratio, `${f.id}/${e.what} fills its box`).toBeGreaterThanOrEqual(0.85);
    }
    expect(await clippedChartText(lab.page)).toEqual([]);
    expect(await overlappingChartText(lab.page)).toEqual([]);
    expect(await overflowing(lab.page, 'figure[data-chart]')).toEqual([]);
    expect(await untitledAxes(lab.page)).toEqual([]);
  }, 90_000);

  test('presentation mode at 1280×720: the lesson’s chart spans ≥ 60 % of the width with its slider on the same screen', async ({ lab }) => {
    await lab.page.setViewportSize({ width: 1280, height: 720 });
    await lab.open('preset=ta-vs-ties&present=1', ENGINE);
    await allCharts(lab, ['sweep', 'accuracy', 'sign-conflicts']);
    const main = lab.page.locator('[data-main] figure[data-chart]');
    expect(await main.getAttribute('data-chart'), 'the lesson is about the λ sweep').toBe('sweep');
    const drawing = main.locator('.recharts-wrapper > svg.recharts-surface').first();
    const box = (await drawing.boundingBox())!;
    expect(box.width / 1280, 'main chart width / viewport width').toBeGreaterThanOrEqual(0.6);
    expect(await inViewport(drawing), 'the whole main chart is on screen').toBe(true);
    expect(await inViewport(lab.lambdaSlider()), 'the λ slider is on the same screen').toBe(true);
    // And the score the lesson talks about (the controls' descriptions and the budget are left out in a room).
    expect(await inViewport(lab.mergePanel().locator('.live [data-normalized]')), 'the live score is on the same screen').toBe(true);
    // Chart titles scale with the type: never smaller than the help text.
    const sizes = await titleAndHelpSizes(lab.page);
    expect(sizes.smallestTitle).toBeGreaterThanOrEqual(sizes.largestHelp);
    // Bigger type, nothing cut and every chart still fills its card.
    expect(await clippedChartText(lab.page)).toEqual([]);
    expect(await overflowing(lab.page, 'figure[data-chart]')).toEqual([]);
    for (const f of await chartFills(lab.page)) expect(f.union, `${f.id} fills its card`).toBeGreaterThanOrEqual(0.85);
    expect(await sidewaysScroll(lab.page)).toBeLessThanOrEqual(0);

    // Following the lesson (TIES, then λ 1) keeps its chart first, and the slider and chart together.
    await lab.page.getByRole('combobox', { name: 'Merge method' }).selectOption('ties');
    await lab.lambdaSlider().fill('1');
    await lab.waitForChart('sweep');
    expect(await lab.page.locator('[data-main] figure[data-chart]').getAttribute('data-chart')).toBe('sweep');
    expect(await inViewport(lab.lambdaSlider())).toBe(true);
    expect(await inViewport(lab.page.locator('[data-main] .recharts-wrapper > svg.recharts-surface').first())).toBe(true);

    // The header's toggle leaves presentation mode and comes back, as the link's present=1 does.
    await lab.page.getByRole('button', { name: 'Leave presentation mode' }).click();
    expect(await lab.page.locator('.shell.present').count()).toBe(0);
    await expect.poll(() => new URL(lab.page.url()).hash).not.toMatch(/present=1/);
    await lab.page.getByRole('button', { name: 'Presentation mode' }).click();
    expect(await lab.page.locator('.shell.present').count()).toBe(1);
    expect(await lab.page.getByRole('button', { name: 'Leave presentation mode' }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => new URL(lab.page.url()).hash).toMatch(/present=1/);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 90_000);

  test('presentation mode at 1280×720: no chart text is cut or drawn over other text, no plot squeezed, no card scrolls sideways, on the opening view, the LM demo and the routed methods’ charts, whose ticks stay round and captions name the split scored', async ({ lab }) => {
    await lab.page.setViewportSize({ width: 1280, height: 720 });
    const TWIN = 'method=twin_merging&present=1&conflicts_hide=1&cosines_hide=1&spectrum_hide=1';
    const LM = 'demo=lm&present=1&layers_hide=1';
    const views: [string, string[]][] = [
      // Every digits chart: the tensors' names under the conflicts' and cosines' bars, the spectrum's log ticks and rank marks.
      ['present=1', ['accuracy', 'sweep', 'sign-conflicts', 'task-cosines', 'svd-spectrum']],
      // The LM demo's card and sweep (a legend of six domains over the plot) and its layer-named selects.
      [LM, ['lm-eval', 'lm-sweep', 'sign-conflicts', 'task-cosines', 'svd-spectrum']],
      [TWIN, ['twin-rank', 'routing']],
      ['method=twin_merging&twin.hard=1&present=1&cosines_hide=1&spectrum_hide=1', ['twin-rank', 'routing', 'sign-conflicts']],
      // Last: the checks after the loop read its charts.
      ['method=channel_merging&present=1&conflicts_hide=1&cosines_hide=1', ['channel-k']],
    ];
    // Tick labels round (no "100.05882352941177%"), the score's axis up to 100%.
    const ticks = (id: string) => lab.chart(id).locator('.recharts-cartesian-axis-tick-value').allTextContents();
    for (const [hash, ids] of views) {
      await lab.open(hash, ENGINE);
      if (hash === LM) {
        // The LM demo is loaded on choosing it, without the digits demo the engine's wait is for.
        await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 60_000 });
        for (const id of ids) await lab.waitForChart(id, 0, 90_000);
        await lab.page.waitForTimeout(300);
      } else await allCharts(lab, ids);
      expect(await clippedChartText(lab.page), hash).toEqual([]);
      // Category names, axis titles and marks each readable: none drawn over another.
      expect(await overlappingChartText(lab.page), hash).toEqual([]);
      // Bigger type in the same cards: every plot keeps room for its data.
      // (Not yet the digits sweep's nor Twin-Merging's rank chart: theirs is the lead's change, with plot-box.ts.)
      expect(await shortPlots(lab.page, 130), hash).toEqual([]);
      // Nothing wider than its card (the hard task's table, a select of long tensor names), no card stretched far beyond its chart by a taller neighbour.
      expect(await overflowing(lab.page, 'figure[data-chart]'), hash).toEqual([]);
      // Nor in the Merge panel beside them (the live score's table, the selects, an error's code); the recipe's YAML scrolls in its own box.
      expect((await overflowing(lab.page, '.sidebar')).filter((x) => !x.startsWith('pre.')), hash).toEqual([]);
      expect(await cardsTallerThanContent(lab.page), hash).toEqual([]);
      expect(await sidewaysScroll(lab.page)).toBeLessThanOrEqual(0);
      if (hash === views[0]![0]) {
        // The singular values' log axis: powers of ten in one notation, none with trailing zeros ("0.0090", "0.00050" beside "9.0e-5").
        const sigma = await lab.chart('svd-spectrum').locator('.recharts-yAxis-tick-labels').first().locator('.recharts-cartesian-axis-tick-value').allTextContents();
        expect(sigma.length, sigma.join(' ')).toBeGreaterThanOrEqual(3);
        expect(sigma.filter((x) => !/^(1|10|0\.0*1|10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.test(x)), sigma.join(' ')).toEqual([]);
        expect(new Set(sigma.map((x) => x.startsWith('10') && x !== '10')).size, sigma.join(' ')).toBe(1);
      }
      if (hash === TWIN || hash.startsWith('method=channel_merging')) {
        // The slider their lessons move (rank, K) and the score it moves, on one screen.
        expect(await inViewport(lab.page.locator(hash === TWIN ? '#twin-rank' : '#channel-k')), `${hash}: its slider`).toBe(true);
        expect(await inViewport(lab.mergePanel().locator('[aria-label="Routed score"] [data-normalized]')), `${hash}: its score`).toBe(true);
      }
      if (hash === TWIN) {
        // Twin-Merging's captions name the split they score, on this view rather than a page of their own.
        expect(await lab.chart('twin-rank').locator('figcaption').innerText()).toMatch(/on the demo's validation split/);
        expect(await lab.chart('routing').locator('figcaption').innerText()).toMatch(/each task's validation inputs/);
        expect((await ticks('twin-rank')).filter((x) => /\.\d{3}/.test(x))).toEqual([]);
        expect(await ticks('twin-rank')).toContain('100%');
        expect((await ticks('routing')).filter((x) => /\.\d{3}/.test(x))).toEqual([]);
      }
    }
    // The routed views score the validation split unless the test split is asked for, as the routed score says.
    expect((await ticks('channel-k')).filter((x) => /\.\d{3}/.test(x))).toEqual([]);
    expect(await ticks('channel-k')).toContain('100%');
    expect(await lab.page.getByRole('group', { name: 'Routed score' }).locator('[data-split]').getAttribute('data-split')).toBe('validation');
    expect(await lab.chart('channel-k').innerText()).toMatch(/on the demo's validation split with the router/);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 300_000);
});
