/**
 * Synthetic checkpoints for benchmarks: a base and N fine-tunes (base + small noise) with
 * transformer-like tensor names, written tensor by tensor so generating 100M-parameter models
 * never holds a whole model in memory.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createSafetensorsWriter } from '../src/engine/io/safetensors-writer.js';
import { nodeFileSink } from '../src/engine/io/node-file.js';
import { createRandom as rng } from '../src/engine/random.js';

export interface SyntheticSpec {
  /** Approximate parameter count per model. */
  readonly params: number;
  /** Number of fine-tuned models besides the base. */
  readonly models: number;
  readonly dir: string;
}

/** Layer tensors of [rows, 1024] float32 and a bias each, until about `params` parameters. */
export function syntheticLayout(params: number): { name: string; shape: number[] }[] {
  const width = 1024;
  const rows = params >= 50_000_000 ? 4096 : 1024;
  const per = rows * width + rows;
  const layers = Math.max(1, Math.round(params / per));
  const out: { name: string; shape: number[] }[] = [];
  for (let l = 0; l < layers; l++) {
    out.push({ name: `model.layers.${l}.mlp.weight`, shape: [rows, width] });
    out.push({ name: `model.layers.${l}.mlp.bias`, shape: [rows] });
  }
  return out;
}

export async function writeSyntheticModels(spec: SyntheticSpec): Promise<string[]> {
  await mkdir(spec.dir, { recursive: true });
  const layout = syntheticLayout(spec.params);
  const names = ['base', ...Array.from({ length: spec.models }, (_, i) => `ft${i + 1}`)];
  for (let m = 0; m < names.length; m++) {
    const dir = path.join(spec.dir, names[m]!);
    await mkdir(dir, { recursive: true });
    const w = await createSafetensorsWriter(
      await nodeFileSink(path.join(dir, "model.safetensors")),
      layout.map((t) => ({ ...t, dtype: 'F32' as const })),
      { format: 'pt' },
    );
    for (let t = 0; t < layout.length; t++) {
      const n = layout[t]!.shape.reduce((a, b) => a * b, 1);
      const baseRand = rng(1000 + t);
      const ftRand = rng(7919 * (m + 1) + t);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const b = baseRand() - 0.5;
        data[i] = m === 0 ? b : b + 0.02 * (ftRand() - 0.5);
      }
      await w.writeTensor(layout[t]!.name, data);
    }
    await w.finish();
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ num_hidden_layers: layout.length / 2 }) + '\n');
  }
  return names.map((n) => path.join(spec.dir, n));
}
