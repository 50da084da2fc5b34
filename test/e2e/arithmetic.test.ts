/**
 * The lab's arithmetic for your own checkpoints: mergekit's test_basic_merges TIES case (three tiny
 * float32 Llama checkpoints, weights 0.6 / 0.4, density 0.3) dropped on the page and merged in
 * bfloat16 downloads mergekit's own bytes (test/fixtures/mergekit-half/basic_ties), tensor for
 * tensor; "float32, rounded once" says math: float32 in the recipe and writes other bytes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { memorySource } from '../../src/engine/io/sources.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { describeE2E, test } from './harness.js';

const CASE = path.resolve(import.meta.dirname, '../fixtures/mergekit-half');

async function rawTensors(bytes: Uint8Array, name: string): Promise<Map<string, string>> {
  const f = await openSafetensors(memorySource(name, bytes));
  const out = new Map<string, string>();
  for (const t of f.tensorNames) out.set(t, `${f.info(t)!.dtype} ${Buffer.from(await f.readRaw(t)).toString('base64')}`);
  return out;
}

describeE2E('arithmetic of your own merges', () => {
  test('bfloat16 as mergekit gives mergekit\'s bytes; float32 rounded once is another recipe and other bytes', async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-arith-'));
    try {
      await lab.open('', { backend: 'wasm', charts: false });
      await lab.waitForDemo();
      await lab.dropFiles(['model_c', 'model_a', 'model_b'].map((id) => ({ name: `${id}.safetensors`, bytes: fs.readFileSync(path.join(CASE, 'models', id, 'model.safetensors')) })));
      await lab.waitForMyModels(3);
      await lab.roleSelect('model_c').selectOption('base');
      const panel = lab.mergePanel();
      await panel.getByRole('slider', { name: 'Weight of model_a', exact: true }).fill('0.6');
      await panel.getByRole('slider', { name: 'Weight of model_b', exact: true }).fill('0.4');
      await lab.densitySlider().fill('0.3');
      await panel.getByRole('combobox', { name: 'Compute in' }).selectOption('bfloat16');
      const recipe = parse(await lab.recipeYaml()) as Record<string, unknown>;
      expect(recipe).toMatchObject({ merge_method: 'ties', base_model: 'model_c.safetensors', dtype: 'bfloat16' });
      expect(recipe.math).toBeUndefined();

      expect(await lab.merge()).toBe('done');
      const asMergekit = (await lab.download(lab.downloadWeightsLink(), path.join(dir, 'bf16.safetensors'))).bytes;
      const want = await rawTensors(fs.readFileSync(path.join(CASE, 'basic_ties', 'expected.safetensors')), 'mergekit');
      const got = await rawTensors(asMergekit, 'lab');
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      const differing = [...want].filter(([t, v]) => got.get(t) !== v).map(([t]) => t);
      expect(differing).toEqual([]);

      await panel.getByRole('combobox', { name: '16-bit math' }).selectOption('float32');
      expect(parse(await lab.recipeYaml())).toMatchObject({ dtype: 'bfloat16', math: 'float32' });
      expect(await lab.merge()).toBe('done');
      const once = await rawTensors((await lab.download(lab.downloadWeightsLink(), path.join(dir, 'f32.safetensors'))).bytes, 'lab-f32');
      expect([...want].filter(([t, v]) => once.get(t) !== v).length).toBeGreaterThan(5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
