/**
 * The demo's recipe, downloaded from the page, runs unchanged with `merge-lab merge` in a folder
 * holding the demo's checkpoint files, and writes the same bytes as the page's merge (issue 16,
 * "round trip"): the recipe names the files (base.safetensors, expert-invert.safetensors, …), not
 * the lab's ids. The same for the LM demo (#demo=lm), beside public/demo/lm/'s files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { mergeLab } from './cli.js';
import { describeE2E, test } from './harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENGINE = { backend: 'wasm' } as const;

describeE2E('round trip', () => {
  test("the demo's downloaded recipe runs beside the demo's files and gives the page's bytes", async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-round-trip-'));
    try {
      await lab.open('', { ...ENGINE, charts: false });
      await lab.waitForEngine('wasm');
      await lab.waitForDemo();
      expect(await lab.merge()).toBe('done');
      const { bytes: weights } = await lab.download(lab.downloadWeightsLink(), path.join(dir, 'page.safetensors'));
      const { bytes: text } = await lab.download(lab.downloadRecipeLink(), path.join(dir, 'recipe.yml'));
      const recipe = parse(text.toString('utf8')) as { base_model: string; models: { model: string }[] };
      const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'public/demo/manifest.json'), 'utf8')) as { base: string; tasks: { expert: string }[] };
      expect(recipe.base_model).toBe(manifest.base);
      expect(recipe.models.map((m) => m.model)).toEqual(manifest.tasks.map((t) => t.expert));
      for (const f of [manifest.base, ...manifest.tasks.map((t) => t.expert)]) fs.copyFileSync(path.join(ROOT, 'public/demo', f), path.join(dir, f));

      await mergeLab(['merge', 'recipe.yml', '--out', 'cli', '--backend', 'wasm', '--no-progress'], dir);
      expect(fs.readFileSync(path.join(dir, 'cli/model.safetensors')).equals(weights), 'the CLI writes the page’s bytes').toBe(true);
      expect(lab.diagnostics.consoleErrors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test("the LM demo's downloaded recipe runs beside its files (public/demo/lm/) and gives the page's bytes", async ({ lab }) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merge-lab-round-trip-lm-'));
    try {
      // Nothing drawn is read here: the link leaves out the LM card, its sweep and the diagnostics, none
      // of which is then computed (on the LM demo the card's scoring and the layer map's SVDs hold the
      // worker for seconds before the merge); test/e2e/lm-demo.test.ts draws them.
      await lab.open('demo=lm&method=ties&lambda=0.5&density=0.4&lm_hide=1', { ...ENGINE, charts: false });
      await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 60_000 });
      expect(await lab.merge()).toBe('done');
      const { bytes: weights } = await lab.download(lab.downloadWeightsLink(), path.join(dir, 'page.safetensors'));
      const { bytes: text } = await lab.download(lab.downloadRecipeLink(), path.join(dir, 'recipe.yml'));
      const recipe = parse(text.toString('utf8')) as { base_model: string; models: { model: string; parameters: { density: number } }[]; parameters: { lambda: number } };
      const demo = path.join(ROOT, 'public/demo/lm');
      const manifest = JSON.parse(fs.readFileSync(path.join(demo, 'manifest.json'), 'utf8')) as { base: string; config: string; domains: { expert: string }[] };
      expect(recipe.base_model).toBe(manifest.base);
      expect(recipe.models.map((m) => m.model)).toEqual(manifest.domains.map((d) => d.expert));
      expect(recipe.models.map((m) => m.parameters.density)).toEqual(manifest.domains.map(() => 0.4));
      expect(recipe.parameters.lambda).toBe(0.5);
      for (const f of [manifest.base, manifest.config, ...manifest.domains.map((d) => d.expert)]) fs.copyFileSync(path.join(demo, f), path.join(dir, f));

      await mergeLab(['merge', 'recipe.yml', '--out', 'cli', '--backend', 'wasm', '--no-progress'], dir);
      expect(fs.readFileSync(path.join(dir, 'cli/model.safetensors')).equals(weights), 'the CLI writes the page’s bytes').toBe(true);
      expect(lab.diagnostics.consoleErrors).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
