/**
 * The language-model lab scoring a layer stack (a `slices:` recipe, issue 18): the merged model has
 * the depth of its slices, not the base's, so the lab scores it with that many layers. Checked
 * against the lm service on the same merge written to a file beside a config.json of that depth.
 * Before, a 3-layer stack of the 2-layer tiny Llama was scored on its first two layers (the base's
 * loss, exactly), and a 1-layer stack failed for a missing layer.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LmLabRequest, ModelFile } from '../../src/engine/api/engine-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { LM_FIXTURES, SAMPLE_TEXT } from '../lm/fixtures.js';

const BASE_DIR = path.join(LM_FIXTURES, 'llama-tied');

async function folder(name: string, layers?: number): Promise<ModelFile[]> {
  const names = await readdir(BASE_DIR);
  return Promise.all(
    names.map(async (f) => {
      let bytes: Uint8Array | string = await readFile(path.join(BASE_DIR, f));
      if (f === 'config.json' && layers !== undefined) bytes = JSON.stringify({ ...JSON.parse(bytes.toString()), num_hidden_layers: layers });
      return { path: `${name}/${f}`, blob: new Blob([bytes as BlobPart]) };
    }),
  );
}

const stack = (ranges: readonly (readonly [number, number])[]): Recipe => ({
  mergeMethod: 'passthrough',
  models: [{ model: 'base' }],
  slices: ranges.map((r) => ({ sources: [{ model: 'base', layerRange: r }] })),
});

describe('the language-model lab on a layer stack', () => {
  it('scores a stack deeper or shallower than the base with its own layers, as the lm service scores the merged folder', async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    await engine.models.openModel('base', await folder('base'));
    const text = (await readFile(SAMPLE_TEXT, 'utf8')).slice(0, 200);
    const request = (recipe: Recipe): LmLabRequest => ({ recipe, base: 'base', experts: [], tasks: [{ name: 'sample.txt', text }], mode: 'full', context: 16 });
    for (const ranges of [
      [
        [0, 2],
        [1, 2],
      ],
      [[0, 1]],
    ] as const) {
      const recipe = stack(ranges);
      const layers = ranges.reduce((n, [a, b]) => n + b - a, 0);
      const answer = await engine.lmLab.evaluate(request(recipe));
      const merged = await engine.merges.merge(`stack-${layers}`, recipe);
      const files = (await folder('merged', layers)).filter((f) => !f.path.endsWith('.safetensors'));
      await engine.lm.openLm('merged', { files: [...files, { path: 'merged/model.safetensors', blob: new Blob([merged.bytes as Uint8Array<ArrayBuffer>]) }] });
      const [viaLm] = await engine.lm.scoreTexts('merged', [{ name: 'sample.txt', text }], { context: 16 });
      expect(answer.tasks[0]!.merged.nll, `${layers} layers`).toBeCloseTo(viaLm!.nll, 4);
      // A stack is not the base: its loss is its own.
      expect(Math.abs(answer.tasks[0]!.merged.nll - answer.tasks[0]!.base.nll), `${layers} layers`).toBeGreaterThan(1e-3);
      await engine.lm.closeLm('merged');
    }
  });
});
