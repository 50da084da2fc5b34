/**
 * The demo's controls beyond density and λ, in a real Chromium on wasm (issue 16): SLERP with two
 * models picked (it failed with TOO_MANY_MODELS before), a per-expert weight and a value per layer
 * group, each reaching the live score, the downloaded recipe and the URL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { describeE2E, test } from './harness.js';
import { waitInPage, type LabPage } from './lab-page.js';

const ENGINE = { backend: 'wasm' } as const;

interface RecipeFile {
  merge_method: string;
  base_model?: string;
  models: { model: string; parameters?: Record<string, unknown> }[];
  parameters?: Record<string, unknown>;
}

async function downloadedRecipe(lab: LabPage, name: string): Promise<RecipeFile> {
  fs.mkdirSync(lab.resultsDir, { recursive: true });
  const { bytes } = await lab.download(lab.currentRecipeLink(), path.join(lab.resultsDir, name));
  return parse(bytes.toString('utf8')) as RecipeFile;
}

/** A live score newer than `afterSeq`, settled (waited for in the page). */
async function nextScore(lab: LabPage, afterSeq: number) {
  await waitInPage(
    lab.page,
    (p: { arg: number; last: boolean }) => {
      const g = document.querySelector<HTMLElement>('section[aria-labelledby="merge-heading"] [role="group"][aria-label="Live score"]');
      const state = g?.dataset['liveState'];
      const seq = Number(g?.dataset['seq'] ?? 0);
      return p.last ? (g ? `state ${state}, seq ${seq}` : 'no Live score') : state === 'ready' && seq > p.arg;
    },
    afterSeq,
    `The live score answered no request after ${afterSeq}`,
    30_000,
  );
  return lab.liveScore();
}

