/**
 * "Download merged model" in the lab: three Llama-shaped model folders (test/fixtures/mergekit-
 * recipes/models/, with config.json and a tokenizer) chosen with the folder picker, merged with
 * TIES, downloaded as one zip. The zip holds the folder as the command line writes it:
 * model.safetensors, config.json (the base's, dtype set), the base's tokenizer files byte for
 * byte, mergekit_config.yml and README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { expect } from 'vitest';
import { memorySource } from '../../src/engine/io/sources.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { describeE2E, test } from './harness.js';

const MODELS = path.resolve(import.meta.dirname, '../fixtures/mergekit-recipes/models');

describeE2E('the merged model folder', () => {
  test('three model folders merged with TIES download as one zip of the whole folder', async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-folder-'));
    try {
      await lab.open('', { backend: 'wasm', charts: false });
      await lab.waitForDemo();
      for (const m of ['base', 'ft1', 'ft2']) {
        await lab.chooseFolder(path.join(MODELS, m));
        await lab.waitForMyModels(['base', 'ft1', 'ft2'].indexOf(m) + 1);
      }
      // "base" names the demo's base in the worker, so the dropped base gets another id.
      expect((await lab.myModels()).map((r) => [r.id, r.role, r.status])).toEqual([
        ['base-2', 'base', 'ready'],
        ['ft1', 'expert', 'ready'],
        ['ft2', 'expert', 'ready'],
      ]);
      expect(await lab.merge(), await lab.jobText()).toBe('done');

      const zipFile = path.join(dir, 'model.zip');
      const { suggested, bytes } = await lab.download(lab.downloadModelButton(), zipFile);
      expect(suggested).toBe('merged-ties.zip');
      const files = unzipSync(new Uint8Array(bytes));
      const inFolder = Object.keys(files).map((n) => n.replace(/^merged-ties\//, ''));
      expect(inFolder.sort()).toEqual(['README.md', 'config.json', 'merge-recipe.yml', 'mergekit_config.yml', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
      const text = (n: string) => new TextDecoder().decode(files[`merged-ties/${n}`]);

      const weights = await openSafetensors(memorySource('merged', files['merged-ties/model.safetensors']!));
      expect(weights.tensorNames.length).toBe(39);
      expect(weights.metadata.merge_recipe).toBe(text('mergekit_config.yml'));
      const config = JSON.parse(text('config.json')) as Record<string, unknown>;
      expect(config).toMatchObject({ model_type: 'llama', num_hidden_layers: 4, dtype: 'float32' });
      expect(config).not.toHaveProperty('torch_dtype');
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) expect(Buffer.from(files[`merged-ties/${f}`]!).equals(fs.readFileSync(path.join(MODELS, 'base', f))), f).toBe(true);
      expect(text('mergekit_config.yml')).toMatch(/^merge_method: ties$/m);
      expect(text('README.md')).toContain('# merged-ties\n');
      // The folder named "base" is opened under the id base-2 (the demo's base is "base"), but the
      // card and the recipe name it as it is on disk.
      expect(text('README.md')).toContain('- Base model: base\n- Merged into it:\n  - ft1\n  - ft2\n');
      expect(text('mergekit_config.yml')).toMatch(/^base_model: base$/m);
      expect(lab.diagnostics.pageErrors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
