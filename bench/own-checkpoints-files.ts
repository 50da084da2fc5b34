/**
 * The checkpoints of the own-checkpoints benchmarks (bench/own-checkpoints-bench.ts in the page,
 * bench/own-checkpoints-engine.ts in the engine alone): a base and `experts` experts of about
 * `mib` MiB float32 each, [1024, 1024] layers and their biases, experts = base + small noise.
 * Written once under .cache/bench and reused.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { nodeFileSink } from '../src/engine/io/node-file.js';
import { createSafetensorsWriter } from '../src/engine/io/safetensors-writer.js';
import { createRandom } from '../src/engine/random.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const WIDTH = 1024;
const ROWS = 1024;

/** The files' paths, base first, written if missing. */
export async function ownCheckpointFiles(mib: number, experts: number): Promise<string[]> {
  const dir = path.join(ROOT, '.cache/bench', `own-${mib}mib-${experts}`);
  await mkdir(dir, { recursive: true });
  const layers = Math.max(1, Math.round((mib * 2 ** 20) / 4 / (ROWS * WIDTH + ROWS)));
  const layout = Array.from({ length: layers }, (_, l) => [
    { name: `model.layers.${l}.mlp.weight`, shape: [ROWS, WIDTH] },
    { name: `model.layers.${l}.mlp.bias`, shape: [ROWS] },
  ]).flat();
  const names = ['base', ...Array.from({ length: experts }, (_, i) => `expert${i + 1}`)];
  const files = names.map((n) => path.join(dir, `${n}.safetensors`));
  for (let m = 0; m < names.length; m++) {
    if (existsSync(files[m]!)) continue;
    const w = await createSafetensorsWriter(await nodeFileSink(files[m]!), layout.map((t) => ({ ...t, dtype: 'F32' as const })), { format: 'pt' });
    for (let t = 0; t < layout.length; t++) {
      const n = layout[t]!.shape.reduce((a, b) => a * b, 1);
      const base = createRandom(1000 + t);
      const own = createRandom(7919 * (m + 1) + t);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = base() - 0.5 + (m === 0 ? 0 : 0.02 * (own() - 0.5));
      await w.writeTensor(layout[t]!.name, data);
    }
    await w.finish();
  }
  return files;
}
