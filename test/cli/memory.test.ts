/**
 * The memory bound, asserted on a real CLI merge: peak RSS of `merge-lab merge` (its own
 * getrusage maximum, printed by --stats) at most (models + 2) × the largest tensor + 64 MiB.
 *
 * The largest tensor is 192 MiB of float32 so the bound is about the tensor work rather than the
 * process's fixed ~140 MB (Node, tsx, tfjs). The fine-tunes are the base plus small noise, so their
 * task vectors are quantized and equal magnitudes straddle the trim cut: the trims then need
 * torch's own sort order, the costliest path (an index per entry). Not a timed test: each merge
 * takes 10–30 s here, and only its memory is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSafetensorsWriter } from '../../src/engine/io/safetensors-writer.js';
import { nodeFileSink } from '../../src/engine/io/node-file.js';
import { Workspace, spawnCliAsync } from './helpers.js';

const ROWS = 12_288;
const COLS = 4_096;
const LARGEST = ROWS * COLS * 4;
const MODELS = ['base', 'ft1', 'ft2'] as const;
const MiB = 2 ** 20;

let ws: Workspace;
beforeAll(async () => {
  ws = await Workspace.create('merge-lab-memory-');
  for (const [m, name] of MODELS.entries()) {
    await ws.file(`${name}/config.json`, '{"num_hidden_layers": 1}\n');
    const specs = [
      { name: 'model.embed_tokens.weight', dtype: 'F32' as const, shape: [ROWS, COLS] },
      { name: 'model.layers.0.mlp.weight', dtype: 'F32' as const, shape: [256, 256] },
      { name: 'model.norm.weight', dtype: 'F32' as const, shape: [COLS] },
    ];
    const w = await createSafetensorsWriter(await nodeFileSink(ws.path(`${name}/model.safetensors`)), specs, { format: 'pt' });
    for (const spec of specs) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      // xorshift per tensor: the base's values, then each fine-tune's noise on top.
      let b = 0x9e3779b9 ^ n;
      let f = (0x85ebca6b * (m + 1)) >>> 0;
      for (let i = 0; i < n; i++) {
        b ^= b << 13;
        b ^= b >>> 17;
        b ^= b << 5;
        f ^= f << 13;
        f ^= f >>> 17;
        f ^= f << 5;
        const base = (b >>> 0) / 2 ** 32 - 0.5;
        data[i] = m === 0 ? base : base + 0.02 * ((f >>> 0) / 2 ** 32 - 0.5);
      }
      await w.writeTensor(spec.name, data);
    }
    await w.finish();
  }
}, 120_000);
afterAll(() => ws?.dispose());

const RECIPES = {
  ties: 'merge_method: ties\nparameters: {density: 0.3, weight: 0.5}',
  dare_ties: 'merge_method: dare_ties\nparameters: {density: 0.3, weight: 0.5}',
  della: 'merge_method: della\nparameters: {density: 0.5, epsilon: 0.1, weight: 0.5}',
  // mergekit's 16-bit arithmetic (plain JavaScript over the values, rounded at every step).
  'ties in bfloat16': 'merge_method: ties\ndtype: bfloat16\nparameters: {density: 0.3, weight: 0.5}',
} as const;

describe(`a merge's peak RSS on wasm (largest tensor ${LARGEST / MiB} MiB, base + 2 models)`, () => {
  const boundBytes = (MODELS.length + 2) * LARGEST + 64 * MiB;
  for (const [method, body] of Object.entries(RECIPES)) {
    it(`${method}: at most (models + 2) × the largest tensor + 64 MiB`, { timeout: 180_000 }, async () => {
      const file = method.replace(/\W+/g, '-');
      await ws.file(`${file}.yml`, `${body}\nbase_model: base\nmodels:\n  - model: ft1\n  - model: ft2\n`);
      const r = await spawnCliAsync(['merge', ws.path(`${file}.yml`), '--out', ws.path(`out-${file}`), '--backend', 'wasm', '--no-progress', '--stats'], { timeoutMs: 170_000 });
      expect(r.stderr).not.toMatch(/error/);
      expect(r.status).toBe(0);
      const stats = JSON.parse(r.stdout.trim().split('\n').pop()!) as { peakRssBytes: number; seconds: number };
      console.log(`[memory] ${method}: peak RSS ${(stats.peakRssBytes / MiB).toFixed(0)} MiB of a ${(boundBytes / MiB).toFixed(0)} MiB bound (${stats.seconds.toFixed(1)} s)`);
      expect(stats.peakRssBytes).toBeLessThanOrEqual(boundBytes);
    });
  }
});
