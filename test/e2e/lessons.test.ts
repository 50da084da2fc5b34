/**
 * Each lesson's text, followed step by step in a real Chromium (issue 16): the test does what the
 * story says and checks what it claims, so a lesson that stops being true fails here. The rank
 * lesson is opened by its link (#preset=rank), which also checks that such a link applies the
 * preset's settings; the others are chosen from the Preset menu.
 */
import { expect } from 'vitest';
import { PRESETS } from '../../src/app/presets.js';
import { describeE2E, test } from './harness.js';
import { routedScore, waitForRouted, type LabPage } from './lab-page.js';

const ENGINE = { backend: 'wasm' } as const;
const story = (id: string) => PRESETS.find((p) => p.id === id)!.story;

async function choosePreset(lab: LabPage, id: string): Promise<void> {
  await lab.open('', ENGINE);
  // Chosen as soon as the menu is there, as a reader arriving for the lesson would: the default
  // view's charts, live score and sweep are then never asked for, only to be dropped (1-2 s of CPU
  // each lesson). The lesson's own numbers are all awaited below, once the engine answers.
  await lab.page.getByRole('combobox', { name: 'Preset' }).selectOption(id);
  await lab.waitForEngine('wasm');
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
  test('"Task arithmetic vs TIES": best λ 0.4–0.5 near 70%; TIES at λ 1 about nine points higher, near 79%; TIES at λ 0.5 below (validation split)', async ({ lab }) => {
    expect(story('ta-vs-ties')).toMatch(/Switch the method to TIES and set λ to 1/);
    await choosePreset(lab, 'ta-vs-ties');
    const method = lab.page.getByRole('combobox', { name: 'Merge method' });
    expect(await method.inputValue()).toBe('task_arithmetic');
    const ta = (await lab.waitForLiveScore()).normalized;
    expect(await lab.page.locator('.live [data-split]').getAttribute('data-split')).toBe('validation');
    expect(ta).toBeGreaterThan(68);
    expect(ta).toBeLessThan(71.5);
    // The sweep's best λ is 0.4 or 0.5 (within a tenth of a point of each other).
    await lab.waitForChart('sweep');
    expect(await lab.chart('sweep').locator('figcaption').innerText()).toMatch(/Best here: (69|70|71)[.\d]*% at λ = 0\.[45]\b/);

    await method.selectOption('ties');
    expect(await lab.densitySlider().inputValue()).toBe('0.3');
    const tiesAtHalf = await scoreNow(lab);
    expect(tiesAtHalf, 'TIES at λ 0.5 scores below task arithmetic').toBeLessThan(ta);
    await lab.lambdaSlider().fill('1');
    // Waited for in the page: the score at λ 1 (data-lambda), then read as the test always did.
    await lab.mergePanel().locator('[aria-label="Live score"][data-lambda="1"]').waitFor({ state: 'attached', timeout: 30_000 });
    expect((await lab.liveScore()).lambda).toBe(1);
    const ties = await scoreNow(lab);
    expect(ties - ta, `TIES ${ties} vs task arithmetic ${ta}`).toBeGreaterThan(8);
    expect(ties - ta).toBeLessThan(11);
    expect(ties).toBeGreaterThan(77.5);
    expect(ties).toBeLessThan(80.5);
    // The held-out test score of the settings chosen, on request and labelled as such (78% here).
    await lab.page.locator('#demo-test').check();
    await lab.mergePanel().locator('.live[data-live-state="ready"] [data-split="test"]').waitFor({ state: 'attached', timeout: 30_000 });
    const onTest = (await lab.liveScore()).normalized;
    expect(onTest).not.toBe(ties);
    expect(onTest).toBeGreaterThan(76.5);
    expect(onTest).toBeLessThan(79.5);
    await expect.poll(async () => lab.chart('accuracy').locator('figcaption [data-split]').getAttribute('data-split')).toBe('test');
    await expect.poll(async () => new URLSearchParams((await lab.page.evaluate(() => location.hash)).slice(1)).get('test')).toBe('1');
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);

  test('"Where signs conflict": conflicts rise with density (about ½ → ¾) while the score peaks near 0.3', async ({ lab }) => {
    await choosePreset(lab, 'signs');
    const conflicts = lab.chart('sign-conflicts');
    const at = async (density: string) => {
      await lab.densitySlider().fill(density);
      const score = (await lab.waitForLiveScore(Number(density))).normalized;
      await lab.page.locator('figure[data-chart="sign-conflicts"][data-chart-state="ready"]').waitFor({ state: 'attached', timeout: 30_000 });
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

  // The lesson is opened by its link (the other lessons by the menu): one page for both claims.
  test('a link naming only a preset (#preset=rank) applies its settings, not just its story; "How much rank is needed": energy at rank 1 about 40%, at 4 about 80%, 90% at rank 7 of 64; overlap at rank 4 about 0.15', async ({ lab }) => {
    expect(story('rank')).toMatch(/at rank 1 the median task keeps about 40% of its energy, at rank 4 about 80%, and 90% needs rank 7 of 64/);
    await lab.open('preset=rank', ENGINE);
    await lab.waitForEngine('wasm');
    await lab.page.getByRole('complementary', { name: 'Preset: How much rank is needed' }).waitFor();
    expect(await lab.page.getByRole('complementary', { name: 'Preset: How much rank is needed' }).count()).toBe(1);
    expect(await lab.page.getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('task_arithmetic');
    const chart = lab.chart('svd-spectrum');
    let seq = await lab.waitForChart('svd-spectrum');
    expect(await chart.locator('[data-rank]').getAttribute('data-rank')).toBe('4');
    expect(await chart.locator('figcaption').innerText()).toMatch(/hidden\.weight/);
    // The preset hides the conflicts and the sweep.
    expect(await lab.chart('sign-conflicts').count()).toBe(0);
    expect(await lab.chart('sweep').count()).toBe(0);
    expect(await chart.innerText()).toMatch(/hidden\.weight \[1024 × 64\]/);
    const at = async (rank: number) => {
      if (Number(await chart.locator('[data-rank]').getAttribute('data-rank')) !== rank) {
        await chart.getByRole('slider', { name: 'SVD rank' }).fill(String(rank));
        seq = await lab.waitForChart('svd-spectrum', seq);
      }
      expect(Number(await chart.locator('[data-rank]').getAttribute('data-rank'))).toBe(rank);
      const energy = Number(/the median task keeps ([\d.]+)% of its energy/.exec(await chart.innerText())?.[1]);
      const cells = await chart.locator('g[data-value]').evaluateAll((gs) => gs.filter((g) => g.getAttribute('data-row') !== g.getAttribute('data-col')).map((g) => Number(g.getAttribute('data-value'))));
      return { energy, rank90: Number(await chart.locator('[data-rank90]').getAttribute('data-rank90')), overlap: cells.reduce((a, b) => a + b, 0) / cells.length, cells };
    };
    const r4 = await at(4);
    const r1 = await at(1);
    const r8 = await at(8);
    expect(r1.energy).toBeGreaterThan(35);
    expect(r1.energy).toBeLessThan(45);
    expect(r4.energy).toBeGreaterThan(75);
    expect(r4.energy).toBeLessThan(85);
    expect(r8.energy, 'the energy climbs quickly, then flattens').toBeGreaterThan(90);
    expect(r8.energy - r4.energy).toBeLessThan(r4.energy - r1.energy);
    expect(r4.rank90).toBe(7);
    // Overlap: 20 off-diagonal cells of the 5 × 5 heatmap, about 0.15 on average at rank 4, none near 1.
    expect(r4.cells).toHaveLength(20);
    expect(r4.overlap).toBeGreaterThan(0.1);
    expect(r4.overlap).toBeLessThan(0.2);
    expect(Math.max(...r4.cells)).toBeLessThan(0.5);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);

  test('"Twin-Merging": rank 1 about 89% (above TA and TIES), rank 8 about 100% at about 43% of the storage; hard mode splits invert\'s inputs', async ({ lab }) => {
    await choosePreset(lab, 'twin');
    let s = await waitForRouted(lab);
    const rank = lab.mergePanel().getByRole('slider', { name: 'SVD rank', exact: true });
    expect(await rank.inputValue()).toBe('4');
    await rank.fill('1');
    s = await waitForRouted(lab, s.seq);
    expect(s.normalized).toBeGreaterThan(86);
    expect(s.normalized).toBeLessThan(93);
    expect(s.normalized, 'above TIES at its best in the "Task arithmetic vs TIES" lesson (about 79%)').toBeGreaterThan(80);
    await rank.fill('8');
    s = await waitForRouted(lab, s.seq);
    // On the validation split, where the sliders move (normalized by the experts' validation accuracy).
    expect(s.normalized).toBeGreaterThan(98.5);
    expect(s.normalized).toBeLessThan(101);
    expect(s.storage, 'about 43% of the experts\' storage, the router apart').toBeGreaterThan(0.38);
    expect(s.storage).toBeLessThan(0.48);
    // The chart says the same as the score.
    await lab.waitForChart('twin-rank');
    const csv = (await lab.exportChart('twin-rank', 'CSV')).bytes.toString('utf8');
    const row = (r: number) => csv.split(/\r?\n/).find((l) => l.startsWith(`${r},`))!.split(',').map(Number);
    expect(row(1)[1]).toBeGreaterThan(86);
    expect(row(8)[1]).toBeCloseTo(s.normalized, 6);

    await lab.mergePanel().getByRole('checkbox', { name: 'Hard mode' }).check();
    // The sixth row and column drawn: the 36th cell (waited for in the page), and no more.
    await lab.chart('routing').locator('g[data-value]').nth(35).waitFor({ state: 'attached', timeout: 60_000 });
    expect(await lab.chart('routing').locator('g[data-value]').count()).toBe(36);
    await waitForRouted(lab, s.seq);
    await lab.waitForChart('routing');
    const weight = async (row: string, col: string) => Number(await lab.chart('routing').locator(`g[data-row="${row}"][data-col="${col}"]`).first().getAttribute('data-value'));
    const labels = await lab.chart('routing').locator('g[data-value]').evaluateAll((gs) => [...new Set(gs.map((g) => g.getAttribute('data-row')!))]);
    const invert = labels.find((l) => /invert/i.test(l) && !/relabel/i.test(l))!;
    const hard = labels.find((l) => /relabel/i.test(l))!;
    for (const row of [invert, hard]) {
      for (const col of [invert, hard]) {
        const w = await weight(row, col);
        expect(w, `${row} → ${col}: about half`).toBeGreaterThan(0.35);
        expect(w).toBeLessThan(0.65);
      }
    }
    const hardRow = lab.chart('routing').getByRole('table', { name: 'Hard tasks' }).locator('tr[data-task]').first();
    const cellsText = (await hardRow.locator('td').allInnerTexts()).map((t) => Number(t.replace('%', '')));
    // Columns: routed here, router, oracle, expert — the router's score far below the oracle's.
    expect(cellsText[2]! - cellsText[1]!, `router ${cellsText[1]} vs oracle ${cellsText[2]}`).toBeGreaterThan(30);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 240_000);

  test('"Channel Merging": score and storage climb together from K 1 to 5 (about 79 → 100%); within-group conflicts under half the across-group rate and under random groups', async ({ lab }) => {
    await choosePreset(lab, 'channels');
    let s = await waitForRouted(lab);
    const k = lab.mergePanel().getByRole('slider', { name: 'Groups K', exact: true });
    const chart = lab.chart('channel-k');
    const seen: { K: number; score: number; storage: number; within: number; across: number; random: number }[] = [];
    for (const K of [1, 2, 3, 4, 5]) {
      if (Number(await k.inputValue()) !== K) {
        await k.fill(String(K));
        s = await waitForRouted(lab, s.seq);
      }
      await lab.waitForChart('channel-k');
      const within = Number((await chart.locator('[data-within]').getAttribute('data-within')) || NaN);
      const across = Number((await chart.locator('[data-across]').getAttribute('data-across')) || NaN);
      const random = Number((await chart.locator('[data-random-within]').getAttribute('data-random-within')) || NaN);
      seen.push({ K, score: s.normalized, storage: s.storage, within, across, random });
    }
    console.log(`[e2e] channel lesson: ${seen.map((x) => `K ${x.K}: ${x.score.toFixed(1)}%, storage ${(100 * x.storage).toFixed(1)}%, within ${(100 * x.within).toFixed(1)} across ${(100 * x.across).toFixed(1)}`).join('; ')}`);
    expect(seen[0]!.score).toBeGreaterThan(76);
    expect(seen[0]!.score).toBeLessThan(80);
    expect(seen[4]!.score).toBeCloseTo(100, 6);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.score, `K ${i + 1} scores above K ${i}`).toBeGreaterThan(seen[i - 1]!.score);
      expect(seen[i]!.storage).toBeGreaterThan(seen[i - 1]!.storage);
    }
    expect(seen[0]!.storage).toBeGreaterThan(0.18);
    expect(seen[0]!.storage).toBeLessThan(0.25);
    expect(seen[4]!.storage, 'a little over the experts\' own size').toBeGreaterThan(1);
    expect(seen[4]!.storage).toBeLessThan(1.2);
    for (const x of seen.slice(1, 4)) {
      expect(x.within, `K ${x.K}: within under half of across`).toBeLessThan(x.across / 2);
      expect(x.within, `K ${x.K}: within well under random groups of the same sizes`).toBeLessThan(x.random - 0.1);
      expect(x.random).toBeGreaterThan(0.44);
      expect(x.random).toBeLessThan(0.52);
    }
    expect(seen[1]!.within).toBeGreaterThan(0.25);
    expect(seen[1]!.within).toBeLessThan(0.35);
    expect(seen[1]!.across).toBeGreaterThan(0.6);
    expect(seen[1]!.across).toBeLessThan(0.7);
    expect(await routedScore(lab).then((x) => x.routing)).toBe('router');
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 240_000);
});
