/**
 * The layer-stack editor for one's own checkpoints: two 4-layer Llama folders
 * (test/fixtures/mergekit-recipes/models/) stacked as base layers 0-3 then ft1 layers 1-4, the
 * strip and the count showing 6 layers, the recipe shown with its slices; merged, downloaded as a
 * zip whose config.json says 6 layers, whose weights hold layers 0-5 (layer 3 ft1's layer 1), and
 * whose recipe is the slices one; the per-layer map showing the six layers, each labelled with its
 * source. An imported slices: recipe whose second slice merges both models with slerp loads into the
 * editor (that slice greyed, its strip cells in both colours) and merges.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { expect } from 'vitest';
import { memorySource } from '../../src/engine/io/sources.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { describeE2E, test } from './harness.js';

const MODELS = path.resolve(import.meta.dirname, '../fixtures/mergekit-recipes/models');

describeE2E('the layer stack', () => {
  test('a two-slice stack of two checkpoints merges into a 6-layer model, downloaded with its layer count and slices recipe', async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-stack-'));
    try {
      await lab.open('', { backend: 'wasm' });
      await lab.waitForDemo();
      for (const m of ['base', 'ft1']) {
        await lab.chooseFolder(path.join(MODELS, m));
        await lab.waitForMyModels(['base', 'ft1'].indexOf(m) + 1);
      }
      const page = lab.page;
      const editor = page.getByRole('region', { name: 'Layer stack' });
      await editor.getByRole('checkbox').check();
      // It starts from the base's whole stack (opened as base-2: "base" is the demo's).
      await expect.poll(() => editor.locator('.stack-count').getAttribute('data-layers')).toBe('4');
      // The Merge panel says the stack, not the method, is what Merge merges.
      expect(await lab.mergePanel().locator('.lead').textContent()).toContain("Your checkpoints' layers stacked as the Layer stack under Models lists them");
      await editor.getByLabel('End of slice 1', { exact: true }).fill('3');
      await editor.getByRole('button', { name: 'Add slice' }).click();
      await editor.getByLabel('Model of slice 2', { exact: true }).selectOption('ft1');
      await editor.getByLabel('First layer of slice 2', { exact: true }).fill('1');
      await editor.getByLabel('End of slice 2', { exact: true }).fill('4');
      await expect.poll(() => editor.locator('.stack-count').getAttribute('data-layers')).toBe('6');
      expect(await editor.locator('.layer-strip .layer-cell').evaluateAll((cells) => cells.map((c) => (c as HTMLElement).dataset['model']))).toEqual(['base-2', 'base-2', 'base-2', 'ft1', 'ft1', 'ft1']);
      expect(await editor.locator('.stack-count').textContent()).toContain('Merged model: 6 layers (3 + 3)');
      await expect.poll(() => lab.recipeYaml()).toMatch(/^slices:\n {2}- sources:\n {6}- model: base\n {8}layer_range: \[ ?0, 3 ?\]\n {2}- sources:\n {6}- model: ft1\n {8}layer_range: \[ ?1, 4 ?\]\nmerge_method: passthrough$/m);
      // The per-layer map follows the stack: the merged model's six layers, each labelled with its source.
      const map = lab.chart('layer-map');
      await expect.poll(() => map.locator('[data-stacked-layers]').getAttribute('data-stacked-layers'), { timeout: 30_000 }).toBe('6');
      expect(await map.locator('svg[data-grid="layers"] [data-row-label]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-row-label')))).toEqual([
        'embeddings',
        '0 ← base-2 L0',
        '1 ← base-2 L1',
        '2 ← base-2 L2',
        '3 ← ft1 L1',
        '4 ← ft1 L2',
        '5 ← ft1 L3',
        'final norm',
        'LM head',
      ]);
      // For issue 18's closing note: the stacked map and the editor.
      fs.mkdirSync(lab.resultsDir, { recursive: true });
      await map.screenshot({ path: path.join(lab.resultsDir, 'layer-map-stacked.png') });
      await editor.screenshot({ path: path.join(lab.resultsDir, 'slice-editor.png') });

      expect(await lab.merge(), await lab.jobText()).toBe('done');
      const { suggested, bytes } = await lab.download(lab.downloadModelButton(), path.join(dir, 'model.zip'));
      expect(suggested).toBe('merged-passthrough.zip');
      const files = unzipSync(new Uint8Array(bytes));
      const text = (n: string) => new TextDecoder().decode(files[`merged-passthrough/${n}`]);
      expect(JSON.parse(text('config.json'))).toMatchObject({ model_type: 'llama', num_hidden_layers: 6 });
      expect(text('mergekit_config.yml')).toMatch(/^merge_method: passthrough$/m);
      expect(text('mergekit_config.yml')).toMatch(/model: ft1\n {8}layer_range: \[ ?1, 4 ?\]/);

      const weights = await openSafetensors(memorySource('merged', files['merged-passthrough/model.safetensors']!));
      const layerIds = [...new Set(weights.tensorNames.map((n) => /^model\.layers\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined))].map(Number).sort((a, b) => a - b);
      expect(layerIds).toEqual([0, 1, 2, 3, 4, 5]);
      // Output layer 3 is ft1's layer 1, byte for byte.
      const ft1 = await openCheckpointPath(path.join(MODELS, 'ft1'));
      try {
        const want = await ft1.readRaw('model.layers.1.mlp.up_proj.weight');
        expect(Buffer.from(await weights.readRaw('model.layers.3.mlp.up_proj.weight')).equals(Buffer.from(want))).toBe(true);
      } finally {
        await ft1.close();
      }
      expect(lab.diagnostics.pageErrors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an imported slices: recipe with a slice that merges two sources loads into the editor, merges as linear computes it, and is shown as it was', async ({ lab }) => {
    await lab.open('', { backend: 'wasm' });
    await lab.waitForDemo();
    for (const m of ['base', 'ft1']) {
      await lab.chooseFolder(path.join(MODELS, m));
      await lab.waitForMyModels(['base', 'ft1'].indexOf(m) + 1);
    }
    const yaml = [
      'slices:',
      '  - sources:',
      '      - model: base',
      '        layer_range: [0, 2]',
      '  - sources:',
      '      - model: base',
      '        layer_range: [1, 4]',
      '      - model: ft1',
      '        layer_range: [1, 4]',
      '        parameters:',
      '          weight: 0.3',
      'merge_method: linear',
      'parameters:',
      '  weight: 1',
      '',
    ].join('\n');
    const input = lab.mergePanel().getByLabel('Import recipe', { exact: true });
    await input.setInputFiles({ name: 'stack.yml', mimeType: 'application/yaml', buffer: Buffer.from(yaml) });
    const status = lab.mergePanel().locator('.recipe-import [role="status"]');
    await expect.poll(() => status.textContent()).toContain('kept whole in the layer stack, merged with linear');
    expect(await lab.mergePanel().locator('.recipe-import').getAttribute('data-import')).toBe('ok');

    const editor = lab.page.getByRole('region', { name: 'Layer stack' });
    await expect.poll(() => editor.locator('.stack-count').getAttribute('data-layers')).toBe('5');
    expect(await editor.locator('tr[data-slice="1"]').getAttribute('data-imported')).toBe('merged');
    expect(await editor.getByLabel('Model of slice 2', { exact: true }).isDisabled()).toBe(true);
    expect(await editor.getByRole('note', { name: 'Imported slices' }).textContent()).toContain('Slice 2 merges "base-2" layers 1–3 and "ft1" layers 1–3 (weight 0.3) with linear (weight 1), as the imported recipe has it.');
    expect(await editor.locator('.layer-strip .layer-cell').evaluateAll((cells) => cells.map((c) => (c as HTMLElement).dataset['sources'] ?? ''))).toEqual(['', '', 'base-2,ft1', 'base-2,ft1', 'base-2,ft1']);
    fs.mkdirSync(lab.resultsDir, { recursive: true });
    await editor.screenshot({ path: path.join(lab.resultsDir, 'slice-editor-imported.png') });

    // The recipe shown is the imported one, with the files' names.
    const shown = await lab.recipeYaml();
    expect(shown).toMatch(/^merge_method: linear$/m);
    expect(shown).toMatch(/- model: ft1\n {8}layer_range: \[ ?1, 4 ?\]\n {8}parameters:\n {10}weight: 0\.3/);
    expect(shown).toMatch(/^parameters:\n {2}weight: 1$/m);
    expect(await lab.merge(), await lab.jobText()).toBe('done');
    // Merged layer 3 is slice 2's second layer: (1 · base's layer 2 + 0.3 · ft1's layer 2) / 1.3, as linear normalizes.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-stack-import-'));
    try {
      const { bytes } = await lab.download(lab.downloadWeightsLink(), path.join(dir, 'model.safetensors'));
      const weights = await openSafetensors(memorySource('merged', new Uint8Array(bytes)));
      const name = 'model.layers.3.mlp.up_proj.weight';
      const got = new Float32Array((await weights.readRaw(name)).slice().buffer);
      const read = async (m: string, layer: number) => {
        const c = await openCheckpointPath(path.join(MODELS, m));
        try {
          return new Float32Array((await c.readRaw(`model.layers.${layer}.mlp.up_proj.weight`)).slice().buffer);
        } finally {
          await c.close();
        }
      };
      const [b, f] = [await read('base', 2), await read('ft1', 2)];
      expect(weights.tensorNames.filter((n) => n.endsWith('mlp.up_proj.weight')).length).toBe(5);
      expect(Math.max(...got.map((x, i) => Math.abs(x - (b[i]! + 0.3 * f[i]!) / 1.3)))).toBeLessThan(1e-6);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(lab.diagnostics.pageErrors).toEqual([]);
  });
});
