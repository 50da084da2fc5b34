/**
 * `merge-lab demo-lm [--json] [--router paper|small] [--temperature T] [--backend wasm|cpu] [--demo public/demo/lm]`:
 * Twin-Merging on the LM demo through the engine (src/engine/routed/lm-twin-demo.ts): rank 16 and
 * rank_ratio 0.1, λ chosen on validation, the normalized gain per domain on the test windows with the
 * router and with oracle routing, and on the mixed test windows the router's mean largest weight and
 * soft against hard (argmax) routing.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openLmDemo } from '../../engine/demo/lm-load.js';
import { MergeLabError } from '../../engine/errors.js';
import { lmTwinDemo, type LmTwinDemoResult } from '../../engine/routed/lm-twin-demo.js';
import { initNodeBackend, parseBackend } from '../node-backend.js';
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

export const demoLmCommand: Command = {
  name: 'demo-lm',
  summary:
    'Twin-Merging on the language-model demo (rank 16 and rank_ratio 0.1, λ chosen on validation): the normalized gain per domain on its test windows with the router and with oracle routing, and on the mixed windows the mean largest routing weight and soft against hard routing.',
  usage: 'merge-lab demo-lm [--json] [--router paper|small] [--temperature T] [--backend wasm|cpu] [--demo public/demo/lm]',
  async run(argv) {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, backend: { type: 'string' }, demo: { type: 'string' }, router: { type: 'string' }, temperature: { type: 'string' } },
    });
    if (positionals.length !== 0) throw usageError(this.usage);
    const router = values.router ?? 'paper';
    if (router !== 'paper' && router !== 'small') throw new MergeLabError('PARAMETER_INVALID', `--router must be paper or small, got "${router}".`);
    const temperature = values.temperature === undefined ? 1 : Number(values.temperature);
    if (!(temperature > 0) || !Number.isFinite(temperature)) throw new MergeLabError('PARAMETER_INVALID', `--temperature must be a positive number, got "${values.temperature}".`);
    await initNodeBackend(parseBackend(values.backend));
    const dir = path.resolve(values.demo ?? path.join(ROOT, 'public/demo/lm'));
    const demo = await openLmDemo({ manifest: new TextDecoder().decode(await read(path.join(dir, 'manifest.json'))), read: (f) => read(path.join(dir, f)) });
    const started = Date.now();
    const log = values.json ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
    const result = await lmTwinDemo(demo, { router: { architecture: router }, routing: { temperature }, onStep: (s) => log(`  ${s} ...`) });
    if (values.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      return 0;
    }
    process.stdout.write(formatLmTwin(result, path.relative(process.cwd(), dir) || '.') + `\n\n(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    return 0;
  },
};

/** A markdown table, the first column left-aligned. */
function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const cell = (v: string, i: number) => (i === 0 ? v.padEnd(width[i]!) : v.padStart(width[i]!));
  return [`| ${head.map(cell).join(' | ')} |`, `|${width.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
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
