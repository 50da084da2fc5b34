/**
 * The per-layer map in Chromium (wasm): absent on the digits demo; the four tiny Llama folders of
 * test/fixtures/mergekit-recipes/models/ (4 layers) chosen, its cells and marked layers read from
 * the DOM equal what the engine gives in Node for the recipe the page shows — sign conflict,
 * cosine and effective rank, and again after a density move; its CSV export carries every cell
 * (PNG and SVG export the drawing);
 * it stays whole at 800 px and in presentation mode at 1280×720, its numbers drawn at the charts'
 * type size.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { diagnose } from '../../src/engine/diagnostics/diagnose.js';
import { layerRanks } from '../../src/engine/diagnostics/layer-ranks.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { describeE2E, test } from './harness.js';
import { waitInPage, type LabPage } from './lab-page.js';
import { chartFills, clippedChartText, overflowing, sidewaysScroll, untitledAxes } from './measure.js';

const MODELS = path.resolve(import.meta.dirname, '../fixtures/mergekit-recipes/models');
const FOLDERS = ['base', 'ft1', 'ft2', 'ft3'];
const ENGINE = { backend: 'wasm' } as const;
/**
 * The digits demo's accuracy and sweep cards, left out by the link: the map is for one's own
 * checkpoints, where neither is drawn, and no test here reads them on the demo (a hidden chart is
 * not computed: the sweep's merges no longer run before the folders are chosen).
 */
const DEMO_ONLY_HIDDEN = 'accuracy_hide=1&sweep_hide=1';

/** Chooses the four folders one after another, as a user would. */
async function chooseLlamas(lab: LabPage): Promise<void> {
  for (const [i, m] of FOLDERS.entries()) {
    await lab.chooseFolder(path.join(MODELS, m));
    await lab.waitForMyModels(i + 1);
  }
}

interface DrawnCell {
  readonly layer: number;
  readonly module: string;
  readonly metric: string;
  /** null: the cell is drawn blank (no value for this metric). */
  readonly value: number | null;
}

async function drawnCells(lab: LabPage): Promise<DrawnCell[]> {
  return lab
    .chart('layer-map')
    .locator('svg[data-grid="layers"] g.grid-cell[data-layer]')
    .evaluateAll((gs) =>
      gs.map((g) => {
        const v = g.getAttribute('data-value') ?? '';
        return { layer: Number(g.getAttribute('data-layer')), module: g.getAttribute('data-module') ?? '', metric: g.getAttribute('data-metric') ?? '', value: v === '' ? null : Number(v) };
      }),
    );
}

/** The layers drawn as marked (a dot and an outline), from the row labels. */
async function markedRows(lab: LabPage): Promise<number[]> {
  return lab
    .chart('layer-map')
    .locator('svg[data-grid="layers"] [data-row-label][data-marked="true"]')
    .evaluateAll((gs) => gs.map((g) => Number(g.getAttribute('data-row-label'))));
}

async function chooseMetric(lab: LabPage, label: string): Promise<void> {
  await lab.chart('layer-map').getByRole('combobox', { name: 'Colour by' }).selectOption({ label });
}

/** The recipe the page shows, over the same folders opened here in Node. */
async function engineInputs(lab: LabPage, opened: Checkpoint[]): Promise<{ yaml: string; recipe: Recipe; checkpoints: Map<string, Checkpoint> }> {
  const yaml = await lab.recipeYaml();
  const recipe = parseRecipe(yaml, 'recipe');
  const names = new Set([...recipe.models.map((m) => m.model), recipe.baseModel!]);
  const checkpoints = new Map(await Promise.all([...names].map(async (n) => [n, await openCheckpointPath(path.join(MODELS, n))] as const)));
  opened.push(...checkpoints.values());
  return { yaml, recipe, checkpoints };
}

