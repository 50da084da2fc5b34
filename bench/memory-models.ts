/**
 * The checkpoints the memory bound is measured on (bench/memory-bench.ts) and its mechanism tested
 * on (test/merge/memory.test.ts): a base and fine-tunes, each an embedding of `rows` × `cols`
 * float32 (the largest tensor), a 256 × 256 layer and a norm. The fine-tunes are the base plus
 * small noise, so their task vectors are quantized and equal magnitudes straddle the trim cut: the
 * trims then need torch's own sort order, the costliest path (an index per entry).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nodeFileSink } from '../src/engine/io/node-file.js';
import { createSafetensorsWriter } from '../src/engine/io/safetensors-writer.js';

export const MEMORY_MODELS = ['base', 'ft1', 'ft2'] as const;

/** The recipes whose peak is checked: TIES, DARE-TIES, DELLA, and TIES in mergekit's bfloat16 arithmetic. */
export const MEMORY_RECIPES = {
  ties: 'merge_method: ties\nparameters: {density: 0.3, weight: 0.5}',
  dare_ties: 'merge_method: dare_ties\nparameters: {density: 0.3, weight: 0.5}',
  della: 'merge_method: della\nparameters: {density: 0.5, epsilon: 0.1, weight: 0.5}',
  // mergekit's 16-bit arithmetic (plain JavaScript over the values, rounded at every step).
  'ties in bfloat16': 'merge_method: ties\ndtype: bfloat16\nparameters: {density: 0.3, weight: 0.5}',
} as const;

/** A recipe's YAML over the models in `dir` (base_model base, models ft1 and ft2; names relative to the recipe). */
export function memoryRecipe(body: string): string {
  return `${body}\nbase_model: base\nmodels:\n  - model: ft1\n  - model: ft2\n`;
}

/** Writes base/, ft1/, ft2/ (model.safetensors and config.json) under `dir`. */
export async function writeMemoryModels(dir: string, rows: number, cols: number): Promise<void> {
  for (const [m, name] of MEMORY_MODELS.entries()) {
    await mkdir(path.join(dir, name), { recursive: true });
    await writeFile(path.join(dir, name, 'config.json'), '{"num_hidden_layers": 1}\n');
    const specs = [
      { name: 'model.embed_tokens.weight', dtype: 'F32' as const, shape: [rows, cols] },
      { name: 'model.layers.0.mlp.weight', dtype: 'F32' as const, shape: [256, 256] },
      { name: 'model.norm.weight', dtype: 'F32' as const, shape: [cols] },
    ];
    const w = await createSafetensorsWriter(await nodeFileSink(path.join(dir, name, 'model.safetensors')), specs, { format: 'pt' });
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
}
