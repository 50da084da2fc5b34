/**
 * The LM demo's table (`merge-lab demo --suite lm [--json] [--quick] [--router paper|small]
 * [--temperature T] [--backend wasm|cpu] [--demo public/demo/lm]`, src/engine/demo/lm-table.ts):
 * base, experts, task arithmetic, TIES, DARE-TIES, Twin-Merging and Channel Merging (router and
 * oracle rows) with the normalized gain and bits per byte per domain, settings chosen on the
 * validation windows and reported on the test windows; then Twin-Merging's and Channel Merging's
 * routing (single-domain and mixed windows). `merge-lab demo-lm` is the same command, kept as an
 * alias for the Twin-Merging report it printed first.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openLmDemo } from '../../engine/demo/lm-load.js';
import { LM_FULL_GRID, LM_QUICK_GRID } from '../../engine/demo/lm-method-table.js';
import { LM_TABLE_WINDOWS, lmDemoTable, type LmDemoTable, type LmTableOptions } from '../../engine/demo/lm-table.js';
import type { Stat } from '../../engine/demo/seed-table.js';
import { MergeLabError } from '../../engine/errors.js';
import { LM_CHANNEL_CANDIDATES } from '../../engine/routed/lm-channel.js';
import type { LmTwinDemoResult } from '../../engine/routed/lm-twin-demo.js';
import { initNodeBackend, parseBackend } from '../node-backend.js';
import { formatBytes } from '../progress.js';
import { usageError } from './inspect.js';
import type { Command } from './types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function read(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new MergeLabError('PATH_NOT_FOUND', `The LM demo file ${path.relative(process.cwd(), file)} cannot be read (${(e as Error).message}); run npm run demo:train:lm to make it.`);
  }
}

/** The LM suite's options (parseArgs), shared by `demo --suite lm` and `demo-lm`. */
export const LM_SUITE_OPTIONS = {
  json: { type: 'boolean' },
  quick: { type: 'boolean' },
  backend: { type: 'string' },
  demo: { type: 'string' },
  router: { type: 'string' },
  temperature: { type: 'string' },
} as const;

export const LM_SUITE_USAGE = '[--json] [--quick] [--router paper|small] [--temperature T] [--backend wasm|cpu] [--demo public/demo/lm]';

/** `--quick`: coarse grids on a few windows (each domain: 4 validation, 12 for the router, 8 test), for trying the command. */
const QUICK: Pick<LmTableOptions, 'grid' | 'windows' | 'twin' | 'channel'> = {
  grid: LM_QUICK_GRID,
  windows: { validationWindows: 4, routerWindows: 12, testWindows: 8 },
  twin: { lambdas: [0.2, 0.5] },
  channel: { candidates: LM_CHANNEL_CANDIDATES.slice(0, 2) },
};