describeE2E('demo controls', () => {
  test('SLERP: pick the two models and the t = 0 end; the score, the recipe and the link follow', async ({ lab }) => {
    await lab.open('method=slerp', { ...ENGINE, charts: false });
    await lab.waitForEngine('wasm');
    let s = await lab.waitForLiveScore();
    expect(Number.isFinite(s.normalized)).toBe(true);
    expect(await lab.mergePanel().getByRole('alert').count(), 'no TOO_MANY_MODELS or other error').toBe(0);
    let r = await downloadedRecipe(lab, 'slerp-1.yml');
    expect(r.models.map((m) => m.model)).toEqual(['expert-invert.safetensors', 'expert-permute.safetensors']);
    expect(r.base_model).toBe('expert-invert.safetensors');
    // The panel's lead names the two models the recipe merges, not "the demo's five experts".
    const lead = lab.mergePanel().locator('p.lead');
    expect(await lead.innerText()).toMatch(/^The Inverted expert \(base_model, the t = 0 end\) and the Permuted pixels expert merged with SLERP\./);

    const panel = lab.mergePanel();
    await panel.getByLabel('t = 0 end (base_model)').selectOption('base');
    s = await nextScore(lab, s.seq);
    await panel.getByLabel('t = 1 end').selectOption('shift-left');
    s = await nextScore(lab, s.seq);
    const atHalf = s.normalized;
    await panel.getByRole('slider', { name: 't', exact: true }).fill('1');
    s = await nextScore(lab, s.seq);
    // t = 1 is the shift-left expert itself: its own task at the expert's accuracy, the score far from t = 0.5's.
    expect(s.normalized).not.toBeCloseTo(atHalf, 3);
    r = await downloadedRecipe(lab, 'slerp-2.yml');
    expect(r.models.map((m) => m.model)).toEqual(['base.safetensors', 'expert-shift-left.safetensors']);
    expect(r.base_model).toBe('base.safetensors');
    expect(r.parameters?.['t']).toBe(1);
    expect(await lead.innerText()).toMatch(/^The base model \(base_model, the t = 0 end\) and the Shifted left expert merged with SLERP\./);
    await expect.poll(() => new URL(lab.page.url()).hash).toContain('pair=base%2Cshift-left');

    // The link restores the pair.
    await lab.open(new URL(lab.page.url()).hash.slice(1), ENGINE);
    await lab.waitForEngine('wasm');
    await lab.waitForLiveScore();
    expect(await panel.getByLabel('t = 0 end (base_model)').inputValue()).toBe('base');
    expect(await panel.getByLabel('t = 1 end').inputValue()).toBe('shift-left');
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);

  test('a per-expert weight and λ per layer reach the live score, the downloaded recipe and the link', async ({ lab }) => {
    await lab.open('method=task_arithmetic&lambda=0.5', { ...ENGINE, charts: false });
    await lab.waitForEngine('wasm');
    let s = await lab.waitForLiveScore();
    const before = s.perTask;
    const panel = lab.mergePanel();

    await panel.getByText('Per expert', { exact: true }).click();
    await panel.getByRole('slider', { name: 'Weight of Inverted', exact: true }).fill('0');
    s = await nextScore(lab, s.seq);
    // Without the invert expert's task vector, the merge does worse on its task.
    expect(parseFloat(s.perTask[0]!)).toBeLessThan(parseFloat(before[0]!));

    await panel.getByText('Per layer', { exact: true }).click();
    await panel.getByRole('checkbox', { name: 'lambda per layer' }).check();
    s = await nextScore(lab, s.seq);
    const same = s.normalized;
    await panel.getByRole('slider', { name: 'lambda in head', exact: true }).fill('0');
    s = await nextScore(lab, s.seq);
    expect(s.normalized, 'λ 0 in the head changes the score').not.toBeCloseTo(same, 3);

    const r = await downloadedRecipe(lab, 'controls.yml');
    expect(r.models[0]).toEqual({ model: 'expert-invert.safetensors', parameters: { weight: 0 } });
    expect(r.models[1]!.parameters?.['weight']).toBe(1);
    expect(r.parameters?.['lambda']).toEqual([
      { filter: 'hidden.', value: 0.5 },
      { filter: 'head.', value: 0 },
    ]);
    // Whole values (head:0, not the head:0.5 the hash held before the move, written once the slider rests).
    await expect.poll(() => decodeURIComponent(new URL(lab.page.url()).hash)).toMatch(/[#&]l\.lambda=hidden:0\.5,head:0(&|$)/);
    expect(decodeURIComponent(new URL(lab.page.url()).hash)).toMatch(/[#&]m\.invert\.weight=0(&|$)/);

    // The link restores both, and with them the same settings and score. The score shown is keyed by
    // the settings it was made with (data-settings): the restored settings' answer is the one compared.
    const scored = s.normalized;
    const settings = lab.mergePanel().getByRole('group', { name: 'Live score' }).locator('[data-settings]');
    const made = await settings.getAttribute('data-settings');
    expect(made).toMatch(/head/);
    // The link with its sweep shown (the first page hid the charts), for the sweep's check below.
    await lab.open(new URL(lab.page.url()).hash.slice(1).replace(/(^|&)sweep_hide=1(?=&|$)/, ''), ENGINE);
    await lab.waitForEngine('wasm');
    await expect.poll(async () => `${(await lab.liveScore()).state} ${(await settings.count()) ? await settings.getAttribute('data-settings') : ''}`, { timeout: 30_000 }).toBe(`ready ${made}`);
    s = await lab.liveScore();
    expect(s.normalized).toBeCloseTo(scored, 6);
    // The sweep sets λ for every layer and expert at each point: the λ per layer now is not on its
    // curve, so it marks no current value, and its exports say λ was swept, not "head 0".
    await lab.waitForChart('sweep');
    const sweep = lab.chart('sweep');
    expect(await sweep.locator('[data-own-values="lambda"]').count()).toBe(1);
    expect(await sweep.locator('.now-marker').count()).toBe(0);
    const csv = (await lab.exportChart('sweep', 'CSV')).bytes.toString('utf8');
    expect(csv).toMatch(/lambda swept \(every layer and model\)/);
    expect(csv).not.toMatch(/head\.?:? ?0\b/);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);

  test('Linear: the base left out or merged in with a weight, and no chart stops on either', async ({ lab }) => {
    await lab.open('method=linear', ENGINE);
    await lab.waitForEngine('wasm');
    let s = await lab.waitForLiveScore();
    for (const id of ['sign-conflicts', 'task-cosines']) await lab.waitForChart(id);
    // Before: MISSING_PARAMETER "linear averages base_model "base" too … list it under models with a weight".
    expect(await lab.page.getByRole('alert').allInnerTexts()).toEqual([]);
    let r = await downloadedRecipe(lab, 'linear-1.yml');
    expect(r.base_model).toBeUndefined();
    const without = s.normalized;
    await lab.mergePanel().getByRole('checkbox', { name: 'Merge the base model in too' }).check();
    s = await nextScore(lab, s.seq);
    await lab.mergePanel().getByRole('slider', { name: 'Weight of the base', exact: true }).fill('2');
    s = await nextScore(lab, s.seq);
    expect(s.normalized, 'the base at weight 2 of 7 pulls the score toward the base').toBeLessThan(without);
    r = await downloadedRecipe(lab, 'linear-2.yml');
    expect(r.base_model).toBe('base.safetensors');
    expect(r.models[0]).toEqual({ model: 'base.safetensors', parameters: { weight: 2 } });
    await expect.poll(() => new URL(lab.page.url()).hash).toContain('baseweight=2');
    expect(await lab.page.getByRole('alert').allInnerTexts()).toEqual([]);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);
});
