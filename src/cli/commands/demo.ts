/** `merge-lab demo [--json] [--quick]`: the embedded demo's method table, through the real engine. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MergeLabError } from '../../engine/errors.js';
import { FULL_GRID, QUICK_GRID, methodTable, type MethodRow } from '../../engine/demo/method-table.js';
import { openDemoSession } from '../../engine/demo/session.js';
import { initNodeBackend, parseBackend } from '../node-backend.js';
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

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Merge the embedded digits demo with every method (λ/density chosen on validation) and print per-task test accuracy and the normalized score.',
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
    const table = await methodTable(session, values.quick ? QUICK_GRID : FULL_GRID, values.json ? undefined : (row) => process.stderr.write(`  ${row.method} done\n`));
    if (values.json) {
      process.stdout.write(JSON.stringify(table, null, 2) + '\n');
      return 0;
    }
    const w = Math.max(8, ...table.tasks.map((t) => t.length));
    const head = `| ${'method'.padEnd(16)} | ${'params'.padEnd(24)} | ${table.tasks.map((t) => t.padStart(w)).join(' | ')} | normalized |`;
    const rule = `|${'-'.repeat(18)}|${'-'.repeat(26)}|${table.tasks.map(() => '-'.repeat(w + 1) + ':').join('|')}|-----------:|`;
    const line = (r: MethodRow) =>
      `| ${r.method.padEnd(16)} | ${Object.entries(r.params).map(([k, v]) => `${k} ${v}`).join(', ').padEnd(24)} | ${r.perTask.map((a) => a.toFixed(1).padStart(w)).join(' | ')} | ${r.normalized.toFixed(1).padStart(10)} |`;
    const cross = [
      '',
      `cross-task matrix (expert × task, test accuracy %):`,
      `| ${'expert'.padEnd(16)} | ${table.tasks.map((t) => t.padStart(w)).join(' | ')} |`,
      `|${'-'.repeat(18)}|${table.tasks.map(() => '-'.repeat(w + 1) + ':').join('|')}|`,
      ...table.tasks.map((e) => `| ${e.padEnd(16)} | ${table.tasks.map((t) => table.crossTask[e]![t]!.toFixed(1).padStart(w)).join(' | ')} |`),
    ];
    process.stdout.write([head, rule, ...table.rows.map(line), ...cross, '', `(${((Date.now() - started) / 1000).toFixed(1)} s)`].join('\n') + '\n');
    return 0;
  },
};
