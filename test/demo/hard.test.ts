/**
 * The demo's hard mode (`npm run demo:train -- --hard`): manifest-hard.json and the hard expert sit
 * next to the default demo without changing it, are exactly what the trainer writes, open through
 * the engine like the default demo, and make the router visibly err — the hard task shows the
 * invert task's inputs with other labels, and a router that sees inputs cannot tell the two apart.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { decodeDigitsCsv, gunzip } from '../../src/engine/demo/dataset.js';
import { buildTaskSets, readDemoWeights } from '../../src/engine/demo/load.js';
import { parseManifest, scoredTasks, type DemoManifest } from '../../src/engine/demo/manifest.js';
import { openDemoSession, type DemoFiles } from '../../src/engine/demo/session.js';
import { crossTaskMatrix, taskAccuracies } from '../../src/engine/eval/index.js';
import { loadHardTasks, twinDemo, type TwinDemoResult } from '../../src/engine/methods/twin/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO = path.join(ROOT, 'public/demo');
const DIGITS = path.join(ROOT, 'data/digits/digits.csv.gz');
const text = (f: string) => fs.readFileSync(path.join(DEMO, f), 'utf8');
const defaultJson = text('manifest.json');
const hardJson = text('manifest-hard.json');
const manifest = parseManifest(defaultJson);
const hard = parseManifest(hardJson, 'manifest-hard.json');
const HARD = 'invert-relabel';

/** The manifest without its hard tasks, as demo-train derives manifest.json from manifest-hard.json. */
function withoutHard(m: DemoManifest): DemoManifest {
  const tasks = m.tasks.filter((t) => !t.hard);
  const ids = new Set(tasks.map((t) => t.id));
  const only = <T,>(o: Readonly<Record<string, T>>) => Object.fromEntries(Object.entries(o).filter(([k]) => ids.has(k)));
  const experts = Object.fromEntries(Object.entries(only(m.accuracy.experts)).map(([e, row]) => [e, only(row)]));
  return { ...m, tasks, accuracy: { ...m.accuracy, base: only(m.accuracy.base), experts } };
}

/** A safetensors file's size as its header says (8-byte length, JSON header, data), and its dtypes. */
function headerOf(bytes: Buffer): { size: number; dtypes: Set<string> } {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const tensors = Object.entries(header).filter(([k]) => k !== '__metadata__');
  return { size: 8 + n + Math.max(...tensors.map(([, t]) => t.data_offsets[1])), dtypes: new Set(tensors.map(([, t]) => t.dtype)) };
}

const files = (manifestText: string): DemoFiles => ({
  manifest: manifestText,
  read: async (f: string) => new Uint8Array(fs.readFileSync(path.join(DEMO, f))),
  digitsGz: new Uint8Array(fs.readFileSync(DIGITS)),
});

describe('hard demo files', () => {
  it('manifest-hard.json is manifest.json plus the hard task: inverted inputs, labels +3', () => {
    const task = hard.tasks.find((t) => t.id === HARD)!;
    expect(task).toEqual({ id: HARD, label: 'Inverted, relabelled (+3)', transform: manifest.tasks.find((t) => t.id === 'invert')!.transform, labelShift: 3, expert: `expert-${HARD}.safetensors`, hard: true });
    expect(hard.tasks.filter((t) => t.hard)).toEqual([task]);
    expect(hard.base).toBe(manifest.base);
    expect(hard.tasks.map((t) => t.expert)).toEqual([...manifest.tasks.map((t) => t.expert), task.expert]);
    expect(withoutHard(hard)).toEqual(manifest);
    // The hard task does not count: the scores are the default demo's.
    expect(scoredTasks(hard)).toEqual(scoredTasks(manifest));
    expect(hard.accuracy.normalized).toEqual(manifest.accuracy.normalized);
  });

  it('leaves the default demo alone: manifest.json never mentions hard mode, and stays under 1 MB with the data', () => {
    expect(defaultJson).not.toContain(HARD);
    expect(defaultJson).not.toContain('"hard": true');
    expect(manifest.tasks.map((t) => t.id)).toEqual(['invert', 'permute', 'shift-left', 'shift-right', 'occlude-top']);
    const defaults = ['manifest.json', manifest.base, ...manifest.tasks.map((t) => t.expert)];
    const size = defaults.reduce((s, f) => s + fs.statSync(path.join(DEMO, f)).size, 0);
    const data = fs.readdirSync(path.join(ROOT, 'data/digits')).reduce((s, f) => s + fs.statSync(path.join(ROOT, 'data/digits', f)).size, 0);
    expect(size + data).toBeLessThan(1_000_000);
  });

  it('every checkpoint manifest-hard.json names exists, float16, with the size its header says', () => {
    for (const f of [hard.base, ...hard.tasks.map((t) => t.expert)]) {
      const bytes = fs.readFileSync(path.join(DEMO, f));
      const h = headerOf(bytes);
      expect(bytes.length, f).toBe(h.size);
      expect([...h.dtypes], f).toEqual(['F16']);
    }
  });
});

