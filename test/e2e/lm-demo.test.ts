/**
 * The language-model demo in Chromium (wasm), opened by its link (#demo=lm): only public/demo/lm/
 * is fetched (not the digits demo's files), its six checkpoints are listed, and the card scores the
 * merge on the validation windows. Every number the card draws — loss, perplexity, bits per byte
 * of the base, each expert and the merge per domain and on the mixed windows, and the gain — equals
 * lmLab.evaluate in Node on the manifest's validation windows (lm-eval-set.ts) with the recipe the
 * page shows, before and after a λ move (a probe drawn first); the sweep is drawn and its point at
 * the current density is the engine's probe there. Switching to the digits demo shows no LM numbers
 * (no card, no sweep, the digits' own), and back on the LM demo none of the digits'; its per-layer
 * map is drawn (shown last: the link hides it until then, so that with the conflicts and cosines
 * hidden too no diagnostics are computed through the test). (The test
 * split, asked for by its box, is test/app/lm-demo-slice.test.ts's: here it would double the work.)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { EngineApi, LmLabAnswer } from '../../src/engine/api/engine-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { lmEvalTasks, type LmSplit } from '../../src/engine/demo/lm-eval-set.js';
import { parseLmManifest } from '../../src/engine/demo/lm-manifest.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { describeE2E, test } from './harness.js';
import { waitInPage, type LabPage } from './lab-page.js';
import { waitForLmAnswer } from './lm-answer.js';
import { clippedChartText, sidewaysScroll, untitledAxes } from './measure.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');
const ENGINE = { backend: 'wasm' } as const;
/** The page's probe (lm-demo-slice.ts: LM_DEMO_PROBE_TOKENS). */
const PROBE = 64;

interface Row {
  readonly task: string;
  readonly model: string;
  readonly loss: number;
  readonly perplexity: number;
  readonly bpb: number | null;
  readonly gain: number | null;
}

async function shownRows(lab: LabPage): Promise<Row[]> {
  return lab
    .chart('lm-eval')
    .locator('table[aria-label="Language-model scores per task"] tbody tr')
    .evaluateAll((trs) =>
      trs.map((tr) => {
        const d = (tr as HTMLElement).dataset;
        const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v));
        return { task: d['task']!, model: d['model']!, loss: Number(d['loss']), perplexity: Number(d['perplexity']), bpb: num(d['bpb']), gain: num(d['gain']) };
      }),
    );
}

/** Waits for the card's answer in `mode`, up to date, whose text contains `settings` (in the page: lm-answer.ts). */
function waitForAnswer(lab: LabPage, mode: 'probe' | 'full', settings: string, timeout = 60_000): Promise<void> {
  return waitForLmAnswer(lab, mode, new RegExp(settings.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), timeout);
}

/** The LM sweep's state and settings once it is drawn for settings starting `arg` (with `last`: whatever it shows). Runs in the page. */
function sweepShown(p: { arg: string; last: boolean }): string | false {
  const chart = document.querySelector('figure[data-chart="lm-sweep"]');
  const state = `${chart?.getAttribute('data-chart-state')} ${chart?.querySelector('[data-sweep-settings]')?.getAttribute('data-sweep-settings') ?? ''}`;
  return p.last || state.startsWith(`ready ${p.arg}`) ? state : false;
}

/** The engine in Node on the LM demo's files, opened under their file names as the handed-out recipe names them. */
async function nodeEngine(): Promise<{ engine: EngineApi; experts: string[]; ids: string[] }> {
  await initNodeBackend('wasm');
  const manifest = parseLmManifest(await readFile(path.join(DEMO, 'manifest.json'), 'utf8'));
  const engine = createEngine();
  const config = new Blob([await readFile(path.join(DEMO, manifest.config))]);
  for (const f of [manifest.base, ...manifest.domains.map((d) => d.expert)]) {
    await engine.models.openModel(f, [
      { path: 'config.json', blob: config },
      { path: f, blob: new Blob([await readFile(path.join(DEMO, f))]) },
    ]);
  }
  return { engine, experts: manifest.domains.map((d) => d.expert), ids: manifest.domains.map((d) => d.id) };
}

/**
 * The engine's answer in Node for the recipe the page shows, on the same windows. Each domain is
 * asked with its own expert only and the mixed windows with none (every expert on every row would
 * be five times the work, on the two cores the page shares); rows the page has and this has not
 * are left out of the comparison.
 */
function engineAnswer(node: Awaited<ReturnType<typeof nodeEngine>>, yaml: string, split: LmSplit, mode: 'probe' | 'full' = 'full'): Promise<LmLabAnswer[]> {
  // The same recipe's answer is compared twice (after the λ move and back from the digits demo): asked once.
  const key = `${split} ${mode} ${yaml}`;
  let answer = asked.get(key);
  if (!answer) asked.set(key, (answer = computeAnswer(node, yaml, split, mode)));
  return answer;
}

const asked = new Map<string, Promise<LmLabAnswer[]>>();

