/**
 * Live-recompute latency on the embedded demo, one backend per process: the time from a new
 * density/λ (a slider move) to the merged model's per-task test accuracy, through the same
 * EngineApi the worker exposes, for recipes not asked for before and then for the same ones
 * again. Prints one JSON line: {backend, requests, p50, p95, first, againP50, againP95}.
 *
 *   tsx bench/live-bench.ts --backend wasm [--requests 100]
 */
import { parseArgs } from 'node:util';
import { demoEngine } from './demo-engine.js';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, requests: { type: 'string', default: '100' } } });
const { engine, tasks } = await demoEngine(values.backend);

const recipe = (density: number, lambda: number) =>
  `models:\n${tasks.map((t) => `  - model: ${t}\n    parameters: {weight: 1, density: ${density}}`).join('\n')}\nmerge_method: ties\nbase_model: base\nparameters: {lambda: ${lambda}}\n`;
// Every request a recipe not asked for before (the engine keeps recent answers: a repeat would
// measure the memory, not the merge), then the same recipes again (what a slider moving back gets).
const n = Number(values.requests);
const recipes = Array.from({ length: n + 1 }, (_, i) => recipe(Number((0.1 + (i % 90) / 100).toFixed(2)), Number((0.6 + Math.floor(i / 90) * 0.05).toFixed(2))));
const time = async (yaml: string) => {
  const t0 = performance.now();
  await engine.demo.liveDemo(yaml);
  return performance.now() - t0;
};
const times: number[] = [];
for (const r of recipes) times.push(await time(r));
const first = times.shift()!;
const again: number[] = [];
for (const r of recipes.slice(1)) again.push(await time(r));
const q = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
console.log(JSON.stringify({ backend: values.backend, requests: n, p50: q(times, 0.5), p95: q(times, 0.95), first, againP50: q(again, 0.5), againP95: q(again, 0.95) }));
process.exit(0);
