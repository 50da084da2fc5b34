/**
 * `merge-lab demo [--json] [--quick]`: the embedded demo's method table through the real engine,
 * with the routed methods' rows (Twin-Merging, Channel Merging) and their rank and K sweeps.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MergeLabError } from '../../engine/errors.js';
import { FULL_GRID, QUICK_GRID, methodTable, type MethodRow, type MethodTable } from '../../engine/demo/method-table.js';
import { openDemoSession } from '../../engine/demo/session.js';
import { ROUTED_FULL_GRID, ROUTED_QUICK_GRID, routedDemo, type RoutedDemoTables } from '../../engine/routed/index.js';
import { initNodeBackend, parseBackend } from '../node-backend.js';
import { formatBytes } from '../progress.js';
import { usageError } from './inspect.js';
import type { Command } from './types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function read(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new MergeLabError('PATH_NOT_FOUND', `The demo file ${path.relative(process.cwd(), file)} cannot be read (${(e as Error).message}); run npm run demo:train to make it.`);
  }
}

/** What `demo --json` prints: the method table (routed rows included in `rows`) and the routed sweeps. */
export interface DemoOutput extends MethodTable {
  readonly twin: RoutedDemoTables['twin'];
  readonly channel: RoutedDemoTables['channel'];
}

export const demoCommand: Command = {
  name: 'demo',
  summary:
    'Merge the embedded digits demo with every method (λ/density chosen on validation), Twin-Merging and Channel Merging included, and print per-task test accuracy, the normalized score, the rank and K sweeps with storage.',
  usage: 'merge-lab demo [--json] [--quick] [--backend wasm|cpu] [--demo public/demo]',
  async run(argv) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, quick: { type: 'boolean' }, backend: { type: 'string' }, demo: { type: 'string' } },
    });
    if (positionals.length !== 0) throw usageError(this.usage);
    await initNodeBackend(parseBackend(values.backend));
    const dir = path.resolve(values.demo ?? path.join(ROOT, 'public/demo'));
    const manifest = new TextDecoder().decode(await read(path.join(dir, 'manifest.json')));
    const dataFile = (JSON.parse(manifest) as { dataset?: { file?: unknown } }).dataset?.file;
    const session = await openDemoSession({
      manifest,
      read: (file) => read(path.join(dir, file)),
      digitsGz: await read(path.join(ROOT, typeof dataFile === 'string' ? dataFile : 'data/digits/digits.csv.gz')),
    });
    const started = Date.now();
    const log = values.json ? undefined : (what: string) => process.stderr.write(`  ${what} done\n`);
    const table = await methodTable(session, values.quick ? QUICK_GRID : FULL_GRID, log && ((row) => log(row.method)));
    let step: string | undefined;
    const routed = await routedDemo(session, {
      grid: values.quick ? ROUTED_QUICK_GRID : ROUTED_FULL_GRID,
      onStep: (s) => {
        if (step) log?.(step);
        step = s;
      },
    });
    if (step) log?.(step);
    const out: DemoOutput = { tasks: table.tasks, rows: [...table.rows, ...routed.rows], crossTask: table.crossTask, twin: routed.twin, channel: routed.channel };
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

const fixed = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '—' : x.toFixed(digits));
const percent = (ratio: number) => `${(100 * ratio).toFixed(1)} %`;

/** The demo's text output: the method table, the rank sweep, the K sweep and the cross-task matrix. */
export function formatDemo(d: DemoOutput): string {
  const params = (r: MethodRow) => Object.entries(r.params).map(([k, v]) => `${k} ${v}`).join(', ');
  const main = table(
    ['method', 'params', ...d.tasks, 'normalized'],
    d.rows.map((r) => [r.method, params(r), ...r.perTask.map((a) => a.toFixed(1)), r.normalized.toFixed(1)]),
    [0, 1],
  );
  const t = d.twin;
  const rank = table(
    ['rank', 'router', 'oracle', 'values', 'bytes', 'ratio'],
    t.rankSweep.map((p) => [String(p.rank), fixed(p.router), fixed(p.oracle), String(p.values), formatBytes(p.bytes), percent(p.ratio)]),
    [],
  );
  const c = d.channel;
  const k = table(
    ['K', 'group method', 'clustered on', 'params', 'validation', 'oracle', 'router', 'bytes', 'ratio', 'conflicts within', 'across'],
    c.kSweep.map((s) => [
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
    ]),
    [1, 2, 3],
  );
  const cross = table(
    ['expert', ...d.tasks],
    d.tasks.map((e) => [e, ...d.tasks.map((x) => d.crossTask[e]![x]!.toFixed(1))]),
  );
  const experts = t.rankSweep[0] ? formatBytes(t.rankSweep[0].expertBytes) : '—';
  return [
    ...main,
    '',
    `rank sweep (twin_merging, λ ${t.lambda} chosen on validation; normalized test score with the router and with oracle routing; storage is shared expert + factors + dense deltas + router, float32, against ${experts} for the experts; router routes ${percent(t.routingAccuracy)} of test samples to their task):`,
    ...rank,
    '',
    `K sweep (channel_merging; per K the group method, rows clustered on and λ/density chosen on validation with oracle routing; storage is K merged copies + uint8 index tables${c.routingAccuracy !== undefined ? `; router routes ${percent(c.routingAccuracy)} of test samples to their task` : ''}):`,
    ...k,
    '',
    'cross-task matrix (expert × task, test accuracy %):',
    ...cross,
  ].join('\n');
}
