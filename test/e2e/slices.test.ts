/**
 * The layer-stack editor for one's own checkpoints: two 4-layer Llama folders
 * (test/fixtures/mergekit-recipes/models/) stacked as base layers 0-3 then ft1 layers 1-4, the
 * strip and the count showing 6 layers, the recipe shown with its slices; merged, downloaded as a
 * zip whose config.json says 6 layers, whose weights hold layers 0-5 (layer 3 ft1's layer 1), and
 * whose recipe is the slices one.
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
      await editor.getByLabel('End of slice 1', { exact: true }).fill('3');
      await editor.getByRole('button', { name: 'Add slice' }).click();
      await editor.getByLabel('Model of slice 2', { exact: true }).selectOption('ft1');
      await editor.getByLabel('First layer of slice 2', { exact: true }).fill('1');
      await editor.getByLabel('End of slice 2', { exact: true }).fill('4');
      await expect.poll(() => editor.locator('.stack-count').getAttribute('data-layers')).toBe('6');
      expect(await editor.locator('.layer-strip .layer-cell').evaluateAll((cells) => cells.map((c) => (c as HTMLElement).dataset['model']))).toEqual(['base-2', 'base-2', 'base-2', 'ft1', 'ft1', 'ft1']);
      expect(await editor.locator('.stack-count').textContent()).toContain('Merged model: 6 layers (3 + 3)');
      await expect.poll(() => lab.recipeYaml()).toMatch(/^slices:\n {2}- sources:\n {6}- model: base\n {8}layer_range: \[ ?0, 3 ?\]\n {2}- sources:\n {6}- model: ft1\n {8}layer_range: \[ ?1, 4 ?\]\nmerge_method: passthrough$/m);

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
});