async function computeAnswer(node: Awaited<ReturnType<typeof nodeEngine>>, yaml: string, split: LmSplit, mode: 'probe' | 'full'): Promise<LmLabAnswer[]> {
  const manifest = parseLmManifest(await readFile(path.join(DEMO, 'manifest.json'), 'utf8'));
  const recipe = parseRecipe(yaml, 'recipe');
  const answers: LmLabAnswer[] = [];
  for (const t of lmEvalTasks(manifest, split)) {
    // The tasks name each domain's expert by its id; in Node the experts are named by their files.
    const expert = t.expert === undefined ? undefined : node.experts[node.ids.indexOf(t.expert)]!;
    answers.push(await node.engine.lmLab.evaluate({ recipe, base: manifest.base, experts: expert ? [expert] : [], tasks: [{ ...t, ...(expert ? { expert } : {}) }], mode, context: manifest.context, probeTokens: PROBE }));
  }
  return answers;
}

/** Every number drawn that Node computed equals the engine's there (wasm both sides; losses to 1e-5 relative). */
function expectRows(rows: readonly Row[], want: readonly LmLabAnswer[], ids: readonly string[]): void {
  const tasks = want.map((a) => a.tasks[0]!);
  expect([...new Set(rows.map((r) => r.task))]).toEqual(tasks.map((t) => t.name));
  expect([...new Set(rows.map((r) => r.model))]).toEqual(['lm-base', ...ids, 'merged']);
  const expected = tasks.flatMap((t) => [
    { task: t.name, model: 'lm-base', m: t.base, gain: null as number | null },
    ...(t.expert ? [{ task: t.name, model: ids[tasks.indexOf(t)]!, m: t.experts[0]!, gain: null as number | null }] : []),
    { task: t.name, model: 'merged', m: t.merged, gain: t.gain },
  ]);
  for (const e of expected) {
    const where = `${e.task} ${e.model}`;
    const r = rows.find((x) => x.task === e.task && x.model === e.model)!;
    expect(r, where).toBeDefined();
    expect(Math.abs(r.loss - e.m.loss) / e.m.loss, where).toBeLessThan(1e-5);
    expect(Math.abs(r.perplexity - e.m.perplexity) / e.m.perplexity, where).toBeLessThan(1e-4);
    if (e.m.bitsPerByte === null) expect(r.bpb, where).toBeNull();
    else expect(Math.abs(r.bpb! - e.m.bitsPerByte) / e.m.bitsPerByte, where).toBeLessThan(1e-5);
    if (e.gain === null) expect(r.gain, where).toBeNull();
    else expect(r.gain!, where).toBeCloseTo(e.gain, 4);
  }
}

