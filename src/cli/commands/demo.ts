/**
 * `merge-lab demo [--json] [--quick] [--seeds 1,2,3] [--router paper|small]`: the embedded digits
 * demo's method table through the real engine, with the routed methods' rows (Twin-Merging at rank
 * 4 and rank_ratio 0.1, Channel Merging with k-means and average linkage), over several training
 * seeds: every row's mean ± sd, each seed's own numbers in the JSON. The shipped demo is one seed
 * (its manifest's training.seed); the others are trained once by scripts/demo-train.ts into
 * .cache/demo-seeds/seed-N (about 10 s each, deterministic) and reused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MergeLabError } from '../../engine/errors.js';
import { FULL_GRID, QUICK_GRID, methodTable, type MethodRow } from '../../engine/demo/method-table.js';
import { seedTable, type SeedRun, type SeedTable, type Stat } from '../../engine/demo/seed-table.js';
import { openDemoSession } from '../../engine/demo/session.js';
import { ROUTED_FULL_GRID, ROUTED_QUICK_GRID, routedDemo, type RoutedDemoTables } from '../../engine/routed/index.js';
import { initNodeBackend, parseBackend } from '../node-backend.js';
import { formatBytes } from '../progress.js';
import { LM_SUITE_USAGE, runLmSuite } from './demo-lm.js';
import { usageError } from './inspect.js';
import type { Command } from './types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The seeds the table averages over by default. */
export const DEMO_SEEDS: readonly number[] = [1, 2, 3];

async function read(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new MergeLabError('PATH_NOT_FOUND', `The demo file ${path.relative(process.cwd(), file)} cannot be read (${(e as Error).message}); run npm run demo:train to make it.`);
  }
}

/** What `demo --json` prints: the rows over the seeds (mean ± sd), then each seed's own table and routed results. */
export interface DemoOutput extends SeedTable {
  readonly perSeed: readonly {
    readonly seed: number;
    readonly rows: readonly MethodRow[];
    readonly crossTask: Readonly<Record<string, Readonly<Record<string, number>>>>;
    readonly twin: RoutedDemoTables['twin'];
    readonly channel: RoutedDemoTables['channel'];
  }[];
}

function parseSeeds(v: string | undefined): number[] {
  if (v === undefined) return [...DEMO_SEEDS];
  const seeds = v.split(',').map((x) => Number(x.trim()));
  if (seeds.length === 0 || seeds.some((x) => !Number.isInteger(x) || x < 0) || new Set(seeds).size !== seeds.length) {
    throw new MergeLabError('PARAMETER_INVALID', `--seeds must be distinct whole numbers separated by commas, e.g. --seeds 1,2,3; got "${v}".`);
  }
  return seeds;
}

