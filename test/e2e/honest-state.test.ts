/**
 * What the charts show is the answer to the current recipe or nothing (issue 16, "honest state"),
 * in a real Chromium: switching the demo to a method it cannot merge (SLERP over five experts)
 * leaves no chart drawn from the previous method's answer; the cause is said once, above the
 * charts, naming the charts it stops; switching back draws them again, each caption naming the
 * method and settings it answers.
 */
import { expect } from 'vitest';
import { describeE2E, test } from './harness.js';

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
    await expect.poll(async () => charts.locator('.not-drawn').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
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
    expect(lab.diagnostics.consoleErrors).toEqual([]);

    await method.selectOption('ties');
    await lab.densitySlider().fill('0.3');
    for (const id of ['accuracy', 'sign-conflicts']) await lab.waitForChart(id);
    await expect.poll(async () => charts.getByRole('alert').count(), { timeout: 30_000 }).toBe(0);
    expect(await accuracy.locator('.recharts-bar-rectangle').count()).toBe(10);
    expect(await accuracy.locator('[data-answer-for]').getAttribute('data-answer-for')).toBe('ties');
  }, 120_000);

  test("DELLA's density sweep covers the densities it accepts instead of failing at its defaults", async ({ lab }) => {
    await lab.open('', ENGINE);
    await lab.waitForEngine('wasm');
    await lab.waitForChart('sweep');
    await lab.page.getByRole('combobox', { name: 'Merge method' }).selectOption('della');
    const sweep = lab.chart('sweep');
    await expect.poll(async () => sweep.getAttribute('data-chart-state'), { timeout: 60_000 }).toBe('ready');
    await expect.poll(async () => sweep.locator('figcaption').innerText(), { timeout: 60_000 }).toMatch(/of della on the demo/);
    // density ± ε (0.15) inside (0, 1): 0.2 … 0.8, and 1 (no trim).
    const csv = (await lab.exportChart('sweep', 'CSV')).bytes.toString('utf8').trim().split('\n');
    expect(csv.slice(1).map((row) => Number(row.split(',')[0]))).toEqual([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1]);
    expect(await lab.page.locator('.charts-panel').getByRole('alert').count()).toBe(0);
  }, 120_000);
});
