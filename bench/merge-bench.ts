/**
 * `npm run bench`: time and peak memory of a TIES merge (density 0.3) of synthetic checkpoints,
 * per backend, each run in its own `merge-lab merge --stats` process so peak RSS is that merge's.
 *
 *   npm run bench -- [--params 10M,100M] [--models 4] [--backends wasm,cpu,webgpu] [--workers 1,2] [--dir .cache/bench] [--live 100]
 *                    [--routed twin_merging,channel_merging]   (packages from the same models; --routed '' skips them)
 *                    [--labs wasm]   (the Twin / Channel labs' slider latency, bench/lab-bench.ts; --labs '' skips it)
 *                    [--dtype float32|bfloat16|float16]   (the recipe's dtype: 16-bit runs mergekit's op-by-op arithmetic)
 *                    [--shape layers|gpt2]   (gpt2: GPT-2 small's tensors, e.g. --params 124M for its 12 blocks)
 *                    [--mergekit DIR]   (mergekit-real's set-up folder, ../shared/tools/mergekit-real/setup.sh DIR …:
 *                                        mergekit's own time and peak RSS on the same files and recipe, each of
 *                                        our merges' time as a share of it, and the largest difference of the
 *                                        outputs, merge-lab diff's)
 *                    [--workers 1,2]    (merge-lab merge --workers: each backend with each count; the outputs
 *                                        of one backend are checked to be the same bytes whatever the count)
 *                    [--memory 192]   (the memory bound checked, bench/memory-bench.ts: largest tensor in MiB; --memory 0 skips it)
 *
 * Models are generated once into --dir (about params × 4 bytes × (models + 1)) and reused. Then
 * the live-recompute latency on the demo (bench/live-bench.ts) per backend. A backend that cannot
 * start here (webgpu without an adapter) is reported, not fatal. Each row gives the load average
 * when its run began: on a machine shared with other work, times are only comparable at a like load.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { syntheticLayout, writeSyntheticModels, type SyntheticShape } from './synthetic.js';
import { poolMemoryBound } from '../src/cli/pool.js';

const { values } = parseArgs({
  options: {
    params: { type: 'string', default: '10M' },
    models: { type: 'string', default: '4' },
    backends: { type: 'string', default: 'wasm,cpu' },
    workers: { type: 'string', default: '1,2' },
    dir: { type: 'string', default: '.cache/bench' },
    density: { type: 'string', default: '0.3' },
    live: { type: 'string', default: '100' },
    routed: { type: 'string', default: 'twin_merging,channel_merging' },
    labs: { type: 'string', default: 'wasm' },
    dtype: { type: 'string', default: 'float32' },
    shape: { type: 'string', default: 'layers' },
    mergekit: { type: 'string' },
    memory: { type: 'string', default: '192' },
  },
});

function count(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMbB]?)$/.exec(text);
  if (!m) throw new Error(`--params "${text}" is not a count like 10M or 100M`);
  return Number(m[1]) * ({ '': 1, k: 1e3, m: 1e6, b: 1e9 } as Record<string, number>)[m[2]!.toLowerCase()]!;
}

const shape = values.shape as SyntheticShape;
if (shape !== 'layers' && shape !== 'gpt2') throw new Error(`--shape "${values.shape}" is not layers or gpt2`);

/** Peak RSS of a child process tree's largest member, through Python's getrusage (no extra tool needed). */
function timedChild(argv: string[]): { ok: boolean; seconds: number; peakRssBytes: number; stderr: string } {
  const wrapper = 'import resource,subprocess,sys,time\nt=time.time()\nr=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL)\nprint(r.returncode,time.time()-t,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  const r = spawnSync('python3', ['-c', wrapper, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const [code, seconds, kib] = (r.stdout.trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { ok: r.status === 0 && code === 0, seconds: seconds!, peakRssBytes: kib! * 1024, stderr: r.stderr };
}

