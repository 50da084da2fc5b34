/**
 * public/demo is exactly what `npm run demo:train` writes, its numbers reproduce through the
 * engine, and it meets the targets (experts ≥ 88% on their task, TIES ≥ task arithmetic
 * + 3 points, under 1 MB with the data).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeDigitsCsv } from '../../src/engine/demo/dataset.js';
import { buildTaskSets, readDemoWeights } from '../../src/engine/demo/load.js';
import { parseManifest, scoredTasks } from '../../src/engine/demo/manifest.js';
import { crossTaskMatrix, taskAccuracies } from '../../src/engine/eval/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(ROOT, 'public/demo');
const manifest = parseManifest(fs.readFileSync(path.join(DEMO, 'manifest.json'), 'utf8'));
/** What the default demo is: manifest.json and the checkpoints it names (public/demo also holds hard mode's files; test/demo/hard.test.ts). */
const DEFAULT_FILES = ['manifest.json', manifest.base, ...manifest.tasks.map((t) => t.expert)].sort();

describe('shipped demo', () => {
  it('is byte for byte what the trainer writes', async () => {
    // A full rerun (≈ 10–20 s here): the trainer is deterministic on wasm, so any difference
    // means the committed files are stale or the recipe changed without re-running it.
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-train-'));
    try {
      await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/demo-train.ts', '--out', out, '--quiet'], { cwd: ROOT });
      expect(fs.readdirSync(out).sort()).toEqual(DEFAULT_FILES);
      for (const n of DEFAULT_FILES) expect(fs.readFileSync(path.join(out, n)).equals(fs.readFileSync(path.join(DEMO, n))), `${n} differs; run npm run demo:train`).toBe(true);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 240_000);

  it("reproduces the manifest's accuracies through the engine", async () => {
    const digits = decodeDigitsCsv(zlib.gunzipSync(fs.readFileSync(path.join(ROOT, manifest.dataset.file))));
    const sets = buildTaskSets(manifest, digits, 'test');
    const load = (file: string) => readDemoWeights(manifest.architecture, fs.readFileSync(path.join(DEMO, file)), file);
    const experts = Object.fromEntries(await Promise.all(manifest.tasks.map(async (t) => [t.id, await load(t.expert)] as const)));
    const matrix = { ...(await crossTaskMatrix(manifest.architecture, experts, sets)), base: await taskAccuracies(manifest.architecture, await load(manifest.base), sets) };
    const expected = { ...manifest.accuracy.experts, base: manifest.accuracy.base };
    // Measured on wasm, checked here on cpu: summation order may flip a near-tie, so allow two
    // samples of difference, plus the manifest's rounding to 4 decimals.
    const slack = 2 / manifest.split.test.length + 5e-5;
    for (const [row, accs] of Object.entries(expected)) {
      for (const [task, acc] of Object.entries(accs)) expect(Math.abs(matrix[row as keyof typeof matrix]![task]! - acc), `${row} on ${task}`).toBeLessThanOrEqual(slack);
    }
  });

  it('meets the targets: experts ≥ 88%, TIES ≥ task arithmetic + 3, under 1 MB with the data', () => {
    for (const t of scoredTasks(manifest)) expect(manifest.accuracy.experts[t.id]![t.id], t.id).toBeGreaterThanOrEqual(0.88);
    const n = manifest.accuracy.normalized;
    expect(n.ties.score - n.taskArithmetic.score).toBeGreaterThanOrEqual(3);
    const size = (dir: string, names = fs.readdirSync(dir)) => names.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    expect(size(DEMO, DEFAULT_FILES) + size(path.join(ROOT, 'data/digits'))).toBeLessThan(1_000_000);
  });
});
