/**
 * The LM demo's slider moves in the engine alone (Node, no page): public/demo/lm's six float16
 * checkpoints opened as the lab opens them, the card's validation tasks (lmEvalTasks), then λ moves
 * as the lab asks for them (a probe of LM_DEMO_PROBE_TOKENS per task), each with the engine's own
 * breakdown (merge into memory, merged model laid out and scored). For profiling what a move costs
 * (`node --cpu-prof --import tsx bench/lm-demo-engine-bench.ts`), beside the page's benchmark
 * (test/e2e/lm-demo-bench.test.ts).
 *
 *   npx tsx bench/lm-demo-engine-bench.ts [--backend wasm|cpu] [--method ties] [--moves 21] [--mode probe|full] [--probe 64]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { initNodeBackend, parseBackend } from '../src/cli/node-backend.js';
import { createEngine } from '../src/engine/api/engine.js';
import type { LmLabRequest } from '../src/engine/api/engine-api.js';
import { lmEvalTasks } from '../src/engine/demo/lm-eval-set.js';
import { parseLmManifest } from '../src/engine/demo/lm-manifest.js';
import { DEMO_DTYPES } from '../src/engine/demo/demo-dtype.js';
import type { Recipe } from '../src/engine/recipe/types.js';

/** The lab's probe on the LM demo (src/app/store/lm-demo-slice.ts LM_DEMO_PROBE_TOKENS; that module loads the page's assets). */
const LM_DEMO_PROBE_TOKENS = 64;

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, method: { type: 'string', default: 'ties' }, moves: { type: 'string', default: '21' }, mode: { type: 'string', default: 'probe' }, density: { type: 'string', default: '0.5' }, probe: { type: 'string', default: String(LM_DEMO_PROBE_TOKENS) } } });
const backend = await initNodeBackend(parseBackend(values.backend));
const dir = new URL('../public/demo/lm/', import.meta.url);
const manifest = parseLmManifest(await readFile(new URL('manifest.json', dir), 'utf8'));
const config = new Blob([await readFile(new URL(manifest.config, dir))]);
const engine = createEngine();
const ids = ['lm-base', ...manifest.domains.map((d) => d.id)];
const files = [manifest.base, ...manifest.domains.map((d) => d.expert)];
for (const [i, id] of ids.entries()) await engine.models.openModel(id, [{ path: 'config.json', blob: config }, { path: files[i]!, blob: new Blob([await readFile(new URL(files[i]!, dir))]) }]);
const experts = ids.slice(1);
const tasks = lmEvalTasks(manifest, 'validation');
const recipe = (lambda: number): Recipe => ({
  mergeMethod: values.method,
  baseModel: 'lm-base',
  models: experts.map((model) => ({ model, parameters: values.method === 'task_arithmetic' ? { weight: 1 } : { weight: 1, density: Number(values.density) } })),
  parameters: { lambda },
  ...DEMO_DTYPES,
});
const request = (lambda: number, mode: LmLabRequest['mode']): LmLabRequest => ({ recipe: recipe(lambda), base: 'lm-base', experts, tasks, context: manifest.context, probeTokens: Number(values.probe), mode });
const first = await engine.lmLab.evaluate(request(1, 'full'));
console.log(`backend ${backend}, ${values.method}; first full answer ${first.milliseconds.total.toFixed(0)} ms (references ${first.milliseconds.references.toFixed(0)})`);
const lambdas = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.1, 1, 0.9, 0.8, 0.7];
const moves = Array.from({ length: Number(values.moves) }, (_, i) => lambdas[i % lambdas.length]!);
const totals: number[] = [];
/** CPU milliseconds per move (this process): less at the mercy of a shared machine's load than wall time. */
const cpus: number[] = [];
const merges: number[] = [];
const scored: number[] = [];
for (const l of moves) {
  const started = performance.now();
  const c = process.cpuUsage();
  const a = await engine.lmLab.evaluate(request(l, values.mode as LmLabRequest['mode']));
  totals.push(performance.now() - started);
  const used = process.cpuUsage(c);
  cpus.push((used.user + used.system) / 1000);
  merges.push(a.milliseconds.merge);
  scored.push(a.milliseconds.merged);
  if (process.env['LM_BENCH_VERBOSE']) console.log(`λ ${l}: ${a.tasks.map((t) => t.merged.loss.toFixed(6)).join(' ')}`);
}
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(0);
console.log(`${values.mode} per λ move over ${moves.length}: total p50 ${q(totals, 0.5)} p95 ${q(totals, 0.95)} ms (CPU p50 ${q(cpus, 0.5)} p95 ${q(cpus, 0.95)} ms); merge p50 ${q(merges, 0.5)} ms; merged model laid out and scored p50 ${q(scored, 0.5)} ms`);