describeE2E('the per-layer map', () => {
  test('Llama folders: the cells and marked layers drawn are the engine’s numbers, for every metric and after a density move; whole at 800 px, and in presentation mode at 1280×720 with its numbers larger than at the desk', async ({ lab, onTestFinished }) => {
    const opened: Checkpoint[] = [];
    onTestFinished(async () => void (await Promise.all(opened.map((c) => c.close()))));
    await lab.open(DEMO_ONLY_HIDDEN, ENGINE);
    await lab.waitForEngine('wasm');
    await lab.waitForChart('sign-conflicts');
    // The digits demo is no transformer: no per-layer map.
    expect(await lab.chart('layer-map').count()).toBe(0);

    await chooseLlamas(lab);
    const seq = await lab.waitForChart('layer-map');
    const { recipe, checkpoints } = await engineInputs(lab, opened);
    expect(recipe.mergeMethod).toBe('ties');
    const d = await diagnose({ recipe, methods: METHODS, checkpoints });
    const map = d.layerMap!;
    expect(map.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3]);

    // Sign conflict: 4 layers × 9 modules, each cell the engine's rate; 2 layers (half of 4) marked.
    let cells = await drawnCells(lab);
    expect(cells).toHaveLength(36);
    for (const c of cells) {
      const want = map.cells.find((x) => x.layer === c.layer && x.module === c.module)!;
      expect(c.metric).toBe('conflict');
      expect(c.value, `layer ${c.layer} ${c.module}`).toBeCloseTo(want.conflictRate, 12);
    }
    expect(map.marked).toHaveLength(2);
    expect((await markedRows(lab)).sort()).toEqual([...map.marked].sort());
    expect(await lab.chart('layer-map').locator('[data-marked-layers]').getAttribute('data-marked-layers')).toBe(map.marked.join(','));
    // Embeddings, final norm and head apart, on the same metric.
    const apart = await lab
      .chart('layer-map')
      .locator('svg[data-grid="layers"] g.grid-cell[data-part]')
      .evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-part'), Number(g.getAttribute('data-value'))] as const));
    expect(apart.map(([p]) => p)).toEqual(['embeddings', 'final_norm', 'lm_head']);
    for (const [p, v] of apart) expect(v).toBeCloseTo(map.apart.find((a) => a.part === p)!.conflictRate, 12);

    // Cosine.
    await chooseMetric(lab, 'task-vector cosine');
    cells = await drawnCells(lab);
    for (const c of cells) {
      const want = map.cells.find((x) => x.layer === c.layer && x.module === c.module)!;
      expect(c.metric).toBe('cosine');
      expect(c.value, `layer ${c.layer} ${c.module}`).toBeCloseTo(want.cosine!, 12);
    }

    // Effective rank: asked once the map is shown; the norms (vectors) are blank.
    await chooseMetric(lab, 'effective rank');
    await lab.waitForChart('layer-map');
    const ranks = await layerRanks({ recipe, methods: METHODS, checkpoints });
    cells = await drawnCells(lab);
    expect(cells).toHaveLength(36);
    for (const c of cells) {
      const want = ranks.cells.find((x) => x.layer === c.layer && x.module === c.module);
      expect(c.metric).toBe('rank');
      if (c.module.endsWith('norm')) expect(c.value, `layer ${c.layer} ${c.module}`).toBeNull();
      else expect(c.value, `layer ${c.layer} ${c.module}`).toBeCloseTo(want!.effectiveRank!, 10);
    }

    // A density move: the map follows, and is this request's answer (the engine's at the new density).
    await chooseMetric(lab, 'sign conflict');
    await lab.densitySlider().fill('0.2');
    await lab.waitForChart('layer-map', seq);
    const after = await engineInputs(lab, opened);
    expect(after.yaml).toMatch(/density: 0\.2\b/);
    const moved = (await diagnose({ recipe: after.recipe, methods: METHODS, checkpoints: after.checkpoints })).layerMap!;
    cells = await drawnCells(lab);
    for (const c of cells) expect(c.value).toBeCloseTo(moved.cells.find((x) => x.layer === c.layer && x.module === c.module)!.conflictRate, 12);
    expect((await markedRows(lab)).sort()).toEqual([...moved.marked].sort());
    expect(moved.cells.some((c, i) => c.conflictRate !== map.cells[i]!.conflictRate), 'density changes the conflicts').toBe(true);

    // The CSV carries every cell and part with all three metrics, and what made it.
    const { suggested, bytes } = await lab.exportChart('layer-map', 'CSV');
    expect(suggested).toBe('layer-map.csv');
    const lines = bytes.toString('utf8').trim().split(/\r\n/);
    expect(lines[0]).toBe('layer,module,tensors,entries,sign_conflict_percent,mean_cosine,effective_rank,marked,method,settings');
    expect(lines).toHaveLength(1 + 36 + 3);
    const q0 = lines.find((l) => l.startsWith('0,q,'))!.split(',');
    expect(Number(q0[4])).toBeCloseTo(100 * moved.cells.find((c) => c.layer === 0 && c.module === 'q')!.conflictRate, 10);
    expect(Number(q0[6])).toBeCloseTo(ranks.cells.find((c) => c.layer === 0 && c.module === 'q')!.effectiveRank!, 10);
    expect(q0[8]).toBe('ties');
    // PNG and SVG: the drawing under its title and settings, every cell in it.
    const png = await lab.exportChart('layer-map', 'PNG');
    expect(png.bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    const svg = (await lab.exportChart('layer-map', 'SVG')).bytes.toString('utf8');
    expect(svg).toContain('Per layer: where the experts disagree');
    expect(svg.match(/class="grid-cell"/g)).toHaveLength(36 + 3);

    // At 800 px: nothing scrolls sideways, nothing in the map is cut, its axes are titled.
    await lab.page.setViewportSize({ width: 800, height: 900 });
    await lab.page.waitForTimeout(300);
    expect(await sidewaysScroll(lab.page)).toBeLessThanOrEqual(0);
    expect((await clippedChartText(lab.page)).filter((t) => t.startsWith('layer-map'))).toEqual([]);
    expect((await overflowing(lab.page, 'figure[data-chart="layer-map"]'))).toEqual([]);
    expect((await untitledAxes(lab.page)).filter((t) => t.startsWith('layer-map'))).toEqual([]);
    const fill = (await chartFills(lab.page)).find((f) => f.id === 'layer-map')!;
    expect(fill.union).toBeGreaterThanOrEqual(0.85);
    fs.mkdirSync(lab.resultsDir, { recursive: true });
    await lab.chart('layer-map').screenshot({ path: path.join(lab.resultsDir, 'layer-map-800.png') });

    // Presentation mode at 1280×720, on the same page (a second one would read the four folders and
    // work out the map and its ranks again): the map is drawn whole, its numbers larger than at the desk.
    await lab.page.setViewportSize({ width: 1280, height: 720 });
    await lab.page.waitForTimeout(300);
    const cellText = () => lab.chart('layer-map').locator('svg[data-grid="layers"] g.grid-cell[data-layer] text').first().boundingBox();
    const desk = (await cellText())!.height;
    await lab.page.evaluate(() => void (window.location.hash = `${window.location.hash.replace(/^#/, '')}&present=1`));
    await lab.page.locator('.shell.present').waitFor();
    await lab.waitForChart('layer-map');
    await lab.page.waitForTimeout(300);
    expect(await sidewaysScroll(lab.page)).toBeLessThanOrEqual(0);
    expect((await clippedChartText(lab.page)).filter((t) => t.startsWith('layer-map'))).toEqual([]);
    expect(await overflowing(lab.page, 'figure[data-chart="layer-map"]')).toEqual([]);
    expect((await untitledAxes(lab.page)).filter((t) => t.startsWith('layer-map'))).toEqual([]);
    const presentFill = (await chartFills(lab.page)).find((f) => f.id === 'layer-map')!;
    expect(presentFill.union).toBeGreaterThanOrEqual(0.85);
    const present = (await cellText())!.height;
    console.log(`[e2e] layer map: a cell's number is ${desk.toFixed(1)} px tall at the desk, ${present.toFixed(1)} px in presentation mode (1280×720)`);
    // Drawn at the charts' type size (12 px at the desk, 16 px presenting), not shrunk with the card.
    expect(desk).toBeGreaterThanOrEqual(11);
    expect(present).toBeGreaterThan(desk);
    await lab.chart('layer-map').screenshot({ path: path.join(lab.resultsDir, 'layer-map-present.png') });
    // layers_hide=1 leaves it out, as the other charts' flags do.
    await lab.page.evaluate(() => void (window.location.hash = `${window.location.hash.replace(/^#/, '')}&layers_hide=1`));
    await lab.chart('layer-map').waitFor({ state: 'detached' });
    expect(await lab.chart('sign-conflicts').count()).toBe(1);
    expect(lab.diagnostics.consoleErrors).toEqual([]);
  }, 120_000);

  test('a model too large to rank in the page: the card says so under effective rank, and still draws the conflicts', async ({ lab }) => {
    // Nor the spectrum, which this test does not read.
    await lab.open(`${DEMO_ONLY_HIDDEN}&spectrum_hide=1`, ENGINE);
    await lab.waitForEngine('wasm');
    // One 2048 × 2048 matrix per model: over the one-matrix SVD budget (a SmolLM-135M-sized 1536 × 576 one is within it).
    // The three 16 MiB files are written in the page and dropped there: handed over from here they took 6–9 s under load.
    await lab.dropZone().evaluate((zone) => {
      const checkpoint = (shift: number) => {
        const tensors = [
          { name: 'model.layers.0.mlp.up_proj.weight', shape: [2048, 2048], value: (i: number) => ((i * 7 + shift) % 11) - 5 },
          { name: 'model.layers.0.input_layernorm.weight', shape: [2048], value: (i: number) => (i + shift) % 3 },
        ];
        const header: Record<string, unknown> = {};
        let offset = 0;
        const data = tensors.map((t) => {
          const values = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
          for (let i = 0; i < values.length; i++) values[i] = t.value(i);
          header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + values.byteLength] };
          offset += values.byteLength;
          return values;
        });
        let json = JSON.stringify(header);
        json += ' '.repeat((8 - (json.length % 8)) % 8);
        const head = new TextEncoder().encode(json);
        const size = new Uint8Array(8);
        new DataView(size.buffer).setBigUint64(0, BigInt(head.length), true);
        return new Blob([size, head, ...data]);
      };
      const dt = new DataTransfer();
      for (const [shift, name] of ['base', 'expert-a', 'expert-b'].entries()) dt.items.add(new File([checkpoint(shift)], `${name}.safetensors`, { type: 'application/octet-stream' }));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await lab.waitForMyModels(3);
    await lab.waitForChart('layer-map');
    expect((await drawnCells(lab)).map((c) => c.module)).toEqual(['up', 'attn_norm']);
    await chooseMetric(lab, 'effective rank');
    const refusal = /^Not worked out for models this large: .* about 2\.2 × 10⁹ multiply-adds \(the largest matrix 1\.1 × 10⁹\), and the page allows 10 × 10⁹ \(1 × 10⁹ for one matrix\)/;
    const shown = await waitInPage<string>(
      lab.page,
      (p: { arg: string; last: boolean }) => {
        const text = ((document.querySelector('figure[data-chart="layer-map"] .drawing') as HTMLElement | null)?.innerText ?? '').replace(/\s+/g, ' ');
        return p.last || new RegExp(p.arg).test(text) ? text : false;
      },
      refusal.source,
      'The layer map did not say that effective ranks are not worked out for models this large',
      30_000,
    );
    expect(shown).toMatch(refusal);
    expect(await lab.chart('layer-map').getAttribute('data-chart-state')).toBe('ready');
  }, 90_000);
});
