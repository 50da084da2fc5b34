/**
 * The lab with the user's own checkpoints: three small checkpoints (built here with the engine's
 * writer) dropped on the Models panel are listed with roles, dtypes, sizes and header checks; a
 * broken file shows its error on its own row while the others stay; a TIES merge of them
 * downloads a model.safetensors equal (1e-5) to the CLI's output for the same recipe.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { memorySource } from '../../src/engine/io/sources.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { writeSafetensorsToMemory, type TensorWithData } from '../../src/engine/io/safetensors-writer.js';
import { mergeLab } from './cli.js';
import { describeE2E, test } from './harness.js';

const ENGINE = { backend: 'wasm' } as const;

/** A deterministic pseudo-random float32 array (mulberry32), so every run builds the same files. */
function values(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5) * 2;
  }
  return out;
}

const SHAPES: readonly [string, number[]][] = [
  ['model.embed_tokens.weight', [16, 8]],
  ['model.layers.0.mlp.up_proj.weight', [12, 8]],
  ['model.layers.0.mlp.down_proj.weight', [8, 12]],
  ['model.norm.weight', [8]],
];

function checkpoint(seed: number, shapes = SHAPES): Promise<Uint8Array> {
  const tensors: TensorWithData[] = shapes.map(([name, shape], i) => ({ name, dtype: 'F32', shape, data: values(shape.reduce((a, b) => a * b, 1), seed * 100 + i) }));
  return writeSafetensorsToMemory(tensors);
}

async function readAll(bytes: Uint8Array, name: string): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
  const f = await openSafetensors(memorySource(name, bytes));
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const t of f.tensorNames) out.set(t, { shape: f.info(t)!.shape, data: await f.readFloat32(t) });
  return out;
}

