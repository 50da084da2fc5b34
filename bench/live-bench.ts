/**
 * Live-recompute latency on the embedded demo, one backend per process: the time from a new
 * density/λ (a slider move) to the merged model's per-task test accuracy, through the same
 * EngineApi the worker exposes. Prints one JSON line: {backend, requests, p50, p95, first}.
 *
 *   tsx bench/live-bench.ts --backend wasm [--requests 100]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { initNodeBackend, parseBackend } from '../src/cli/node-backend.js';
import { createEngine } from '../src/engine/api/engine.js';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, requests: { type: 'string', default: '100' } } });
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const demo = path.join(ROOT, 'public/demo');
await initNodeBackend(parseBackend(values.backend));
const engine = createEngine();
const manifest = await readFile(path.join(demo, 'manifest.json'), 'utf8');
const m = JSON.parse(manifest) as { base: string; tasks: { expert: string }[] };
const checkpoints: Record<string, Blob> = {};
for (const f of [m.base, ...m.tasks.map((t) => t.expert)]) checkpoints[f] = new Blob([await readFile(path.join(demo, f))]);
const { tasks } = await engine.loadDemo({ manifest, checkpoints, digits: new Blob([await readFile(path.join(ROOT, 'data/digits/digits.csv.gz'))]) });

const recipe = (density: number, lambda: number) =>
  `models:\n${tasks.map((t) => `  - model: ${t}\n    parameters: {weight: 1, density: ${density}}`).join('\n')}\nmerge_method: ties\nbase_model: base\nparameters: {lambda: ${lambda}}\n`;
const times: number[] = [];
const n = Number(values.requests);
for (let i = 0; i <= n; i++) {
  const t0 = performance.now();
  await engine.liveDemo(recipe(0.1 + (i % 9) * 0.1, 0.6 + (i % 5) * 0.2));
  times.push(performance.now() - t0);
}
const first = times.shift()!;
const q = (p: number) => times.slice().sort((a, b) => a - b)[Math.min(times.length - 1, Math.floor(p * times.length))]!;
console.log(JSON.stringify({ backend: values.backend, requests: n, p50: q(0.5), p95: q(0.95), first }));
process.exit(0);
