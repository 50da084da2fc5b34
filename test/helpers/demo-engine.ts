/**
 * The embedded demo loaded into an in-process EngineApi on wasm, as the worker holds it, and the
 * TIES recipe over its experts the lab sends: shared by the tests that talk to the engine's demo.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { createEngine } from '../../src/engine/api/engine.js';
import type { DemoSummary, EngineApi } from '../../src/engine/api/engine-api.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEMO_DIR = path.join(ROOT, 'public/demo');
export const DIGITS = path.join(ROOT, 'data/digits/digits.csv.gz');

export async function openDemoEngine(): Promise<{ engine: EngineApi; summary: DemoSummary }> {
  await initNodeBackend('wasm');
  const engine = createEngine();
  const manifest = await readFile(path.join(DEMO_DIR, 'manifest.json'), 'utf8');
  const files = JSON.parse(manifest) as { base: string; tasks: { expert: string }[] };
  const checkpoints: Record<string, Blob> = {};
  for (const f of [files.base, ...files.tasks.map((t) => t.expert)]) checkpoints[f] = new Blob([await readFile(path.join(DEMO_DIR, f))]);
  const summary = await engine.demo.loadDemo({ manifest, checkpoints, digits: new Blob([await readFile(DIGITS)]) });
  return { engine, summary };
}

/** TIES over the demo's experts (weight 1 each) at a density and λ, as YAML, in float32 as the lab's demo recipes are. */
export function tiesRecipe(tasks: readonly string[], density: number, lambda = 1, method = 'ties'): string {
  return `models:\n${tasks.map((t) => `  - model: ${t}\n    parameters: {weight: 1, density: ${density}}`).join('\n')}\nmerge_method: ${method}\nbase_model: base\ndtype: float32\nparameters: {lambda: ${lambda}}\n`;
}