/** The folder holding seed `seed`'s demo: the shipped one, or .cache/demo-seeds/seed-N, trained there when missing. */
async function seedDir(seed: number, shipped: string, shippedSeed: number, log: (line: string) => void): Promise<string> {
  if (seed === shippedSeed) return shipped;
  const dir = path.join(ROOT, '.cache/demo-seeds', `seed-${seed}`);
  if (existsSync(path.join(dir, 'manifest.json'))) return dir;
  log(`  training the demo at seed ${seed} into ${path.relative(process.cwd(), dir)} (about 10 s, once)`);
  const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
  const r = spawnSync(tsx, [path.join(ROOT, 'scripts/demo-train.ts'), '--seed', String(seed), '--out', dir, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new MergeLabError('DEMO_DATA_INVALID', `Training the demo at seed ${seed} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().split('\n').at(-1) ?? ''}. Run npm run demo:train -- --seed ${seed} --out ${path.relative(process.cwd(), dir)} to see why.`);
  return dir;
}

export const demoCommand: Command = {
  name: 'demo',
  summary:
    'Merge the embedded digits demo with every method (λ/density chosen on validation), Twin-Merging and Channel Merging included, over three training seeds, and print per-task test accuracy and the normalized score (mean ± sd), the rank and K sweeps with storage, and routing on mixed inputs. --suite lm: the same table on the LM demo (one trained seed) with the normalized gain and bits per byte per domain, and the routers on single-domain and mixed windows.',
  usage: `merge-lab demo [--json] [--quick] [--seeds 1,2,3] [--router paper|small] [--backend wasm|cpu] [--demo public/demo]\n       merge-lab demo --suite lm ${LM_SUITE_USAGE}`,
  async run(argv) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, quick: { type: 'boolean' }, backend: { type: 'string' }, demo: { type: 'string' }, seeds: { type: 'string' }, router: { type: 'string' }, suite: { type: 'string' }, temperature: { type: 'string' } },
    });
    if (positionals.length !== 0) throw usageError(this.usage);
    const suite = values.suite ?? 'digits';
    if (suite !== 'digits' && suite !== 'lm') throw new MergeLabError('PARAMETER_INVALID', `--suite must be digits or lm, got "${suite}".`);
    if (suite === 'lm') {
      if (values.seeds !== undefined) throw new MergeLabError('PARAMETER_INVALID', 'The LM demo is one trained seed: --seeds is for the digits suite; leave it out with --suite lm.');
      const { seeds: _seeds, suite: _suite, ...lm } = values;
      return runLmSuite(lm);
    }
    if (values.temperature !== undefined) throw new MergeLabError('PARAMETER_INVALID', '--temperature is for --suite lm; the digits table routes at temperature 1.');
    const seeds = parseSeeds(values.seeds);
    const router = values.router ?? 'paper';
    if (router !== 'paper' && router !== 'small') throw new MergeLabError('PARAMETER_INVALID', `--router must be paper or small, got "${router}".`);
    await initNodeBackend(parseBackend(values.backend));
    const shipped = path.resolve(values.demo ?? path.join(ROOT, 'public/demo'));
    const shippedManifest = JSON.parse(new TextDecoder().decode(await read(path.join(shipped, 'manifest.json')))) as { training?: { seed?: unknown } };
    const shippedSeed = typeof shippedManifest.training?.seed === 'number' ? shippedManifest.training.seed : 1;
    const started = Date.now();
    const log = values.json ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
    const runs: SeedRun[] = [];
    const perSeed: DemoOutput['perSeed'][number][] = [];
    for (const seed of seeds) {
      const dir = await seedDir(seed, shipped, shippedSeed, log);
      const manifest = new TextDecoder().decode(await read(path.join(dir, 'manifest.json')));
      const dataFile = (JSON.parse(manifest) as { dataset?: { file?: unknown } }).dataset?.file;
      const session = await openDemoSession({
        manifest,
        read: (file) => read(path.join(dir, file)),
        digitsGz: await read(path.join(ROOT, typeof dataFile === 'string' ? dataFile : 'data/digits/digits.csv.gz')),
      });
      log(`seed ${seed}:`);
      const table = await methodTable(session, values.quick ? QUICK_GRID : FULL_GRID, (row) => log(`  ${row.method} done`));
      const routed = await routedDemo(session, { grid: values.quick ? ROUTED_QUICK_GRID : ROUTED_FULL_GRID, router: { architecture: router }, onStep: (s) => log(`  ${s} ...`) });
      runs.push({ seed, table, routed });
      perSeed.push({ seed, rows: [...table.rows, ...routed.rows], crossTask: table.crossTask, twin: routed.twin, channel: routed.channel });
    }
    const out: DemoOutput = { ...seedTable(runs), perSeed };
    if (values.json) {
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return 0;
    }
    process.stdout.write(formatDemo(out) + `\n\n(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    return 0;
  },
};

/** A markdown-style table: right-aligned columns except those listed as left-aligned. */
function table(head: readonly string[], rows: readonly (readonly string[])[], left: readonly number[] = [0]): string[] {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const cell = (v: string, i: number) => (left.includes(i) ? v.padEnd(width[i]!) : v.padStart(width[i]!));
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `|${width.map((w, i) => (left.includes(i) ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

const fixed = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits));
const percent = (ratio: number) => `${(100 * ratio).toFixed(1)} %`;
const pm = (x: Stat, digits = 1) => `${x.mean.toFixed(digits)} ± ${x.sd.toFixed(digits)}`;

/** The demo's text output: the rows over the seeds, the first seed's rank and K sweeps, mixed inputs, conflicts, the cross-task matrix. */
export function formatDemo(d: DemoOutput): string {
  const setting = (r: DemoOutput['rows'][number]) => [...Object.entries(r.setting).map(([k, v]) => `${k} ${v}`), ...(r.clustering ? [r.clustering] : [])].join(', ');
  const chosen = (r: DemoOutput['rows'][number]) =>
    r.seeds
      .map((s) =>
        Object.entries(s.params)
          .filter(([k]) => !(k in r.setting))
          .map(([k, v]) => `${k} ${v}`)
          .join(' '),
      )
      .filter((x) => x)
      .join(' / ');
  const main = table(
    ['method', 'setting', 'chosen per seed', ...d.tasks, 'normalized'],
    d.rows.map((r) => [r.method, setting(r), chosen(r), ...r.perTask.map((a) => a.mean.toFixed(1)), pm(r.normalized)]),
    [0, 1, 2],
  );
  const first = d.perSeed[0]!;
  const t = first.twin;
  const rank = table(
    ['rank', 'router', 'oracle', 'values', 'bytes', 'ratio'],
    t.rankSweep.map((p) => [String(p.rank), fixed(p.router), fixed(p.oracle), String(p.values), formatBytes(p.bytes), percent(p.ratio)]),
    [],
  );
  const c = first.channel;
  const kTables = c.clusterings.flatMap((cl) => [
    '',
    `K sweep (channel_merging, ${cl.clustering}, seed ${first.seed}; the rows' K ${cl.K}, chosen on validation: the smallest K whose validation score reaches kTarget % of the best K's; per K the group method, rows clustered on and λ/density chosen on validation with oracle routing; storage is K merged copies + uint8 index tables${c.routingAccuracy !== undefined ? `; router routes ${percent(c.routingAccuracy)} of test samples to their task` : ''}; conflicts are pairwise sign conflicts within and across groups, and for random groupings of the same sizes):`,
    ...table(
      ['K', 'group method', 'clustered on', 'params', 'validation', 'oracle', 'router', 'bytes', 'ratio', 'within', 'across', 'random within', 'random across'],
      cl.kSweep.map((s) => [
        String(s.K),
        s.groupMethod,
        s.similarity,
        Object.entries(s.params).map(([n, v]) => `${n} ${v}`).join(', '),
        fixed(s.validation),
        fixed(s.oracle),
        fixed(s.router),
        formatBytes(s.bytes),
        percent(s.ratio),
        fixed(s.conflicts.within, 3),
        fixed(s.conflicts.across, 3),
        fixed(s.conflicts.random.within, 3),
        fixed(s.conflicts.random.across, 3),
      ]),
      [1, 2, 3],
    ),
  ]);
  const cross = table(
    ['expert', ...d.tasks],
    d.tasks.map((e) => [e, ...d.tasks.map((x) => first.crossTask[e]![x]!.toFixed(1))]),
  );
  const experts = t.rankSweep[0] ? formatBytes(t.rankSweep[0].expertBytes) : '—';
  const m = d.mixed;
  const conflicts = table(
    ['clustering', 'K per seed', 'within', 'across', 'random within', 'random across'],
    d.conflicts.map((x) => [x.clustering, x.Ks.join(' / '), pm(x.within, 3), pm(x.across, 3), pm(x.randomWithin, 3), pm(x.randomAcross, 3)]),
    [0, 1],
  );
  return [
    `seeds ${d.seeds.join(', ')}: test accuracy per task (%, the mean over seeds) and the normalized score (mean ± sample sd); λ and density chosen on each seed's validation split`,
    ...main,
    '',
    `rank sweep (twin_merging, seed ${first.seed}, λ ${t.lambda} chosen on validation; normalized test score with the router and with oracle routing; storage is shared expert + factors + dense deltas, float32, against ${experts} for the experts, the router (${t.router.architecture}, ${t.routerParams} values) apart; router routes ${percent(t.routingAccuracy)} of test samples to their task, kept at epoch ${t.router.bestEpoch} of ${t.router.epochs}):`,
    ...rank,
    ...kTables,
    '',
    `mixed inputs (twin_merging at rank 4: blends of two tasks' views of a test digit, every pair of tasks; mean ± sd over seeds): the router's largest weight ${pm(m.meanLargestWeight, 3)} on average, ${pm(m.weightOnPair, 3)} of the weight on the two tasks blended; accuracy with soft routing ${pm(m.soft)} %, hard routing ${pm(m.hard)} %, half on each of the two ${pm(m.even)} %, the better expert alone ${pm(m.bestExpert)} %`,
    '',
    'sign conflicts at the rows\' K, mean ± sd over seeds (pairs of tasks whose entries are both nonzero and differ in sign):',
    ...conflicts,
    '',
    `cross-task matrix (seed ${first.seed}, expert × task, test accuracy %):`,
    ...cross,
  ].join('\n');
}