/** Runs the LM table and prints it (text or --json). */
export async function runLmSuite(values: { json?: boolean; quick?: boolean; backend?: string; demo?: string; router?: string; temperature?: string }): Promise<number> {
  const router = values.router ?? 'paper';
  if (router !== 'paper' && router !== 'small') throw new MergeLabError('PARAMETER_INVALID', `--router must be paper or small, got "${router}".`);
  const temperature = values.temperature === undefined ? 1 : Number(values.temperature);
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new MergeLabError('PARAMETER_INVALID', `--temperature must be a positive number, got "${values.temperature}".`);
  await initNodeBackend(parseBackend(values.backend));
  const dir = path.resolve(values.demo ?? path.join(ROOT, 'public/demo/lm'));
  const demo = await openLmDemo({ manifest: new TextDecoder().decode(await read(path.join(dir, 'manifest.json'))), read: (f) => read(path.join(dir, f)) });
  const started = Date.now();
  const log = values.json ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
  const table = await lmDemoTable(demo, {
    ...(values.quick ? QUICK : { grid: LM_FULL_GRID, windows: LM_TABLE_WINDOWS }),
    router: { architecture: router },
    routing: { temperature },
    onStep: (s) => log(`  ${s} ...`),
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(table, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(formatLmDemo(table, path.relative(process.cwd(), dir) || '.') + `\n\n(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return 0;
}

export const demoLmCommand: Command = {
  name: 'demo-lm',
  summary: 'The same as demo --suite lm (the LM demo\'s method table, Twin-Merging and Channel Merging with their routing on single-domain and mixed windows).',
  usage: `merge-lab demo-lm ${LM_SUITE_USAGE}`,
  async run(argv) {
    const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: LM_SUITE_OPTIONS });
    if (positionals.length !== 0) throw usageError(this.usage);
    return runLmSuite(values);
  },
};

/** A markdown table, the first `left` columns left-aligned. */
function table(head: readonly string[], rows: readonly (readonly string[])[], left = 1): string[] {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const cell = (v: string, i: number) => (i < left ? v.padEnd(width[i]!) : v.padStart(width[i]!));
  return [`| ${head.map(cell).join(' | ')} |`, `|${width.map((w, i) => (i < left ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

const setting = (s: Readonly<Record<string, number>>) => Object.entries(s).map(([k, v]) => `${k} ${v}`).join(', ');
const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)} %`);

/** The text output: the λ choice and router, the gains per domain, the mixed windows. */
export function formatLmTwin(r: LmTwinDemoResult, dir: string): string {
  const gains = table(
    ['setting', ...r.domains.map((d) => `${d} router / oracle`), 'normalized router', 'normalized oracle'],
    r.rows.map((row) => [setting(row.setting), ...row.perDomain.map((d) => `${(100 * d.gainRouter).toFixed(1)} / ${(100 * d.gainOracle).toFixed(1)}`), row.normalized.router.toFixed(1), row.normalized.oracle.toFixed(1)]),
  );
  const mixed = table(
    ['setting', 'mean largest weight', 'soft bits/byte', 'hard bits/byte', 'base bits/byte', 'best expert bits/byte'],
    r.rows.map((row) => {
      const best = Object.entries(row.mixed.experts).reduce((a, b) => (b[1].bitsPerByte < a[1].bitsPerByte ? b : a));
      return [setting(row.setting), row.mixed.meanLargestWeight.toFixed(3), row.mixed.soft.bitsPerByte.toFixed(3), row.mixed.hard.bitsPerByte.toFixed(3), row.mixed.base.bitsPerByte.toFixed(3), `${best[1].bitsPerByte.toFixed(3)} (${best[0]})`];
    }),
  );
  const windows = r.domains.map((d) => r.windows.test[d]).join('/');
  return [
    `Twin-Merging on the LM demo (${dir}): normalized gain ×100 per domain on its test text in windows of ${r.context} bytes (${windows} windows), with the router and with oracle routing; λ ${r.lambda} chosen on validation with oracle routing at the first setting (${r.lambdaSweep.map((p) => `λ ${p.lambda}: ${p.validation.toFixed(1)}`).join(', ')})`,
    ...gains,
    '',
    `router: ${r.router.architecture}, reads ${r.router.reads}; trained on ${r.router.samples.training} validation windows, ${r.router.samples.heldOut} held out (accuracy ${pct(r.router.heldOutAccuracy)} at epoch ${r.router.bestEpoch} of ${r.router.epochs}); routes ${pct(r.router.testAccuracy)} of the test domain windows to their domain`,
    '',
    `mixed test windows (${r.windows.mixed}, where no single expert is right): the router's mean largest weight, and bits per byte with soft routing (its weights) and hard routing (all on its largest weight), beside the base and the best single expert`,
    ...mixed,
  ].join('\n');
}

const pm = (x: Stat, digits = 1) => (x.sd === 0 ? x.mean.toFixed(digits) : `${x.mean.toFixed(digits)} ± ${x.sd.toFixed(digits)}`);

/** The LM table's text: the rows (gain and bits per byte), Twin-Merging's and Channel Merging's reports, the mixed windows, the cross-domain matrix. */
export function formatLmDemo(d: LmDemoTable, dir: string): string {
  const first = d.perSeed[0]!;
  const rowSetting = (r: LmDemoTable['rows'][number]) => [setting(r.setting), ...(r.clustering ? [r.clustering] : [])].filter((x) => x).join(', ');
  const chosen = (r: LmDemoTable['rows'][number]) =>
    Object.entries(r.seeds[0]!.params)
      .filter(([k]) => !(k in r.setting))
      .map(([k, v]) => `${k} ${v}`)
      .join(' ');
  const gains = table(
    ['method', 'setting', 'chosen on validation', ...d.tasks, 'normalized'],
    d.rows.map((r) => [r.method, rowSetting(r), chosen(r), ...r.perTask.map((x) => pm(x)), pm(r.normalized)]),
    3,
  );
  const bits = table(
    ['method', 'setting', ...d.tasks],
    d.rows.map((r) => [r.method, rowSetting(r), ...r.bitsPerByte.map((x) => pm(x, 3))]),
    2,
  );
  const sdNotes = d.rows.filter((r) => r.sdOver).map((r) => `${r.method}: mean ± sd over its ${r.sdOver}`);
  const c = first.channel;
  const channel = c.clusterings.flatMap((cl) => [
    '',
    `K sweep (channel_merging, ${cl.clustering}; the rows' K ${cl.K}${cl.kTarget !== null ? `, the smallest K whose validation gain reaches ${cl.kTarget} % of the best K's` : ''}; per K the group method and λ/density chosen on validation with oracle routing; storage is K merged copies + uint8 index tables against the experts, the router apart):`,
    ...table(
      ['K', 'group method', 'params', 'validation', 'bytes', 'ratio'],
      cl.kSweep.map((p) => [String(p.K), p.groupMethod, setting(p.params), p.validation.toFixed(1), formatBytes(p.bytes), `${(100 * p.ratio).toFixed(1)} %`]),
      3,
    ),
  ]);
  const routedMixed = d.mixed.channel.routed.map((x) => `${x.clustering} (K ${x.K}) ${pm(x.bitsPerByte, 3)}`).join(', ');
  return [
    `LM demo (${dir}), seed ${d.seeds.join(', ')}: normalized gain ×100 per domain, (loss_base − loss_merged) / (loss_base − loss_expert), on the test windows (${d.tasks.map((t) => d.windows.test[t]).join('/')} windows of ${d.context} bytes); settings chosen on ${d.tasks.map((t) => d.windows.validation[t]).join('/')} validation windows. ${d.note}`,
    ...gains,
    '',
    `test bits per byte per domain${sdNotes.length ? ` (${sdNotes.join('; ')})` : ''}:`,
    ...bits,
    '',
    formatLmTwin(first.twin, dir),
    '',
    `Channel Merging on the LM demo: the router (${c.router.architecture}, ${c.router.params} values) reads ${c.router.reads}; trained on ${c.router.samples.training} validation windows, ${c.router.samples.heldOut} held out (accuracy ${pct(c.router.heldOutAccuracy)} at epoch ${c.router.bestEpoch} of ${c.router.epochs}); it sends ${pct(c.router.testAccuracy)} of the test domain windows to their own domain, and each window is looked up with its largest weight's task. Mean weights of each domain's test windows (row: domain, column: task):`,
    ...table(['domain', ...d.tasks], d.tasks.map((t, i) => [t, ...c.router.meanWeights[i]!.map((w) => w.toFixed(3))])),
    ...channel,
    '',
    `mixed test windows (${d.windows.mixed}): Twin-Merging (${setting(d.mixed.twin.setting)}) mean largest weight ${pm(d.mixed.twin.meanLargestWeight, 3)}, soft ${pm(d.mixed.twin.soft, 3)} against hard ${pm(d.mixed.twin.hard, 3)} bits per byte; Channel Merging's router mean largest weight ${pm(d.mixed.channel.meanLargestWeight, 3)}, looked up ${routedMixed} bits per byte; the base ${pm(d.mixed.base, 3)}, the best single expert (${d.mixed.bestExpertDomain}) ${pm(d.mixed.bestExpert, 3)}`,
    '',
    'cross-domain matrix (expert × domain, test bits per byte):',
    ...table(['expert', ...d.tasks], d.tasks.map((e) => [e, ...d.tasks.map((t) => first.crossTask[e]![t]!.toFixed(3))])),
  ].join('\n');
}
