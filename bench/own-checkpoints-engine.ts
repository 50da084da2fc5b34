/**
 * What the lab asks the engine for with one's own checkpoints at size (issue 16, item 7), in the
 * engine alone (Node, no page), for profiling (`node --cpu-prof --import tsx bench/own-checkpoints-engine.ts`):
 * the same files as bench/own-checkpoints-bench.ts opened through the models service, then the
 * first charts' diagnose (TIES at the lab's default density), the spectrum after it, a pause
 * (the user reading; the sort orders are filled meanwhile) and density moves, each timed.
 *
 *   npx tsx bench/own-checkpoints-engine.ts [--mib 64] [--experts 4] [--backend wasm] [--read 20] [--first-only]
 */
import { openAsBlob } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initNodeBackend, parseBackend } from '../src/cli/node-backend.js';
import { createEngine } from '../src/engine/api/engine.js';
import type { Recipe } from '../src/engine/recipe/types.js';
import { ownCheckpointFiles } from './own-checkpoints-files.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '64' }, experts: { type: 'string', default: '4' }, backend: { type: 'string', default: 'wasm' }, read: { type: 'string', default: '20' }, 'first-only': { type: 'boolean', default: false } } });
await initNodeBackend(parseBackend(values.backend));
const files = await ownCheckpointFiles(Number(values.mib), Number(values.experts));
const ids = files.map((f) => path.basename(f, '.safetensors'));
const engine = createEngine();
const recipe = (density: number): Recipe => ({ mergeMethod: 'ties', baseModel: 'base', models: ids.slice(1).map((model) => ({ model, parameters: { weight: 1, density } })), parameters: { lambda: 1 } });
/** CPU seconds of this process since `from` (the engine runs on this thread): less at the mercy of a shared machine's load than wall time. */
const cpu = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return ((u.user + u.system) / 1e6).toFixed(2);
};
const t0 = performance.now();
for (const [i, f] of files.entries()) await engine.models.openModel(ids[i]!, [{ path: path.basename(f), blob: await openAsBlob(f) }]);
const opened = performance.now();
const c0 = process.cpuUsage();
const first = await engine.diagnostics.diagnose(recipe(0.3));
const diagnosed = performance.now();
const firstCpu = cpu(c0);
if (values['first-only']) {
  console.log(`opened ${((opened - t0) / 1000).toFixed(2)} s, diagnose ${((diagnosed - opened) / 1000).toFixed(2)} s (${firstCpu} s CPU)`);
  process.exit(0);
}
await engine.diagnostics.spectrum({ mergeMethod: 'task_arithmetic', baseModel: 'base', models: ids.slice(1).map((model) => ({ model, parameters: { weight: 1 } })) });
const spectrum = performance.now();
console.log(`opened ${((opened - t0) / 1000).toFixed(2)} s, diagnose ${((diagnosed - opened) / 1000).toFixed(2)} s (${firstCpu} s CPU; conflict rate ${first.overall.conflictRate.toFixed(6)}), spectrum ${((spectrum - diagnosed) / 1000).toFixed(2)} s`);
await new Promise((r) => setTimeout(r, Number(values.read) * 1000));
const moves: number[] = [];
for (const d of [0.4, 0.5, 0.6, 0.2, 0.3]) {
  const s = performance.now();
  const c = process.cpuUsage();
  const a = await engine.diagnostics.diagnose(recipe(d));
  moves.push(performance.now() - s);
  console.log(`density ${d}: ${(moves.at(-1)! / 1000).toFixed(2)} s (${cpu(c)} s CPU; conflict rate ${a.overall.conflictRate.toFixed(6)}, dropped ${a.overall.droppedMass.toFixed(6)})`);
}