describeE2E('the language-model demo', () => {
  test('#demo=lm loads only the LM demo; the card’s numbers are the engine’s on the validation windows before and after a λ move; the sweep is drawn; switching demos shows no foreign numbers', async ({ lab }) => {
    const fetched: string[] = [];
    lab.page.on('request', (r) => void fetched.push(new URL(r.url()).pathname));
    const opened = Date.now();
    // The charts this test reads none of left out by the link (neither drawn nor computed): sign
    // conflicts, cosines, spectrum. The per-layer map too until the end, where it is shown and
    // checked: with all three hidden, the diagnostics that carry it are not computed meanwhile.
    await lab.open('demo=lm&conflicts_hide=1&cosines_hide=1&spectrum_hide=1&layers_hide=1', ENGINE);
    const node = nodeEngine();
    // The engine without the digits demo in it (waitForEngine waits for that demo too).
    await lab.page.locator('[data-engine-state="ready"][data-backend="wasm"]').waitFor({ state: 'attached', timeout: 60_000 });
    await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 30_000 });
    const loadedMs = Date.now() - opened;
    expect(await lab.source()).toBe('lm');
    const rows = await lab.page.getByRole('table', { name: 'Language-model demo models' }).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => `${(tr as HTMLElement).dataset['model']} ${(tr as HTMLElement).dataset['id']} ${(tr as HTMLElement).dataset['status']}`));
    expect(rows).toEqual(['base.safetensors lm-base ready', ...['romance', 'germanic', 'slavic', 'uralic', 'code'].map((d) => `expert-${d}.safetensors ${d} ready`)]);
    // Only the LM demo's files: the digits demo's manifest, checkpoints and data wait until it is chosen.
    expect(fetched.filter((p) => p.startsWith('/demo/lm/')).sort()).toEqual(['/demo/lm/base.safetensors', '/demo/lm/config.json', ...['code', 'germanic', 'romance', 'slavic', 'uralic'].map((d) => `/demo/lm/expert-${d}.safetensors`), '/demo/lm/manifest.json']);
    expect(fetched.filter((p) => /\/demo\/[^/]+$|digits/.test(p))).toEqual([]);

    // The card: every number the engine's in Node, on the validation windows, for the recipe the page shows.
    const yaml = await lab.recipeYaml();
    expect(yaml).toMatch(/merge_method: ties/);
    expect(yaml).toMatch(/base_model: base\.safetensors/);
    const want = engineAnswer(await node, yaml, 'validation');
    await waitForAnswer(lab, 'full', 'density 0.3');
    const answeredMs = Date.now() - opened;
    const card = lab.chart('lm-eval');
    expect(await card.locator('[data-split]').getAttribute('data-split')).toBe('validation');
    const { ids } = await node;
    expectRows(await shownRows(lab), await want, ids);
    expect((await want).map((a) => a.tasks[0]!.name)).toEqual([...ids, 'mixed']);
    // The mixed windows have no expert: no gain, and the gain chart leaves them out.
    expect(await card.locator('tr[data-task="mixed"][data-model="merged"]').getAttribute('data-gain')).toBe('');
    expect(await lab.chart('accuracy').count()).toBe(0);

    // A λ move: a probe first (no bits per byte), then all the windows at the new λ, again the engine's.
    const moved = Date.now();
    await lab.lambdaSlider().fill('0.5');
    await waitForAnswer(lab, 'probe', 'lambda 0.5');
    const probeMs = Date.now() - moved;
    expect((await shownRows(lab)).every((r) => r.bpb === null)).toBe(true);
    await waitForAnswer(lab, 'full', 'lambda 0.5');
    const fullMs = Date.now() - moved;
    const movedYaml = await lab.recipeYaml();
    expect(movedYaml).toMatch(/lambda: 0\.5\b/);
    expectRows(await shownRows(lab), await engineAnswer(await node, movedYaml, 'validation'), ids);

    // The sweep (density, by default), drawn on probes: its point at the current density is the engine's probe there.
    await waitInPage(lab.page, sweepShown, 'lambda 0.5,', 'The LM sweep was not drawn for λ 0.5', 60_000);
    const csv = (await lab.exportChart('lm-sweep', 'CSV')).bytes.toString('utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^density,mean_gain,mean_loss_nats_per_token,romance_loss,romance_gain,/);
    const point = csv.slice(1).map((line) => line.split(',')).find((c) => Number(c[0]) === 0.3)!;
    const probe = (await engineAnswer(await node, movedYaml, 'validation', 'probe')).map((a) => a.tasks[0]!);
    expect(Number(point[2])).toBeCloseTo(probe.reduce((n, t) => n + t.merged.loss, 0) / probe.length, 4);
    // The mean gain over the domains whose expert beats the base on its probe.
    const gains = probe.filter((t) => t.gain !== null && t.experts[0]!.loss < t.base.loss).map((t) => t.gain!);
    expect(Number(point[1])).toBeCloseTo(gains.reduce((a, b) => a + b, 0) / gains.length, 4);
    expect(csv).toHaveLength(11);

    // At 800 px: nothing scrolls sideways, the LM charts' axes are titled and none of their text is cut.
    await lab.page.setViewportSize({ width: 800, height: 900 });
    await lab.page.waitForTimeout(300);
    expect(await sidewaysScroll(lab.page)).toBeLessThanOrEqual(0);
    expect((await untitledAxes(lab.page)).filter((t) => t.startsWith('lm-'))).toEqual([]);
    expect((await clippedChartText(lab.page)).filter((t) => t.startsWith('lm-'))).toEqual([]);
    await lab.page.setViewportSize({ width: 1280, height: 900 });

    // The digits demo: loaded when chosen; none of the LM demo's numbers drawn.
    await lab.page.getByRole('radio', { name: 'Digits demo: 5 image tasks' }).check();
    await lab.waitForDemo();
    await lab.waitForChart('accuracy');
    expect(await lab.chart('lm-eval').count()).toBe(0);
    expect(await lab.chart('lm-sweep').count()).toBe(0);
    expect(await lab.mergePanel().getByRole('table', { name: 'Loss per domain' }).count()).toBe(0);
    expect(await lab.recipeYaml()).toMatch(/expert-invert\.safetensors/);
    // And back: the LM demo's answer again (its base and experts kept in the worker), none of the digits'.
    await lab.page.getByRole('radio', { name: 'Language-model demo: 5 text domains' }).check();
    const back = Date.now();
    await waitForAnswer(lab, 'full', 'lambda 0.5');
    const backMs = Date.now() - back;
    expect(await lab.chart('accuracy').count()).toBe(0);
    expectRows(await shownRows(lab), await engineAnswer(await node, movedYaml, 'validation'), ids);
    expect(await lab.page.evaluate(() => window.location.hash)).toMatch(/demo=lm/);
    // The per-layer map, shown: drawn on the LM demo.
    await lab.page.evaluate(() => {
      const q = new URLSearchParams(window.location.hash.slice(1));
      q.delete('layers_hide');
      window.location.hash = q.toString();
    });
    await lab.waitForChart('layer-map');
    const load = await lab.measures('lm-demo-load');
    const slider = await lab.measures('slider-to-lm');
    console.log(
      `[e2e] lm-demo (wasm): demo loaded ${loadedMs} ms after opening (lm-demo-load ${load.map((x) => x.toFixed(0)).join(', ')} ms), first full answer ${answeredMs} ms; λ move → probe ${probeMs} ms (slider-to-lm ${slider.map((x) => x.toFixed(0)).join(', ')} ms), all windows ${fullMs} ms; back from the digits demo ${backMs} ms`,
    );
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);
});