describe('hard demo through the engine', () => {
  let session: Awaited<ReturnType<typeof openDemoSession>>;
  let result: TwinDemoResult;

  beforeAll(async () => {
    // wasm, as the trainer measures, and as the Twin-Merging demo test runs (cpu is several times slower).
    await initNodeBackend('wasm');
    session = await openDemoSession(files(hardJson));
    const hardTasks = await loadHardTasks(files(hardJson), session.manifest);
    result = await twinDemo(session, { hard: hardTasks!, lambdas: [0.4], ranks: [4], router: { architecture: 'small' }, mixed: false });
  }, 120_000);

  it("reproduces manifest-hard.json's accuracies for the hard expert and on the hard task", async () => {
    const digits = decodeDigitsCsv(await gunzip(new Uint8Array(fs.readFileSync(DIGITS))));
    const sets = buildTaskSets(hard, digits, 'test');
    const load = (f: string) => readDemoWeights(hard.architecture, fs.readFileSync(path.join(DEMO, f)), f);
    const experts = Object.fromEntries(await Promise.all(hard.tasks.map(async (t) => [t.id, await load(t.expert)] as const)));
    const matrix = await crossTaskMatrix(hard.architecture, experts, sets);
    const base = await taskAccuracies(hard.architecture, await load(hard.base), { [HARD]: sets[HARD]! });
    const slack = 2 / hard.split.test.length + 5e-5;
    for (const t of hard.tasks) {
      expect(Math.abs(matrix[HARD]![t.id]! - hard.accuracy.experts[HARD]![t.id]!), `${HARD} on ${t.id}`).toBeLessThanOrEqual(slack);
      expect(Math.abs(matrix[t.id]![HARD]! - hard.accuracy.experts[t.id]![HARD]!), `${t.id} on ${HARD}`).toBeLessThanOrEqual(slack);
    }
    expect(Math.abs(base[HARD]! - hard.accuracy.base[HARD]!)).toBeLessThanOrEqual(slack);
    // The hard expert learnt its task, and the invert expert is near 0 on it: same inputs, other labels.
    expect(hard.accuracy.experts[HARD]![HARD]).toBeGreaterThanOrEqual(0.88);
    expect(hard.accuracy.experts['invert']![HARD]).toBeLessThan(0.1);
  });

  it('opens like the default demo: the five scored tasks, the hard one apart', async () => {
    const plain = await openDemoSession(files(defaultJson));
    expect(session.tasks).toEqual(plain.tasks);
    expect([...session.checkpoints.keys()]).toEqual([...plain.checkpoints.keys()]);
    expect(session.scorer.expertAccuracies).toEqual(plain.scorer.expertAccuracies);
    expect(session.manifest.tasks.map((t) => t.id)).toEqual([...plain.tasks, HARD]);
    expect(await loadHardTasks(files(defaultJson), plain.manifest)).toBeUndefined();
  });

  it('makes the router visibly err: inverted digits split between invert and the hard task, the others routed right', () => {
    const r = result.routing;
    expect(r.tasks).toEqual([...session.tasks, HARD]);
    const at = (t: string) => r.tasks.indexOf(t);
    const [invert, relabel] = [r.perTask[at('invert')]!, r.perTask[at(HARD)]!];
    for (const t of session.tasks.filter((t) => t !== 'invert')) expect(r.perTask[at(t)]!, t).toBeGreaterThanOrEqual(0.95);
    // The two tasks show the same test inputs, so each sample goes the same way in both: whichever
    // task the router picks, the sample is misrouted in the other, and the weights are a coin toss.
    expect(invert + relabel).toBeCloseTo(1, 9);
    expect(Math.min(invert, relabel)).toBeLessThan(0.5);
    for (const t of ['invert', HARD]) {
      const w = r.meanWeights[at(t)]!;
      expect(w[at('invert')]! + w[at(HARD)]!, t).toBeGreaterThan(0.95);
      for (const k of ['invert', HARD]) expect(w[at(k)]!, `${t} → ${k}`).toBeGreaterThan(0.3);
    }
    // Misrouted samples get the other task's labels: invert's accuracy falls far below oracle routing.
    const row = result.rows.find((x) => x.method === 'twin_merging')!;
    const oracle = result.rows.find((x) => x.method === 'twin_merging_oracle')!;
    const i = result.tasks.indexOf('invert');
    expect(oracle.perTask[i]! - row.perTask[i]!).toBeGreaterThan(30);
    expect(result.hard).toHaveLength(1);
    const h = result.hard[0]!;
    expect(h.task).toBe(HARD);
    expect(h.routing).toBe(relabel);
    expect(h.oracle - h.router).toBeGreaterThan(0.3);
    const pct = (x: number) => (100 * x).toFixed(1);
    console.log(
      `routing accuracy: ${r.tasks.map((t, k) => `${t} ${pct(r.perTask[k]!)}`).join(', ')}; invert ${row.perTask[i]!.toFixed(1)} routed vs ${oracle.perTask[i]!.toFixed(1)} oracle; ${HARD} ${pct(h.router)} routed vs ${pct(h.oracle)} oracle (expert ${pct(h.expert)})`,
    );
  });
});

describe('hard demo training', () => {
  it('is byte for byte what `demo:train --hard` writes, the default files included', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-train-hard-'));
    try {
      await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/demo-train.ts', '--hard', '--out', out, '--quiet'], { cwd: ROOT });
      const names = ['manifest.json', 'manifest-hard.json', hard.base, ...hard.tasks.map((t) => t.expert)].sort();
      expect(fs.readdirSync(out).sort()).toEqual(names);
      // public/demo's files are the default demo and hard mode's, nothing else (lm/ is the LM demo's own folder).
      expect(fs.readdirSync(DEMO, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort()).toEqual(names);
      expect(fs.readdirSync(DEMO, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)).toEqual(['lm']);
      for (const n of names) expect(fs.readFileSync(path.join(out, n)).equals(fs.readFileSync(path.join(DEMO, n))), `${n} differs; run npm run demo:train -- --hard`).toBe(true);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 240_000);
});