describeE2E('my checkpoints: drop, check, merge, download', () => {
  test('three dropped checkpoints merge with TIES to what the CLI writes for the same recipe', async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-lab-'));
    try {
      const files = {
        'base-model': await checkpoint(1),
        'expert-a': await checkpoint(2),
        'expert-b': await checkpoint(3),
      };
      // Another architecture: one tensor missing, one of another shape.
      const odd = await checkpoint(4, [SHAPES[0]!, ['model.layers.0.mlp.up_proj.weight', [8, 12]], SHAPES[3]!]);
      const broken = (await checkpoint(5)).subarray(0, 200);
      for (const [id, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, `${id}.safetensors`), bytes);
      fs.writeFileSync(path.join(dir, 'broken.safetensors'), broken);

      await lab.open('', { ...ENGINE, charts: false });
      await lab.waitForDemo();
      expect(await lab.source()).toBe('demo');

      let t = performance.now();
      await lab.dropFiles(Object.entries(files).map(([id, bytes]) => ({ name: `${id}.safetensors`, bytes })));
      await lab.waitForMyModels(3);
      console.log(`[e2e] 3 dropped checkpoints listed in ${(performance.now() - t).toFixed(0)} ms`);
      expect(await lab.source()).toBe('mine');
      let rows = await lab.myModels();
      expect(rows.map((r) => [r.id, r.role, r.status])).toEqual([
        ['base-model', 'base', 'ready'],
        ['expert-a', 'expert', 'ready'],
        ['expert-b', 'expert', 'ready'],
      ]);
      const params = SHAPES.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
      for (const r of rows) {
        expect(r.dtype).toBe('float32');
        expect(r.parameters).toBe(params.toLocaleString('en-US'));
        expect(r.size).toMatch(/^\d+(\.\d)? kB$/);
      }
      expect(rows[1]!.check).toBe('ok');

      // A broken file (chosen with the picker) and a mismatched one: errors on their own rows, the others stay.
      fs.writeFileSync(path.join(dir, 'odd.safetensors'), odd);
      await lab.chooseFiles([path.join(dir, 'broken.safetensors'), path.join(dir, 'odd.safetensors')]);
      await lab.waitForMyModels(5);
      rows = await lab.myModels();
      expect(rows.map((r) => r.status)).toEqual(['ready', 'ready', 'ready', 'error', 'ready']);
      const brokenText = (await lab.myModelRow('broken').getByRole('alert').textContent()) ?? '';
      expect(brokenText).toMatch(/^(FILE_TRUNCATED|HEADER_OUT_OF_BOUNDS|FILE_TOO_SMALL)/);
      expect(brokenText).toContain('broken.safetensors');
      const oddRow = rows.find((r) => r.id === 'odd')!;
      expect(oddRow.check).toBe('mismatch');
      expect(oddRow.statusText).toContain('model.layers.0.mlp.down_proj.weight');
      expect(oddRow.statusText).toContain('model.layers.0.mlp.up_proj.weight [8, 12] (base [12, 8])');
      await lab.screenshot('lab-models');

      // Re-order, exclude and remove; make the base explicit.
      await lab.page.getByRole('button', { name: 'Move expert-b up' }).click();
      expect((await lab.myModels()).map((r) => r.id)).toEqual(['base-model', 'expert-b', 'expert-a', 'broken', 'odd']);
      await lab.page.getByRole('button', { name: 'Move expert-b down' }).click();
      await lab.page.getByRole('button', { name: 'Remove broken' }).click();
      await lab.roleSelect('odd').selectOption('excluded');
      await lab.roleSelect('base-model').selectOption('base');
      expect((await lab.myModels()).map((r) => [r.id, r.role])).toEqual([
        ['base-model', 'base'],
        ['expert-a', 'expert'],
        ['expert-b', 'expert'],
        ['odd', 'excluded'],
      ]);

      // TIES (the default) with a per-model weight.
      expect(await lab.mergePanel().getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('ties');
      await lab.mergePanel().getByRole('slider', { name: 'Weight of expert-a', exact: true }).fill('0.5');
      await lab.densitySlider().fill('0.5');
      const yaml = await lab.recipeYaml();
      const recipe = parse(yaml) as { merge_method: string; base_model: string; models: { model: string; parameters: Record<string, number> }[] };
      expect(recipe.merge_method).toBe('ties');
      // The recipe names the dropped files, not the lab's ids: it runs beside them unchanged.
      expect(recipe.base_model).toBe('base-model.safetensors');
      expect(recipe.models.map((m) => [m.model, m.parameters['weight'], m.parameters['density']])).toEqual([
        ['expert-a.safetensors', 0.5, 0.5],
        ['expert-b.safetensors', 1, 0.5],
      ]);

      t = performance.now();
      expect(await lab.merge()).toBe('done');
      console.log(`[e2e] merge of the dropped checkpoints: ${(performance.now() - t).toFixed(0)} ms (click to done)`);
      const { bytes: merged, suggested } = await lab.download(lab.downloadWeightsLink(), path.join(dir, 'lab.safetensors'));
      expect(suggested).toBe('model.safetensors');

      // The downloaded recipe, unchanged, through the CLI in the folder that holds the files.
      const { bytes: recipeBytes } = await lab.download(lab.downloadRecipeLink(), path.join(dir, 'recipe.yml'));
      expect(recipeBytes.toString('utf8')).toContain('base_model: base-model.safetensors');
      t = performance.now();
      await mergeLab(['merge', 'recipe.yml', '--out', 'cli', '--backend', 'wasm', '--no-progress'], dir);
      console.log(`[e2e] CLI merge of the downloaded recipe: ${(performance.now() - t).toFixed(0)} ms`);
      const cliBytes = fs.readFileSync(path.join(dir, 'cli/model.safetensors'));
      expect(cliBytes.equals(merged), 'the CLI writes the same bytes as the page').toBe(true);
      const a = await readAll(merged, 'lab');
      const b = await readAll(fs.readFileSync(path.join(dir, 'cli/model.safetensors')), 'cli');
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      let maxDiff = 0;
      for (const [name, x] of a) {
        const y = b.get(name)!;
        expect(x.shape, name).toEqual(y.shape);
        for (let i = 0; i < x.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x.data[i]! - y.data[i]!));
      }
      console.log(`[e2e] lab vs CLI: ${a.size} tensors, max |diff| ${maxDiff}`);
      expect(maxDiff).toBeLessThanOrEqual(1e-5);

      // A worker restart re-opens the dropped models: merging again still works.
      await lab.killWorker();
      await lab.waitForEngine('wasm');
      expect(await lab.merge(), await lab.jobText()).toBe('done');
      expect(lab.diagnostics.pageErrors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the URL hash holds the method, the controls and the tab; opening it restores them', async ({ lab }) => {
    // The Methods tab is open, so the Models panel (and its demo status) is not rendered: no waitForDemo here.
    // No chart is read here: left out by the link (the hash keeps the flags), neither page computes them.
    await lab.open('method=dare_ties&density=0.4&lambda=0.75&tab=methods&g.normalize=false', { ...ENGINE, charts: false });
    await lab.tab('Methods').waitFor();
    expect(await lab.tab('Methods').getAttribute('aria-selected')).toBe('true');
    expect(await lab.page.getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('dare_ties');
    expect(await lab.densitySlider().inputValue()).toBe('0.4');
    expect(await lab.lambdaSlider().inputValue()).toBe('0.75');
    expect(await lab.mergePanel().getByRole('checkbox', { name: 'normalize' }).isChecked()).toBe(false);
    expect(await lab.recipeYaml()).toMatch(/merge_method: dare_ties/);

    // Moves are written back to the hash; a fresh page at that URL shows the same state.
    await lab.lambdaSlider().fill('1.25');
    await lab.tab('About').click();
    await expect.poll(() => new URL(lab.page.url()).hash).toContain('lambda=1.25');
    const url = lab.page.url();
    expect(new URL(url).hash).toContain('tab=about');
    await lab.page.goto('about:blank');
    await lab.page.goto(url);
    await lab.tab('About').waitFor();
    expect(await lab.tab('About').getAttribute('aria-selected')).toBe('true');
    expect(await lab.lambdaSlider().inputValue()).toBe('1.25');
    expect(await lab.densitySlider().inputValue()).toBe('0.4');
    await lab.openTab('Methods');
    expect(await lab.page.getByRole('combobox', { name: 'Merge method' }).inputValue()).toBe('dare_ties');
  });

  test('importing a YAML recipe sets the controls; a broken one shows its problems and keeps the recipe', async ({ lab }) => {
    await lab.open('', { ...ENGINE, charts: false });
    await lab.waitForDemo();
    const input = lab.mergePanel().getByLabel('Import recipe', { exact: true });
    const yaml = [
      'merge_method: breadcrumbs_ties',
      'base_model: base',
      'models:',
      // A demo expert: the demo's models are the ones loaded (a model the lab does not have is listed as not applied).
      '  - model: invert',
      '    parameters: { weight: 1, density: 0.6, gamma: 0.02 }',
      'parameters:',
      '  lambda: 0.8',
      '  normalize: false',
      '',
    ].join('\n');
    await input.setInputFiles({ name: 'mine.yaml', mimeType: 'application/yaml', buffer: Buffer.from(yaml) });
    const status = lab.mergePanel().getByRole('status').filter({ hasText: 'Imported mine.yaml' });
    expect(await status.textContent()).toContain('method breadcrumbs_ties');
    expect(await lab.densitySlider().inputValue()).toBe('0.6');
    expect(await lab.lambdaSlider().inputValue()).toBe('0.8');
    expect(await lab.mergePanel().getByRole('checkbox', { name: 'normalize' }).isChecked()).toBe(false);
    expect(await lab.recipeYaml()).toMatch(/merge_method: breadcrumbs_ties/);
    expect(new URL(lab.page.url()).hash).toContain('method=breadcrumbs_ties');
    // "Download recipe" gives the YAML shown.
    const file = path.join(lab.resultsDir, 'lab-imported-recipe.yml');
    const { suggested, bytes } = await lab.download(lab.currentRecipeLink(), file);
    expect(suggested).toBe('merge-recipe.yml');
    expect(bytes.toString('utf8').trim()).toBe((await lab.recipeYaml()).trim());
    fs.rmSync(file, { force: true });

    // A recipe with problems: they are shown, with their codes, and the controls stay as they were.
    await input.setInputFiles({ name: 'bad.yml', mimeType: 'application/yaml', buffer: Buffer.from('merge_method: no_such_method\nmodels: 3\n') });
    const alert = lab.mergePanel().getByRole('alert').filter({ hasText: 'bad.yml' });
    expect(await alert.textContent()).toMatch(/[A-Z_]{5,}.*bad\.yml.*The current recipe is unchanged\./);
    console.log(`[e2e] import of a broken recipe says: ${await alert.textContent()}`);
    expect(await lab.densitySlider().inputValue()).toBe('0.6');
    expect(await lab.recipeYaml()).toMatch(/merge_method: breadcrumbs_ties/);
  });

  test('a sharded Hugging Face folder (chosen with the folder picker) is one model; removing the last model goes back to the demo', async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-shards-'));
    try {
      const folder = path.join(dir, 'sharded-model');
      fs.mkdirSync(folder);
      const tensors = SHAPES.map(([name, shape], i) => ({ name, dtype: 'F32' as const, shape, data: values(shape.reduce((a, b) => a * b, 1), 700 + i) }));
      const shards = [tensors.slice(0, 2), tensors.slice(2)];
      const weightMap: Record<string, string> = {};
      let total = 0;
      for (const [i, list] of shards.entries()) {
        const file = `model-0000${i + 1}-of-00002.safetensors`;
        fs.writeFileSync(path.join(folder, file), await writeSafetensorsToMemory(list));
        for (const t of list) {
          weightMap[t.name] = file;
          total += t.data.byteLength;
        }
      }
      fs.writeFileSync(path.join(folder, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }));
      fs.writeFileSync(path.join(folder, 'README.md'), 'not a checkpoint file: left out');

      await lab.open('', { ...ENGINE, charts: false });
      await lab.waitForDemo();
      await lab.chooseFolder(folder);
      await lab.waitForMyModels(1);
      const [row] = await lab.myModels();
      expect(row!.id).toBe('sharded-model');
      expect(row!.status, row!.statusText).toBe('ready');
      // Alone and not named "base", it is not taken for the base: the lab asks for one.
      expect(row!.role).toBe('expert');
      expect(row!.parameters).toBe((total / 4).toLocaleString('en-US'));
      expect(await lab.myModelRow('sharded-model').textContent()).toContain('(3 files)');
      expect(await lab.unnamedControls()).toEqual([]);

      await lab.page.getByRole('button', { name: 'Remove sharded-model' }).click();
      // The attribute changes on the next render after the click; under CI's load that came later than one read.
      await expect.poll(() => lab.source(), { timeout: 10_000 }).toBe('demo');
      expect(await lab.waitForDemo()).toBe('loaded');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
