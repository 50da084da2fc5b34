/** The EngineApi on one backend with the embedded demo loaded, as the worker holds it: for the benchmarks. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend, parseBackend } from '../src/cli/node-backend.js';
import { createEngine } from '../src/engine/api/engine.js';
import type { EngineApi } from '../src/engine/api/engine-api.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function demoEngine(backend: string | undefined): Promise<{ engine: EngineApi; tasks: readonly string[] }> {
  const demo = path.join(ROOT, 'public/demo');
  await initNodeBackend(parseBackend(backend));
  const engine = createEngine();
  const manifest = await readFile(path.join(demo, 'manifest.json'), 'utf8');
  const m = JSON.parse(manifest) as { base: string; tasks: { expert: string }[] };
  const checkpoints: Record<string, Blob> = {};
  for (const f of [m.base, ...m.tasks.map((t) => t.expert)]) checkpoints[f] = new Blob([await readFile(path.join(demo, f))]);
  const { tasks } = await engine.demo.loadDemo({ manifest, checkpoints, digits: new Blob([await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))]) });
  return { engine, tasks };
}
