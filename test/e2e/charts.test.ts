/**
 * The charts that follow the sliders, in a real Chromium on the wasm backend: the page opens with
 * the demo and every chart drawn; moving density changes the sign-conflict and accuracy charts
 * (and the time from a slider input to both on screen is measured and logged: over a few moves of
 * each kind, over 20 with MERGE_LAB_BENCH=1, for the numbers README quotes); exports give a
 * real PNG, SVG and CSV; the URL restores the charts' choices and presentation flags; a preset
 * sets its state and story; a screenshot of the main view is saved for review. On one's own
 * transformer checkpoints the mean cosines are drawn per layer, as the sign conflicts are: one
 * bar per tensor, named in full, ran into one another; tiny singular values' ticks fit their axis.
 */
import path from 'node:path';
import { expect } from 'vitest';
import { writeSafetensorsToMemory } from '../../src/engine/io/safetensors-writer.js';
import { describeE2E, test } from './harness.js';
import { chartFills, clippedChartText, untitledAxes } from './measure.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENGINE = { backend: 'wasm' } as const;
const CHARTS = ['accuracy', 'sweep', 'sign-conflicts', 'task-cosines', 'svd-spectrum'];
const log = (msg: string) => console.log(`[e2e] ${msg}`);
/** Slider moves per timed loop: a few prove each kind of move is answered and drawn; MERGE_LAB_BENCH=1 times 20 of each. */
const MOVES = process.env['MERGE_LAB_BENCH'] ? 20 : 4;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describeE2E('charts', () => {
  // This test and the exports' read the page as it opens: the harness's `loaded` page serves both.
  test('the page opens with the demo and every chart drawn; the main view is saved as a screenshot', async ({ loaded: lab }) => {
    await lab.waitForEngine('wasm');
    for (const id of CHARTS) {
      await lab.waitForChart(id);
      expect(await lab.chart(id).locator('svg').count(), `${id} draws an SVG`).toBeGreaterThan(0);
    }
    // Recharts draws bars as paths: five tasks × (merged, expert) bars on the accuracy chart.
    expect(await lab.chart('accuracy').locator('.recharts-bar-rectangle').count()).toBe(10);
    // The cosine heatmap has one cell per pair of the five experts, 1 on the diagonal.
    const cells = lab.chart('task-cosines').locator('g[data-value]');
    expect(await cells.count()).toBe(25);
    expect(Number(await cells.first().getAttribute('data-value'))).toBeCloseTo(1, 6);
    // The spectrum marks a rank on the hidden layer's 64 singular values.
    const caption = await lab.chart('svd-spectrum').locator('figcaption').innerText();
    expect(caption).toMatch(/hidden\.weight \[1024 × 64\]/);
    expect(Number(await lab.chart('svd-spectrum').locator('[data-rank]').getAttribute('data-rank'))).toBeGreaterThanOrEqual(1);
    // Each chart fills its card (they stayed ~340 px wide in cards three times that), every axis is
    // titled, and no label reaches past its drawing's edge.
    await lab.page.waitForTimeout(300);
    const fills = await chartFills(lab.page);
    expect(fills).toHaveLength(CHARTS.length);
    for (const f of fills) {
      expect(f.card, `${f.id}'s card`).toBeGreaterThan(340);
      expect(f.union, `${f.id} fills its card`).toBeGreaterThanOrEqual(0.85);
    }
    expect(await untitledAxes(lab.page)).toEqual([]);
    expect(await clippedChartText(lab.page)).toEqual([]);
    // A chart of several parts titles and explains each where it is drawn.
    for (const [id, parts] of [['task-cosines', ['cosine-matrix', 'cosine-per-tensor']], ['svd-spectrum', ['singular-values', 'subspace-overlap']]] as const) {
      for (const part of parts) {
        const sub = lab.chart(id).locator(`[data-sub-chart="${part}"]`);
        expect((await sub.locator('h4').innerText()).length, `${id}/${part} title`).toBeGreaterThan(5);
        expect((await sub.locator('.help').innerText()).length, `${id}/${part} explanation`).toBeGreaterThan(20);
      }
      expect(await lab.chart(id).locator('figcaption').innerText()).not.toMatch(/\b(Left|Right|Below):/);
    }
    expect(lab.diagnostics.consoleErrors).toEqual([]);
    expect(lab.diagnostics.pageErrors).toEqual([]);
    const shot = await lab.viewportScreenshot('lab-main-view');
    const full = await lab.screenshot('lab-main-view-full');
    log(`main view screenshot: ${path.relative(ROOT, shot)} (full page: ${path.relative(ROOT, full)})`);
  }, 90_000);

  test('moving density changes the sign-conflict and accuracy charts; slider-to-charts is measured', async ({ lab }) => {
    await lab.open('', ENGINE);
    await lab.waitForEngine('wasm');
    const conflicts = lab.chart('sign-conflicts');
    const accuracy = lab.chart('accuracy');
    let cSeq = await lab.waitForChart('sign-conflicts');
    let aSeq = await lab.waitForChart('accuracy');
    // Measured once the page has settled: the spectrum's factorisations and the first sweep run once, at load.
    await lab.waitForChart('svd-spectrum');
    await lab.waitForChart('sweep');
    const read = async () => ({
      conflict: Number(await conflicts.locator('[data-overall-conflict]').getAttribute('data-overall-conflict')),
      dropped: Number(await conflicts.locator('[data-overall-dropped]').getAttribute('data-overall-dropped')),
      normalized: Number(await accuracy.locator('[data-normalized]').getAttribute('data-normalized')),
      bars: await conflicts.locator('.recharts-bar-rectangle path').evaluateAll((ps) => ps.map((p) => p.getAttribute('d')).join('|')),
    });
    const before = await read();
    expect(before.conflict).toBeGreaterThan(0);
    await lab.page.evaluate(() => performance.clearMeasures('slider-to-charts'));

    const slider = lab.densitySlider();
    await slider.focus();
    const seen: { conflict: number; normalized: number }[] = [];
    // Ten steps up and back (0.3 → 0.35 → 0.3), or twenty (→ 0.4) for the bench.
    const paced = 2 * Math.max(5, MOVES / 2);
    for (let i = 0; i < paced; i++) {
      await lab.page.keyboard.press(i < paced / 2 ? 'ArrowRight' : 'ArrowLeft');
      await lab.waitForLiveScore(Number(await slider.inputValue()));
      cSeq = await lab.waitForChart('sign-conflicts', cSeq);
      aSeq = await lab.waitForChart('accuracy', aSeq);
      const r = await read();
      seen.push(r);
      if (i === paced / 2 - 1) {
        // Density 0.3 → 0.35 (0.4): more of each task vector kept, more entries where two are nonzero.
        expect(r.conflict).not.toBe(before.conflict);
        expect(r.dropped).not.toBe(before.dropped);
        expect(r.normalized).not.toBe(before.normalized);
        expect(r.bars, 'the bars are redrawn').not.toBe(before.bars);
      }
    }
    expect(new Set(seen.map((s) => s.conflict)).size).toBeGreaterThan(paced / 2);
    // Back at 0.3: the same numbers as at the start (the engine is deterministic).
    expect(seen.at(-1)!.conflict).toBe(before.conflict);
    expect(seen.at(-1)!.normalized).toBe(before.normalized);

    await expect.poll(async () => (await lab.measures('slider-to-charts')).length).toBeGreaterThanOrEqual(paced - 2);
    const ms = (await lab.measures('slider-to-charts')).sort((a, b) => a - b);
    log(
      `slider-to-charts (score + sign-conflict data drawn) on wasm over ${ms.length} paced moves: p50 ${percentile(ms, 50).toFixed(1)} ms, p95 ${percentile(ms, 95).toFixed(1)} ms ` +
        `(min ${ms[0]!.toFixed(1)}, max ${ms.at(-1)!.toFixed(1)})`,
    );

    // The same latency without the checks above polling the page between moves: each key waits
    // only for the page's own measure of the previous one (the number the target is about).
    await lab.page.evaluate(() => performance.clearMeasures('slider-to-charts'));
    for (let i = 0; i < MOVES; i++) {
      await lab.page.keyboard.press(i < MOVES / 2 ? 'ArrowRight' : 'ArrowLeft');
      await lab.page.waitForFunction((n) => performance.getEntriesByName('slider-to-charts').length > n, i, { timeout: 30_000 });
    }
    const quiet = (await lab.measures('slider-to-charts')).sort((a, b) => a - b);
    expect(quiet).toHaveLength(MOVES);
    log(
      `slider-to-charts, moves back to back without polling (positions seen before, answered from the engine's recent answers): ` +
        `p50 ${percentile(quiet, 50).toFixed(1)} ms, p95 ${percentile(quiet, 95).toFixed(1)} ms (min ${quiet[0]!.toFixed(1)}, max ${quiet.at(-1)!.toFixed(1)})`,
    );

    // Stepping on into positions not seen yet, one key at a time: each next step is scored ahead.
    await lab.page.evaluate(() => performance.clearMeasures('slider-to-charts'));
    for (let i = 0; i < MOVES; i++) {
      await lab.page.keyboard.press('ArrowRight');
      await lab.page.waitForFunction((n) => performance.getEntriesByName('slider-to-charts').length > n, i, { timeout: 30_000 });
    }
    const top = (30 + MOVES) / 100;
    expect(Number(await slider.inputValue())).toBe(top);
    const stepping = (await lab.measures('slider-to-charts')).sort((a, b) => a - b);
    log(`slider-to-charts, stepping into new positions (0.31 → ${top.toFixed(2)}), back to back: p50 ${percentile(stepping, 50).toFixed(1)} ms, p95 ${percentile(stepping, 95).toFixed(1)} ms`);

    // Jumps to positions never asked for, in no pattern the engine could guess: every one is merged and scored cold.
    await lab.page.evaluate(() => performance.clearMeasures('slider-to-charts'));
    const jumps = [0.62, 0.88, 0.54, 0.91, 0.57, 0.79, 0.66, 0.95, 0.52, 0.73, 0.84, 0.61, 0.93, 0.69, 0.55, 0.82, 0.64, 0.97, 0.71, 0.86].slice(-MOVES);
    for (const [i, v] of jumps.entries()) {
      await slider.fill(String(v));
      await lab.page.waitForFunction((n) => performance.getEntriesByName('slider-to-charts').length > n, i, { timeout: 30_000 });
    }
    const cold = (await lab.measures('slider-to-charts')).sort((a, b) => a - b);
    expect(cold).toHaveLength(jumps.length);
    log(`slider-to-charts, jumps to new positions (every answer merged and scored cold), back to back: p50 ${percentile(cold, 50).toFixed(1)} ms, p95 ${percentile(cold, 95).toFixed(1)} ms (max ${cold.at(-1)!.toFixed(1)})`);
    // The last jump's numbers are on screen.
    await lab.waitForLiveScore(jumps.at(-1)!);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);

  test('the bars follow each answer without redrawing their chart, and a hovered bar’s tooltip follows the slider', async ({ lab }) => {
    // Only the accuracy card and the score are read: the other charts are left out by the link (and not computed).
    await lab.open('sweep_hide=1&conflicts_hide=1&cosines_hide=1&spectrum_hide=1&layers_hide=1', ENGINE);
    await lab.waitForEngine('wasm');
    await lab.waitForChart('accuracy');
    const accuracy = lab.chart('accuracy');
    await accuracy.scrollIntoViewIfNeeded();
    const bars = accuracy.locator('.live-bar');
    expect(await bars.count(), 'one merged bar per task').toBe(5);
    const tableValues = async () => (await lab.liveScore()).perTask;
    const barValues = async () => (await bars.evaluateAll((bs) => bs.map((b) => Number(b.getAttribute('data-value'))))).map((v) => `${v.toFixed(1)}%`);
    expect(await barValues()).toEqual(await tableValues());
    // The same <svg> before and after a move: only the bars' paths change.
    await accuracy.locator('svg.recharts-surface').first().evaluate((el) => ((el as unknown as { kept: boolean }).kept = true));

    const box = (await bars.nth(1).boundingBox())!;
    await lab.page.mouse.move(box.x + box.width / 2, box.y + box.height - 4, { steps: 3 });
    const tooltip = accuracy.locator('.recharts-tooltip-wrapper');
    await expect.poll(() => tooltip.innerText()).toContain('merged');
    const before = (await tableValues())[1]!;
    expect(await tooltip.innerText()).toContain(`merged : ${before}`);

    // A move as a drag sends it (an input event on the slider), with the pointer resting on the bar.
    const pathBefore = await bars.nth(1).getAttribute('d');
    await lab.densitySlider().evaluate((el) => {
      const input = el as HTMLInputElement;
      Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(input, '0.8');
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await lab.waitForLiveScore(0.8);
    const after = (await tableValues())[1]!;
    expect(after, 'density 0.8 scores the permuted task differently').not.toBe(before);
    await expect.poll(() => tooltip.innerText()).toContain(`merged : ${after}`);
    expect(await barValues()).toEqual(await tableValues());
    expect(await bars.nth(1).getAttribute('d')).not.toBe(pathBefore);
    expect(await accuracy.locator('svg.recharts-surface').first().evaluate((el) => (el as unknown as { kept?: boolean }).kept)).toBe(true);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 90_000);

  test('each chart exports PNG, SVG and CSV, each saying which method and settings made it', async ({ loaded: lab }) => {
    await lab.waitForEngine('wasm');
    for (const id of ['sign-conflicts', 'svd-spectrum', 'sweep']) await lab.waitForChart(id);

    const csv = await lab.exportChart('sign-conflicts', 'CSV');
    expect(csv.suggested).toBe('sign-conflicts.csv');
    const lines = csv.bytes.toString('utf8').trim().split(/\r\n/);
    expect(lines[0]).toBe('tensor,sign_conflict_percent,dropped_mass_percent,method,settings');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['hidden.weight', 'hidden.bias', 'head.weight', 'head.bias']);
    for (const l of lines.slice(1)) {
      expect(Number(l.split(',')[1])).toBeGreaterThanOrEqual(0);
      // The page opens on TIES at λ 1, density 0.3: every row says so (the settings cell is quoted, it holds commas).
      expect(l.split(',')[3]).toBe('ties');
      expect(l).toMatch(/,"[^"]*lambda 1[^"]*density 0\.3[^"]*on the demo"$/);
    }

    const svg = await lab.exportChart('svd-spectrum', 'SVG');
    const text = svg.bytes.toString('utf8');
    expect(text.startsWith('<?xml')).toBe(true);
    expect(text).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(text).toMatch(/<path[^>]+recharts-curve/);
    // The legend (HTML on the page) is redrawn in the file, and the overlap heatmap is there too.
    expect(text).toContain('>Inverted</text>');
    // In the page's ink, as on screen (the swatch beside it carries the series' colour).
    expect(text).toMatch(/fill="rgb\(45, 55, 72\)">Inverted<\/text>/);
    expect(text).toContain('overlap ‖Uᵢᵀ Uⱼ‖²/r');
    // Above the drawing: the chart's title, its caption and the settings that made it; each part's title.
    expect(text).toContain('>SVD spectrum of the task vectors</text>');
    expect(text).toMatch(/>Settings: ties: [^<]*lambda 1/);
    expect(text).toContain('hidden.weight [1024 × 64]');
    expect(text).toContain('>Singular values and energy</text>');
    expect(text).toMatch(/>Subspace overlap at r = \d+<\/text>/);
    // Both axes titled, with their units, in the file too.
    expect(text).toContain('singular value σ (log)');
    expect(text).toContain('rank r (number of directions)');

    const png = await lab.exportChart('sweep', 'PNG');
    expect(png.suggested).toBe('sweep.png');
    expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // Twice the drawn size, for slides: the IHDR width is at bytes 16..19.
    const drawn = (await lab.chart('sweep').locator('.drawing').boundingBox())!.width;
    expect(png.bytes.readUInt32BE(16)).toBeGreaterThanOrEqual(2 * Math.floor(drawn));

    const sweep = await lab.exportChart('sweep', 'CSV');
    const rows = sweep.bytes.toString('utf8').trim().split(/\r\n/);
    expect(rows[0]).toMatch(/^density,split,normalized_percent,invert_percent.*,method,settings$/);
    expect(rows).toHaveLength(11);
    // Each point sets density for every model: the settings say it was swept, not 0.3.
    expect(rows[1]).toMatch(/,ties,"[^"]*lambda 1[^"]*density swept \(every layer and model\)[^"]*"$/);
    expect(lab.diagnostics.pageErrors).toEqual([]);
  }, 90_000);

  test('the URL restores the spectrum tensor, SVD rank, sweep and presentation flags; presets set their state', async ({ lab }) => {
    await lab.open('method=ties&density=0.5&tensor=head.weight&rank=3&sweep=lambda&present=1&cosines_hide=1&recipe_hide=1', ENGINE);
    await lab.waitForEngine('wasm');
    await lab.waitForChart('svd-spectrum');
    const spectrum = lab.chart('svd-spectrum');
    expect(await spectrum.getByRole('combobox', { name: 'Tensor' }).inputValue()).toBe('head.weight');
    expect(await spectrum.getByRole('slider', { name: 'SVD rank' }).inputValue()).toBe('3');
    expect(await spectrum.locator('[data-rank]').getAttribute('data-rank')).toBe('3');
    expect(await lab.chart('sweep').getByRole('combobox', { name: 'Sweep over' }).inputValue()).toBe('lambda');
    expect(await lab.chart('task-cosines').count()).toBe(0);
    expect(await lab.page.getByRole('group', { name: 'Recipe' }).count()).toBe(0);
    expect(await lab.page.locator('.shell.present').count()).toBe(1);

    // Moving the rank slider is written back to the hash.
    await spectrum.getByRole('slider', { name: 'SVD rank' }).fill('5');
    await expect.poll(() => new URL(lab.page.url()).hash).toContain('rank=5');
    await expect.poll(async () => spectrum.locator('[data-rank]').getAttribute('data-rank')).toBe('5');

    await lab.page.getByRole('combobox', { name: 'Preset' }).selectOption('signs');
    await expect.poll(async () => lab.page.getByRole('complementary', { name: 'Preset: Where signs conflict' }).count()).toBe(1);
    expect(await lab.page.getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('ties');
    expect(await lab.densitySlider().inputValue()).toBe('0.3');
    expect(await lab.chart('svd-spectrum').count()).toBe(0);
    expect(await lab.page.locator('.shell.present').count(), 'a preset keeps presentation mode').toBe(1);
    await expect.poll(() => new URL(lab.page.url()).hash).toContain('preset=signs');
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 90_000);

  test("on one's own two-layer Llama-shaped checkpoints the mean cosines are drawn per layer, every label readable", async ({ lab }) => {
    // The demo's accuracy and sweep cards are not drawn for one's own checkpoints: left out by the link, the demo's sweep is not computed first.
    await lab.open('accuracy_hide=1&sweep_hide=1', ENGINE);
    await lab.waitForDemo();
    const shapes: [string, number[]][] = [['model.embed_tokens.weight', [32, 16]]];
    for (const l of [0, 1]) for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'mlp.up_proj', 'mlp.down_proj']) shapes.push([`model.layers.${l}.${m}.weight`, [16, 16]]);
    shapes.push(['model.norm.weight', [16]]);
    const checkpoint = (k: number) =>
      writeSafetensorsToMemory(shapes.map(([name, shape], i) => ({ name, dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, j) => Math.sin(j * 0.1 + i) * 0.1 + (k ? Math.sin(j * (0.3 + k) + i * k) * 0.02 : 0)) })));
    await lab.dropFiles(await Promise.all(['base', 'expert-a', 'expert-b', 'expert-c'].map(async (id, k) => ({ name: `${id}.safetensors`, bytes: await checkpoint(k) }))));
    await lab.waitForMyModels(4);
    await lab.page.locator('figure[data-chart="task-cosines"][data-settings*="on your checkpoints"]').waitFor({ state: 'attached', timeout: 30_000 });
    expect(await lab.chart('task-cosines').getAttribute('data-settings')).toMatch(/on your checkpoints/);
    await lab.waitForChart('task-cosines');
    const part = lab.chart('task-cosines').locator('[data-sub-chart="cosine-per-tensor"]');
    expect(await part.locator('h4').innerText()).toBe('Mean cosine per layer');
    expect(await part.locator('.recharts-cartesian-axis-tick-value').allTextContents()).toEqual(expect.arrayContaining(['layer 0', 'layer 1']));
    // No chart text cut there either (the spectrum's smallest σ tick read "0.0000010" and was).
    await lab.waitForChart('svd-spectrum');
    expect(await clippedChartText(lab.page)).toEqual([]);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 90_000);
});
