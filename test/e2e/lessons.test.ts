/**
 * Each lesson's text, followed step by step in a real Chromium (issue 16): the test does what the
 * story says and checks what it claims, so a lesson that stops being true fails here.
 */
import { expect } from 'vitest';
import { PRESETS } from '../../src/app/presets.js';
import { describeE2E, test } from './harness.js';
import type { LabPage } from './lab-page.js';

const ENGINE = { backend: 'wasm' } as const;
const story = (id: string) => PRESETS.find((p) => p.id === id)!.story;

async function choosePreset(lab: LabPage, id: string): Promise<void> {
  await lab.open('', ENGINE);
  await lab.waitForEngine('wasm');
  await lab.page.getByRole('combobox', { name: 'Preset' }).selectOption(id);
  const title = PRESETS.find((p) => p.id === id)!.title;
  await expect.poll(async () => lab.page.getByRole('complementary', { name: `Preset: ${title}` }).count()).toBe(1);
}

/** The live score once it answers the slider values now set. */
async function scoreNow(lab: LabPage): Promise<number> {
  const density = Number(await lab.densitySlider().inputValue().catch(() => 'NaN'));
  const s = await lab.waitForLiveScore(Number.isNaN(density) ? undefined : density);
  return s.normalized;
}

describeE2E('lessons', () => {
  test('a link naming only a preset (#preset=rank) applies its settings, not just its story', async ({ lab }) => {
    await lab.open('preset=rank', ENGINE);
    await lab.waitForEngine('wasm');
    await expect.poll(async () => lab.page.getByRole('complementary', { name: 'Preset: How much rank is needed' }).count()).toBe(1);
    expect(await lab.page.getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('task_arithmetic');
    await lab.waitForChart('svd-spectrum');
    expect(await lab.chart('svd-spectrum').locator('[data-rank]').getAttribute('data-rank')).toBe('4');
    expect(await lab.chart('svd-spectrum').locator('figcaption').innerText()).toMatch(/hidden\.weight/);
    // The preset hides the conflicts and the sweep.
    expect(await lab.chart('sign-conflicts').count()).toBe(0);
    expect(await lab.chart('sweep').count()).toBe(0);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 90_000);

  test('"Task arithmetic vs TIES": best λ 0.4–0.5 near 68%; TIES at λ 1 about ten points higher, near 78%; TIES at λ 0.5 below', async ({ lab }) => {
    expect(story('ta-vs-ties')).toMatch(/Switch the method to TIES and set λ to 1/);
    await choosePreset(lab, 'ta-vs-ties');
    const method = lab.page.getByRole('combobox', { name: 'Merge method' });
    expect(await method.inputValue()).toBe('task_arithmetic');
    const ta = (await lab.waitForLiveScore()).normalized;
    expect(ta).toBeGreaterThan(66);
    expect(ta).toBeLessThan(70);
    // The sweep's best λ is 0.4 or 0.5 (within a tenth of a point of each other).
    await lab.waitForChart('sweep');
    expect(await lab.chart('sweep').locator('figcaption').innerText()).toMatch(/Best here: 6[78][.\d]*% at λ = 0\.[45]\b/);

    await method.selectOption('ties');
    expect(await lab.densitySlider().inputValue()).toBe('0.3');
    const tiesAtHalf = await scoreNow(lab);
    expect(tiesAtHalf, 'TIES at λ 0.5 scores below task arithmetic').toBeLessThan(ta);
    await lab.lambdaSlider().fill('1');
    await expect.poll(async () => (await lab.liveScore()).lambda, { timeout: 30_000 }).toBe(1);
    const ties = await scoreNow(lab);
    expect(ties - ta, `TIES ${ties} vs task arithmetic ${ta}`).toBeGreaterThan(8);
    expect(ties - ta).toBeLessThan(12);
    expect(ties).toBeGreaterThan(76);
    expect(ties).toBeLessThan(80);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);

  test('"Where signs conflict": conflicts rise with density (about ½ → ¾) while the score peaks near 0.3', async ({ lab }) => {
    await choosePreset(lab, 'signs');
    const conflicts = lab.chart('sign-conflicts');
    const at = async (density: string) => {
      await lab.densitySlider().fill(density);
      const score = (await lab.waitForLiveScore(Number(density))).normalized;
      await expect.poll(async () => conflicts.getAttribute('data-chart-state'), { timeout: 30_000 }).toBe('ready');
      await expect.poll(async () => (await lab.page.evaluate(() => location.hash)).includes(`density=${density}`)).toBe(true);
      const conflict = Number(await conflicts.locator('[data-overall-conflict]').getAttribute('data-overall-conflict'));
      return { score, conflict };
    };
    const low = await at('0.1');
    const mid = await at('0.3');
    const high = await at('0.9');
    expect(low.conflict).toBeLessThan(mid.conflict);
    expect(mid.conflict).toBeLessThan(high.conflict);
    expect(low.conflict).toBeGreaterThan(0.4);
    expect(low.conflict).toBeLessThan(0.6);
    expect(high.conflict).toBeGreaterThan(0.65);
    expect(high.conflict).toBeLessThan(0.85);
    expect(mid.score, 'the score peaks near 0.3').toBeGreaterThan(low.score);
    expect(mid.score).toBeGreaterThan(high.score);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);
});
