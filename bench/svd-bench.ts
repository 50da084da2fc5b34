/**
 * Randomized SVD against torch.svd_lowrank (issue 20, item 3): the same matrices, the same sketch
 * (q = rank + 10 columns, two power iterations), time and rank-r error against the optimal one.
 *
 *   npx tsx bench/svd-bench.ts [--torch /work/lmref/venv/bin/python] [--torch-threads 1,2] [--large] [--runs 3] [--dir .cache/bench/svd]
 *
 * The matrices are task-vector-like (a decaying spectrum, σk ∝ 0.85^k over 2·rank + 20 directions,
 * plus noise), seeded, written once as raw float32 under --dir, in the shapes the lab factors:
 * Twin-Merging's default rank (⌊0.1·min(m, n)⌋) on GPT-2-small and SmolLM-135M matrices, the
 * spectrum chart's 128 values, and with --large GPT-2's 50257 × 768 embedding. Ours is
 * randomizedSvd (src/engine/linalg/svd.ts) with powerIterations 2 and oversample 10, one thread;
 * torch runs bench/svd_lowrank_torch.py once per --torch-threads value (default: torch's own
 * thread count), which also gives the optimal error (torch.linalg.svdvals in float64). Without
 * --torch only our time and error are printed. Times are medians of --runs calls (torch: 3), wall
 * and CPU: on a busy machine the CPU times compare better than the wall times; the load average
 * is printed beside each.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { frobeniusError, randomizedSvd } from '../src/engine/linalg/svd.js';
import { createRandom } from '../src/engine/random.js';

const { values } = parseArgs({
  options: {
    torch: { type: 'string' },
    'torch-threads': { type: 'string' },
    large: { type: 'boolean' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: '.cache/bench/svd' },
  },
});

interface Case {
  readonly label: string;
  readonly m: number;
  readonly n: number;
  readonly rank: number;
}

const CASES: Case[] = [
  { label: 'GPT-2 attn.c_proj, Twin rank', m: 768, n: 768, rank: 76 },
  { label: 'GPT-2 mlp.c_fc, Twin rank', m: 768, n: 3072, rank: 76 },
  { label: 'SmolLM-135M mlp.down_proj, Twin rank', m: 576, n: 1536, rank: 57 },
  { label: 'GPT-2 attn.c_attn, spectrum chart', m: 768, n: 2304, rank: 128 },
  { label: 'SmolLM-135M attn.q_proj, rank 8', m: 576, n: 576, rank: 8 },
  ...(values.large ? [{ label: 'GPT-2 wte, Twin rank', m: 50257, n: 768, rank: 76 }] : []),
];

/** Standard normal draws (Box–Muller over the repo's seeded generator). */
function gaussians(count: number, seed: number): Float32Array {
  const random = createRandom(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** L·R + noise: K = 2·rank + 20 directions of weight 0.85^k, noise 1 % of the first's. */
function taskVectorLike(c: Case, seed: number): Float32Array {
  const k = Math.min(2 * c.rank + 20, c.m, c.n);
  const left = gaussians(c.m * k, seed);
  const right = gaussians(k * c.n, seed + 1);
  for (let i = 0; i < c.m; i++) for (let j = 0; j < k; j++) left[i * k + j]! *= 0.85 ** j;
  const a = gaussians(c.m * c.n, seed + 2);
  const row = new Float64Array(c.n);
  for (let i = 0; i < c.m; i++) {
    row.fill(0);
    for (let j = 0; j < k; j++) {
      const l = left[i * k + j]!;
      const ro = j * c.n;
      for (let x = 0; x < c.n; x++) row[x]! += l * right[ro + x]!;
    }
    for (let x = 0; x < c.n; x++) a[i * c.n + x] = row[x]! + 0.01 * a[i * c.n + x]!;
  }
  return a;
}

const dir = path.resolve(values.dir!);
await mkdir(dir, { recursive: true });
const files: string[] = [];
for (const [i, c] of CASES.entries()) {
  const file = path.join(dir, `${c.m}x${c.n}-r${c.rank}.f32`);
  if (!existsSync(file)) {
    process.stderr.write(`writing ${file} …\n`);
    const a = taskVectorLike(c, 1000 + 7 * i);
    await writeFile(file, new Uint8Array(a.buffer));
  }
  files.push(file);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ours: { seconds: number; cpuSeconds: number; error: number; load: number }[] = [];
for (const [i, c] of CASES.entries()) {
  const bytes = await readFile(files[i]!);
  const a = new Float32Array(bytes.buffer, bytes.byteOffset, c.m * c.n);
  const times: number[] = [];
  const cpu: number[] = [];
  let error = 0;
  const load = loadavg()[0]!;
  for (let r = 0; r < Number(values.runs); r++) {
    const used = process.cpuUsage();
    const t = performance.now();
    const svd = randomizedSvd(a, c.m, c.n, { rank: c.rank, oversample: 10, powerIterations: 2, seed: 1 });
    times.push((performance.now() - t) / 1000);
    const u = process.cpuUsage(used);
    cpu.push((u.user + u.system) / 1e6);
    if (r === 0) error = frobeniusError(a, svd, c.rank);
  }
  ours.push({ seconds: median(times), cpuSeconds: median(cpu), error, load });
  process.stderr.write(`ours ${c.label}: ${median(times).toFixed(3)} s\n`);
}

interface TorchRow {
  seconds: number;
  cpuSeconds: number;
  error: number;
  optimal: number;
  threads: number;
  torch: string;
}
const torchRuns: { load: number; rows: TorchRow[] }[] = [];
if (values.torch) {
  const manifest = path.join(dir, 'manifest.json');
  await writeFile(manifest, JSON.stringify(CASES.map((c, i) => ({ file: files[i], m: c.m, n: c.n, rank: c.rank }))));
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'svd_lowrank_torch.py');
  for (const threads of values['torch-threads']?.split(',') ?? [undefined]) {
    const load = loadavg()[0]!;
    const r = spawnSync(values.torch, [script, manifest, ...(threads ? ['--threads', threads] : [])], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      process.stderr.write(`torch failed:\n${r.stderr}\n`);
      process.exitCode = 1;
      continue;
    }
    torchRuns.push({ load, rows: r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TorchRow) });
  }
}

console.log(`\nRandomized SVD, q = rank + 10, two power iterations; times are medians, wall / CPU (s; CPU counts every thread); errors ‖A − A_r‖_F over the optimal rank-r error\n`);
const torchHead = torchRuns.map((t) => `torch ${t.rows[0]?.torch}, ${t.rows[0]?.threads} thread(s) | ours ÷ torch (wall / CPU) | torch error`).join(' | ');
console.log(`| matrix | m × n | rank | ours | ours error | ${torchHead} | load (ours${torchRuns.map(() => ', torch').join('')}) |`);
console.log(`|---|---|---:|---:|---:|${torchRuns.map(() => '---:|---:|---:|').join('')}---|`);
for (const [i, c] of CASES.entries()) {
  const o = ours[i]!;
  const optimal = torchRuns[0]?.rows[i]?.optimal;
  const ratio = (e: number) => (optimal ? `${(e / optimal).toFixed(4)}×` : e.toExponential(3));
  const cols = torchRuns.map((t) => {
    const row = t.rows[i]!;
    return `${row.seconds.toFixed(3)} / ${row.cpuSeconds.toFixed(3)} | ${(o.seconds / row.seconds).toFixed(1)} / ${(o.cpuSeconds / row.cpuSeconds).toFixed(1)} | ${ratio(row.error)}`;
  });
  console.log(`| ${c.label} | ${c.m} × ${c.n} | ${c.rank} | ${o.seconds.toFixed(3)} / ${o.cpuSeconds.toFixed(3)} | ${ratio(o.error)} | ${cols.join(' | ')}${cols.length ? ' |' : ''} ${[o.load, ...torchRuns.map((t) => t.load)].map((l) => l.toFixed(1)).join(', ')} |`);
}
