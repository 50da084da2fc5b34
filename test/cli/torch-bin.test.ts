/**
 * `merge-lab merge` with PyTorch .bin models: the same ties recipe over three models given as
 * .bin folders (zip format, legacy format, and two shards with pytorch_model.bin.index.json, written
 * by torch.save in scripts/make-torch-fixtures.py) and over their safetensors twins writes the same
 * tensors, bit for bit, and the same recipe. The .bin models hold a non-contiguous view and tied
 * weights (lm_head.weight shares the embeddings' storage).
 */
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TIES_RECIPE, Workspace, listFiles, mergeArgs, runCliAsync, withCheckpoint } from './helpers.js';

const RECIPE = TIES_RECIPE;

let ws: Workspace;

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-cli-torch-');
  // Same model names in both folders, so the recipes (stored in the output) are the same text.
  for (const kind of ['bin', 'st']) {
    await cp(path.join(REPO, 'test/fixtures/torch/cli', kind), ws.path(kind), { recursive: true });
    await writeFile(ws.path(kind, 'recipe.yaml'), stringify(RECIPE));
  }
});

afterAll(async () => {
  await ws?.dispose();
});

describe('merge-lab merge with .bin models', () => {
  it('writes what it writes from the safetensors twins', async () => {
    const [bin, st] = await Promise.all(['bin', 'st'].map((k) => runCliAsync(mergeArgs(ws.path(k, 'recipe.yaml'), ws.path('out', k)))));
    for (const r of [bin!, st!]) {
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/error|^\s+at \S/im);
    }
    expect(listFiles(ws.path('out/bin'))).toEqual(listFiles(ws.path('out/st')));
    await withCheckpoint(ws.path('out/bin'), (a) =>
      withCheckpoint(ws.path('out/st'), async (b) => {
        expect(a.metadata).toEqual(b.metadata);
        // Output order follows the base model's file order, which differs between the formats.
        expect([...a.tensorNames].sort()).toEqual([...b.tensorNames].sort());
        expect(a.tensorNames).toContain('lm_head.weight');
        for (const n of a.tensorNames) {
          expect([a.info(n)!.dtype, a.info(n)!.shape], n).toEqual([b.info(n)!.dtype, b.info(n)!.shape]);
          expect(await a.readRaw(n), n).toEqual(await b.readRaw(n));
        }
      }),
    );
  });

  it('inspect lists a legacy .bin file', async () => {
    const r = await runCliAsync(['inspect', ws.path('bin/ft-a/pytorch_model.bin')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/model\.layers\.0\.mlp\.weight\s+F32\s+\[8, 4\]/);
    expect(r.stdout).toMatch(/model\.norm\.weight\s+BF16\s+\[4\]/);
  });
});
