/**
 * npx tsx scripts/lm-demo/twin-check.ts [DIR]
 *
 * The Twin-Merging lines of issue 17's LM acceptance on a folder demo:train:lm wrote (default
 * public/demo/lm), without the rest of the method table: rank 16 on the table's windows
 * (LM_TABLE_WINDOWS, the paper's router), its normalized gain on test (≥ 85 wanted), and on the
 * mixed windows the router's mean largest weight (< 0.9 wanted) and soft against hard routing
 * (soft lower wanted). The numbers are the table's (`merge-lab demo --suite lm --demo DIR`), which
 * takes several times longer: it scores every static grid, DARE and Channel Merging too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { openLmDemo } from '../../src/engine/demo/lm-load.js';
import { LM_TABLE_WINDOWS } from '../../src/engine/demo/lm-table.js';
import { LmReferences, lmWindowSets } from '../../src/engine/demo/lm-windows.js';
import { lmTwinDemo } from '../../src/engine/routed/lm-twin-demo.js';
import { ROOT } from './corpus.js';

export const TWIN_GATE = { normalized: 85, meanLargestWeight: 0.9 } as const;

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? path.join(ROOT, 'public/demo/lm'));
  await initNodeBackend('wasm');
  const started = performance.now();
  const log = (s: string) => process.stdout.write(s + '\n');
  const demo = await openLmDemo({ manifest: fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'), read: async (f) => new Uint8Array(fs.readFileSync(path.join(dir, f))) });
  const references = await LmReferences.measure(demo, lmWindowSets(demo.manifest, LM_TABLE_WINDOWS), () => undefined);
  const twin = await lmTwinDemo(demo, { references, choices: [{ rank: 16 }], onStep: (s) => log(`  ${s}`) });
  for (const p of twin.lambdaSweep) log(`oracle-routed validation gain at λ ${p.lambda}: ${p.validation.toFixed(1)}`);
  const row = twin.rows[0]!;
  log(`rank 16, λ ${row.lambda}: normalized ${row.normalized.router.toFixed(1)} with the router (${row.normalized.oracle.toFixed(1)} oracle); per domain ${row.perDomain.map((d) => `${d.domain} ${(100 * d.gainRouter).toFixed(1)}`).join(', ')}`);
  const m = row.mixed;
  log(`mixed windows: mean largest weight ${m.meanLargestWeight.toFixed(3)}, soft ${m.soft.bitsPerByte.toFixed(3)} against hard ${m.hard.bitsPerByte.toFixed(3)} bits per byte (base ${m.base.bitsPerByte.toFixed(3)})`);
  const passed = row.normalized.router >= TWIN_GATE.normalized && m.meanLargestWeight < TWIN_GATE.meanLargestWeight && m.soft.bitsPerByte < m.hard.bitsPerByte;
  log(`twin gate (≥ ${TWIN_GATE.normalized}; mean largest weight < ${TWIN_GATE.meanLargestWeight}; soft below hard): ${passed ? 'PASSED' : 'FAILED'} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  if (!passed) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`twin-check: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
