/**
 * The memory bound, measured on real CLI merges: each recipe of MEMORY_RECIPES runs as its own
 * `merge-lab merge --stats` process (its peak RSS is getrusage's maximum for that process) over a
 * base and two fine-tunes whose largest tensor is `--largest` MiB of float32 (default 192, so the
 * bound is about the tensor work rather than the process's fixed ~140 MiB), and must stay within
 * (models + 2) × the largest tensor + 64 MiB (on one worker thread, what --workers auto gives
 * these checkpoints: they are one tensor). TIES runs once more on two worker threads, within the
 * pool's bound (src/cli/pool.ts poolMemoryBound: (models + 2) × the two largest tensors + 64 MiB +
 * each worker's fixed part). Prints a table; exits 1 when a merge fails or a peak is over its
 * bound. `npm run bench` runs it (`--memory 0` skips it there); on its own:
 *
 *   npx tsx bench/memory-bench.ts [--largest 192] [--backend wasm] [--dir .cache/bench]
 *
 * This is a memory target, so it is checked here and not by a test (the tests prove the mechanism
 * on a small tensor: test/merge/memory.test.ts). Each merge takes 10–30 s here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MEMORY_MODELS, MEMORY_RECIPES, memoryRecipe, writeMemoryModels } from './memory-models.js';
import { poolMemoryBound } from '../src/cli/pool.js';

const { values } = parseArgs({
  options: {
    largest: { type: 'string', default: '192' },
    backend: { type: 'string', default: 'wasm' },
    dir: { type: 'string', default: '.cache/bench' },
  },
});

const MiB = 2 ** 20;
const COLS = 4096;
const rows = Math.round((Number(values.largest) * MiB) / 4 / COLS);
if (!(rows > 0)) throw new Error(`--largest "${values.largest}" is not a size in MiB`);
const largest = rows * COLS * 4;
const dir = path.resolve(values.dir!, `memory-${rows}x${COLS}`);
if (!existsSync(path.join(dir, MEMORY_MODELS.at(-1)!, 'model.safetensors'))) {
  process.stderr.write(`generating ${MEMORY_MODELS.join(', ')} (largest tensor ${rows} × ${COLS} float32) in ${dir} …\n`);
  await writeMemoryModels(dir, rows, COLS);
}

const boundBytes = (MEMORY_MODELS.length + 2) * largest + 64 * MiB;
// The checkpoints' tensors, as the pool's bound reads them: the embedding, a 256 × 256 layer, a norm.
const tensors = [[rows, COLS], [256, 256], [COLS]].map((shape) => ({ shape, models: MEMORY_MODELS }));
const poolBoundBytes = poolMemoryBound({ tensors }, 2);
const results: { recipe: string; peakMiB: number; boundMiB: number; seconds: number; ok: boolean }[] = [];
let failed = false;
const runs = [...Object.entries(MEMORY_RECIPES).map(([name, body]) => ({ name, body, workers: 1 })), { name: 'ties on 2 workers', body: MEMORY_RECIPES.ties, workers: 2 }];
for (const { name, body, workers } of runs) {
  const file = path.join(dir, `${name.replace(/\W+/g, '-')}.yml`);
  await writeFile(file, memoryRecipe(body));
  const out = path.join(dir, 'out', name.replace(/\W+/g, '-'));
  const bound = workers === 1 ? boundBytes : poolBoundBytes;
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'merge', file, '--out', out, '--backend', values.backend!, '--workers', String(workers), '--no-progress', '--stats'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0 || /error/.test(r.stderr)) {
    process.stderr.write(`memory ${name}: failed (exit ${r.status})\n${r.stderr}\n`);
    failed = true;
    continue;
  }
  const stats = JSON.parse(r.stdout.trim().split('\n').pop()!) as { peakRssBytes: number; seconds: number };
  const ok = stats.peakRssBytes <= bound;
  if (!ok) failed = true;
  results.push({ recipe: name, peakMiB: stats.peakRssBytes / MiB, boundMiB: bound / MiB, seconds: stats.seconds, ok });
}

console.log(`\nPeak RSS of a CLI merge on ${values.backend}, base + 2 models, largest tensor ${(largest / MiB).toFixed(0)} MiB; bound (3 models + 2) × ${(largest / MiB).toFixed(0)} MiB + 64 MiB = ${(boundBytes / MiB).toFixed(0)} MiB on one worker, ${(poolBoundBytes / MiB).toFixed(0)} MiB on two\n`);
console.log('| recipe | peak RSS (MiB) | bound (MiB) | of the bound | time (s) | within |');
console.log('|---|---:|---:|---:|---:|---|');
for (const r of results) console.log(`| ${r.recipe} | ${r.peakMiB.toFixed(0)} | ${r.boundMiB.toFixed(0)} | ${((100 * r.peakMiB) / r.boundMiB).toFixed(0)} % | ${r.seconds.toFixed(1)} | ${r.ok ? 'yes' : 'NO'} |`);
if (failed) {
  process.stderr.write('memory: a merge failed or went over the bound\n');
  process.exitCode = 1;
}