for (const size of values.params!.split(',')) {
  const params = count(size);
  const nModels = Number(values.models);
  const dir = path.resolve(values.dir!, `${size}-${nModels}${shape === 'gpt2' ? '-gpt2' : ''}`);
  const layout = syntheticLayout(params, shape);
  const actual = layout.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);

  if (!existsSync(path.join(dir, `ft${nModels}`, 'model.safetensors'))) {
    process.stderr.write(`generating base + ${nModels} models of ${actual.toLocaleString('en-US')} parameters in ${dir} …\n`);
    await writeSyntheticModels({ params, models: nModels, dir, shape });
  }
  const recipe = path.join(dir, 'ties.yml');
  // Absolute paths: mergekit asks the Hugging Face hub about any relative one (for its model card).
  const at = (name: string) => JSON.stringify(path.join(dir, name));
  const modelLines = Array.from({ length: nModels }, (_, i) => `  - model: ${at(`ft${i + 1}`)}\n    parameters: {weight: ${(1 / nModels).toFixed(3)}, density: ${values.density}}`);
  await writeFile(recipe, `models:\n${modelLines.join('\n')}\nmerge_method: ties\nbase_model: ${at('base')}\ndtype: ${values.dtype}\n`);
  await mkdir(path.join(dir, 'out'), { recursive: true });

  const rows: { backend: string; seconds: number; rssMiB: number; paramsPerSec: number; load: number; out: string; workers: number }[] = [];
  const workerCounts = values.workers!.split(',').map(Number);
  for (const backend of values.backends!.split(',')) {
    for (const workers of workerCounts) {
      const out = path.join(dir, 'out', `${backend}-${workers}`);
      const load = loadavg()[0]!;
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'merge', recipe, '--out', out, '--backend', backend, '--workers', String(workers), '--no-progress', '--stats'], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      if (r.status !== 0) {
        process.stderr.write(`${backend}, ${workers} worker(s): failed\n${r.stderr}\n`);
        continue;
      }
      const stats = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; peakRssBytes: number; workers: number };
      rows.push({ backend: `${backend}, ${stats.workers} worker${stats.workers === 1 ? '' : 's'}`, seconds: stats.seconds, rssMiB: stats.peakRssBytes / 2 ** 20, paramsPerSec: actual / stats.seconds, load, out, workers: stats.workers });
    }
  }
  if (values.mergekit) {
    const mk = path.resolve(values.mergekit);
    const out = path.join(dir, 'out', 'mergekit');
    const load = loadavg()[0]!;
    const r = timedChild([path.join(mk, 'venv/bin/python'), path.join(mk, 'mk_run.py'), recipe, out]);
    if (r.ok) rows.push({ backend: 'mergekit (torch, cpu)', seconds: r.seconds, rssMiB: r.peakRssBytes / 2 ** 20, paramsPerSec: actual / r.seconds, load, out, workers: 1 });
    else process.stderr.write(`mergekit: failed\n${r.stderr.split('\n').slice(-5).join('\n')}\n`);
  }

  const ref = rows.find((r) => r.backend.startsWith('cpu,'));
  const mergekit = rows.find((r) => r.backend.startsWith('mergekit'));
  const largest = Math.max(...layout.map((t) => t.shape.reduce((a, b) => a * b, 1))) * 4;
  console.log(`\nTIES, density ${values.density}, base + ${nModels} models × ${actual.toLocaleString('en-US')} float32 parameters, computed in ${values.dtype} (${((actual * 4) / 2 ** 20).toFixed(0)} MiB each; largest tensor ${(largest / 2 ** 20).toFixed(0)} MiB)\n`);
  // The documented bound: (models read + 2) × the largest tensor + 64 MiB.
  const boundMiB = ((nModels + 3) * largest) / 2 ** 20 + 64;
  // On several workers the pool's bound (src/cli/pool.ts): the workers' largest tensors, their fixed parts.
  const boundOf = (workers: number) => (workers > 1 ? poolMemoryBound({ tensors: layout.map((t) => ({ shape: t.shape, models: Array.from({ length: nModels + 1 }) })) }, workers) / 2 ** 20 : boundMiB);
  console.log(`| backend | time (s) | parameters/s | speed vs cpu | time ÷ mergekit's | peak RSS (MiB) | of its bound | load average |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const ratio = ref ? `${(ref.seconds / r.seconds).toFixed(1)}×` : '—';
    const share = mergekit && r !== mergekit ? (r.seconds / mergekit.seconds).toFixed(2) : '—';
    console.log(`| ${r.backend} | ${r.seconds.toFixed(1)} | ${(r.paramsPerSec / 1e6).toFixed(2)} M | ${ratio} | ${share} | ${r.rssMiB.toFixed(0)} | ${((100 * r.rssMiB) / boundOf(r.workers)).toFixed(0)} % | ${r.load.toFixed(1)} |`);
  }
  console.log(`\nBound: (${nModels + 1} models + 2) × ${(largest / 2 ** 20).toFixed(1)} MiB + 64 MiB = ${boundMiB.toFixed(0)} MiB${workerCounts.some((w) => w > 1) ? `; on ${Math.max(...workerCounts)} workers the pool's, ${boundOf(Math.max(...workerCounts)).toFixed(0)} MiB (src/cli/pool.ts poolMemoryBound)` : ''}.`);
  // The same bytes whatever the number of workers, per backend; and how far from mergekit's.
  const ours = rows.filter((r) => r !== mergekit);
  for (const backend of values.backends!.split(',')) {
    const same = ours.filter((r) => r.backend.startsWith(`${backend},`)).map((r) => readFileSync(path.join(r.out, 'model.safetensors')));
    if (same.length > 1) console.log(`${backend}: ${same.every((b) => b.equals(same[0]!)) ? 'the same bytes' : 'DIFFERENT bytes'} on ${workerCounts.join(' and ')} workers.`);
  }
  if (mergekit && ours[0]) {
    const d = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'diff', ours[0].out, mergekit.out, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const worst = d.stdout ? (JSON.parse(d.stdout) as { maxAbs: number }).maxAbs : NaN;
    console.log(`${ours[0].backend} against mergekit: largest |difference| ${worst.toExponential(2)} (merge-lab diff).`);
  }

  // The routed methods' packages from the same checkpoints (no data: no router), on the first backend.
  const routed = (values.routed ?? '').split(',').filter(Boolean);
  if (routed.length > 0) {
    const models = Array.from({ length: nModels }, (_, i) => `  - model: ft${i + 1}`).join('\n');
    const recipes: Record<string, string> = {
      twin_merging: 'shared_method: task_arithmetic, lambda: 0.3, rank: 8',
      channel_merging: 'groups: 2, group_method: ties, density: 0.3, lambda: 1',
    };
    const backend = values.backends!.split(',')[0]!;
    console.log(`\nRouted packages from the same ${nModels} models on ${backend}\n`);
    console.log('| method | setting | time (s) | package (MiB) | storage vs experts | mean error | peak RSS (MiB) |');
    console.log('|---|---|---:|---:|---:|---:|---:|');
    for (const method of routed) {
      const params = recipes[method];
      if (!params) {
        process.stderr.write(`--routed: "${method}" is not twin_merging or channel_merging\n`);
        continue;
      }
      const file = path.join(dir, `${method}.yml`);
      await writeFile(file, `models:\n${models}\nmerge_method: ${method}\nbase_model: base\nparameters: {${params}}\n`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'merge', file, '--out', path.join(dir, 'out', method), '--backend', backend, '--no-progress', '--stats'], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) {
        process.stderr.write(`${method}: failed\n${r.stderr}\n`);
        continue;
      }
      const st = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; peakRssBytes: number; outputBytes: number; setting: Record<string, number>; storage: { ratio: number }; error: { mean: number | null } };
      const setting = Object.entries(st.setting).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`| ${method} | ${setting} | ${st.seconds.toFixed(1)} | ${(st.outputBytes / 2 ** 20).toFixed(0)} | ${(100 * st.storage.ratio).toFixed(1)} % | ${st.error.mean?.toFixed(3) ?? '—'} | ${(st.peakRssBytes / 2 ** 20).toFixed(0)} |`);
    }
  }
}

const live: { backend: string; p50: number; p95: number; first: number; againP50: number; againP95: number }[] = [];
// --live 0 skips the live-recompute part.
for (const backend of Number(values.live) > 0 ? values.backends!.split(',') : []) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/live-bench.ts', '--backend', backend, '--requests', values.live!], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !line?.startsWith('{')) {
    process.stderr.write(`live ${backend}: failed\n${r.stderr.split('\n').slice(-3).join('\n')}\n`);
    continue;
  }
  live.push(JSON.parse(line) as (typeof live)[number]);
}
if (live.length > 0) {
  console.log(`\nLive recompute on the demo (TIES over 5 experts, 77k parameters: merge + per-task test accuracy), ${values.live} requests\n`);
  console.log('| backend | new recipe p50 (ms) | p95 (ms) | asked again p50 (ms) | p95 (ms) | first request (ms) |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of live) console.log(`| ${r.backend} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.againP50.toFixed(2)} | ${r.againP95.toFixed(2)} | ${r.first.toFixed(0)} |`);
}

interface LabTimes {
  backend: string;
  twin: { first: number; newRankP50: number; cachedRankP50: number; guessedRankP50: number };
  channel: { first: number; kMoveP50: number; lambdaAtKP50: number; lambdaRestOfSweepP50: number };
}
const labs: LabTimes[] = [];
for (const backend of values.labs ? values.labs.split(',') : []) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/lab-bench.ts', '--backend', backend], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !line?.startsWith('{')) {
    process.stderr.write(`labs ${backend}: failed\n${r.stderr.split('\n').slice(-3).join('\n')}\n`);
    continue;
  }
  labs.push(JSON.parse(line) as LabTimes);
}
if (labs.length > 0) {
  console.log('\nThe routed labs on the demo: a slider move to its answer (ms; first = the first view, shared expert / router built)\n');
  console.log('| backend | Twin first | new rank p50 | cached rank p50 | rank worked on ahead p50 | Channel first | K move p50 | λ move, its K p50 | λ move, rest of the sweep p50 |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of labs) {
    const { twin: t, channel: c } = l;
    console.log(`| ${l.backend} | ${t.first.toFixed(0)} | ${t.newRankP50.toFixed(1)} | ${t.cachedRankP50.toFixed(2)} | ${t.guessedRankP50.toFixed(2)} | ${c.first.toFixed(0)} | ${c.kMoveP50.toFixed(2)} | ${c.lambdaAtKP50.toFixed(1)} | ${c.lambdaRestOfSweepP50.toFixed(1)} |`);
  }
}

// The memory bound, checked (bench/memory-bench.ts): a peak over it, or a failed merge, fails the bench.
if (Number(values.memory) > 0) {
  const backend = values.backends!.split(',')[0]!;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/memory-bench.ts', '--largest', values.memory!, '--backend', backend, '--dir', values.dir!], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
