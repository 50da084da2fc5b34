/**
 * npx tsx scripts/lm-demo/merge-check.ts [DIR] [--windows N] [--json FILE] [--ta-lambdas L,…] [--ties-lambdas L,…] [--ties-densities D,…]
 *
 * The LM demo's merge gate (issue 17): merges the five experts of DIR (default public/demo/lm, or
 * any folder demo:train:lm wrote) with the engine's own methods, as the lab does (the recipe the
 * lab writes: every expert at weight 1, λ global, TIES' density per expert; a live session, the
 * merged model scored by scoreTokens in windows of the manifest's context), and prints per domain
 * the normalized gain (loss_base − loss_merged) / (loss_base − loss_expert). λ (and density) are
 * chosen on the validation texts by the mean gain over the domains; the chosen settings are then
 * scored on the test texts. Also prints each expert's own-domain drop in test bits per byte and
 * the sign-conflict rate of the raw task vectors (src/engine/diagnostics/sign-conflict.ts).
 *
 * The gate: every expert ≥ 15 % below the base on its own test text, task arithmetic's mean test
 * gain positive, and TIES' above task arithmetic's. Exit status 1 when it fails.
 * Choosing reads a sample of each validation text (--windows N windows of the context spread
 * evenly over it, each scored from position 0; 24 by default, as trainer.ts's selectWindows picks
 * them); --windows 0 reads the whole validation texts.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { parseLmManifest, type LmDemoManifest } from '../../src/engine/demo/lm-manifest.js';
import { readLmDemoConfig } from '../../src/engine/demo/lm-load.js';
import { addCounts, conflictRates, emptyCounts, signConflictCounts } from '../../src/engine/diagnostics/sign-conflict.js';
import { memorySource, openSafetensors, type Checkpoint } from '../../src/engine/io/index.js';
import { createLiveSession } from '../../src/engine/live/live-session.js';
import { lmTensorShapes, scoreTokens, type LmConfig } from '../../src/engine/lm/index.js';
import { scoreSequences } from '../../src/engine/lm/score.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { ROOT } from './corpus.js';
import { selectWindows } from './trainer.js';

export const GATE = { ownDrop: 0.15 } as const;
// The grids reach below where the optima were measured (the shipped experts: TA λ 0.02, TIES λ 0.1;
// replay experts: TA λ 0.2, TIES λ 0.5–0.6), so neither method's choice is cut off by its grid.
export const TA_LAMBDAS = [0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.7, 1];
export const TIES_LAMBDAS = [0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 1, 1.4];
export const TIES_DENSITIES = [0.1, 0.2, 0.4, 0.7];

const BASE_ID = 'lm-base';

/** The lab's recipe (src/app/recipe/demo-recipe.ts) for these settings, as YAML. */
export function recipeYaml(method: 'task_arithmetic' | 'ties', experts: readonly string[], lambda: number, density?: number): string {
  const models = experts.map((e) => `  - model: ${e}\n    parameters:\n      weight: 1\n${method === 'ties' ? `      density: ${density}\n` : ''}`).join('');
  return `models:\n${models}merge_method: ${method}\nbase_model: ${BASE_ID}\ndtype: float32\nout_dtype: float16\nparameters:\n  lambda: ${lambda}\n`;
}

export interface LmDemoFolder {
  readonly manifest: LmDemoManifest;
  readonly config: LmConfig;
  readonly checkpoints: Map<string, Checkpoint>;
}

export async function openFolder(dir: string): Promise<LmDemoFolder> {
  const manifest = parseLmManifest(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'), 'manifest.json');
  const config = readLmDemoConfig(manifest, fs.readFileSync(path.join(dir, manifest.config)));
  const checkpoints = new Map<string, Checkpoint>();
  const open = async (id: string, file: string) => checkpoints.set(id, await openSafetensors(memorySource(file, new Uint8Array(fs.readFileSync(path.join(dir, file))))));
  await open(BASE_ID, manifest.base);
  for (const d of manifest.domains) await open(d.id, d.expert);
  return { manifest, config, checkpoints };
}

type Weights = (name: string) => Promise<Float32Array> | Float32Array;

/** A text scored whole (scoreTokens in windows of the context), or as separate windows each from position 0. */
export type Text = { readonly whole: Uint8Array } | { readonly windows: readonly Uint8Array[] };

/** Mean nats per predicted byte of each text, the model's tensors on the backend only while scored. */
export async function losses(config: LmConfig, weights: Weights, texts: readonly Text[], context: number): Promise<number[]> {
  const tensors = new Map<string, tf.Tensor>();
  try {
    for (const [name, shape] of lmTensorShapes(config)) tensors.set(name, tf.tensor(await weights(name), shape, 'float32'));
    const out: number[] = [];
    for (const t of texts) {
      const scores = 'whole' in t ? [await scoreTokens(config, tensors, t.whole, { context })] : await scoreSequences(config, tensors, t.windows, { context });
      out.push(scores.reduce((n, s) => n + s.nll, 0) / scores.reduce((n, s) => n + s.tokens, 0));
    }
    return out;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

export interface MergeCheck {
  readonly domains: readonly string[];
  /** [split][model][domain] nats per byte; model = base or a domain id. */
  readonly reference: Record<'validation' | 'test', Record<string, number[]>>;
  readonly ownDrop: number[];
  readonly conflictRate: number;
  readonly ta: { lambda: number; validation: number[]; test: number[] };
  readonly ties: { lambda: number; density: number; validation: number[]; test: number[] };
  readonly grid: { method: string; lambda: number; density?: number; validationMean: number }[];
  readonly passed: boolean;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Each domain's validation text (a sample of `windows` windows, or whole for 0) and test text. */
export function checkTexts(manifest: LmDemoManifest, windows: number): Record<'validation' | 'test', Text[]> {
  const enc = new TextEncoder();
  return {
    validation: manifest.domains.map((d) => {
      const b = enc.encode(d.texts.validation);
      if (windows === 0) return { whole: b };
      const w = selectWindows(b, manifest.context, windows);
      const width = manifest.context + 1;
      return { windows: Array.from({ length: w.length / width }, (_, k) => Uint8Array.from(w.subarray(k * width, (k + 1) * width))) };
    }),
    test: manifest.domains.map((d) => ({ whole: enc.encode(d.texts.test) })),
  };
}

/** The check itself; `log` hears each grid point as it is scored. */
export async function mergeCheck(folder: LmDemoFolder, options: { windows?: number; log?: (s: string) => void; taLambdas?: readonly number[]; tiesLambdas?: readonly number[]; tiesDensities?: readonly number[] } = {}): Promise<MergeCheck> {
  const log = options.log ?? (() => {});
  const { manifest, config, checkpoints } = folder;
  const domains = manifest.domains.map((d) => d.id);
  const texts = checkTexts(manifest, options.windows ?? 24);
  const context = manifest.context;
  const reference: MergeCheck['reference'] = { validation: {}, test: {} };
  for (const id of [BASE_ID, ...domains]) {
    const c = checkpoints.get(id)!;
    for (const split of ['validation', 'test'] as const) reference[split][id === BASE_ID ? 'base' : id] = await losses(config, (n) => c.readFloat32(n), texts[split], context);
  }
  const gains = (split: 'validation' | 'test', merged: readonly number[]) =>
    domains.map((d, i) => (reference[split]['base']![i]! - merged[i]!) / (reference[split]['base']![i]! - reference[split][d]![i]!));
  const bpb = (nats: number) => nats / Math.LN2;
  const ownDrop = domains.map((d, i) => 1 - bpb(reference.test[d]![i]!) / bpb(reference.test['base']![i]!));

  // Sign conflicts of the raw task vectors (expert − base), over every tensor.
  const counts = emptyCounts();
  const base = checkpoints.get(BASE_ID)!;
  for (const name of base.tensorNames) {
    const b = await base.readFloat32(name);
    const u = await Promise.all(domains.map(async (d) => {
      const e = await checkpoints.get(d)!.readFloat32(name);
      return e.map((v, k) => v - b[k]!);
    }));
    addCounts(counts, signConflictCounts(u));
  }
  const conflictRate = conflictRates(counts).conflictRate;

  const session = createLiveSession(checkpoints);
  const score = async (yaml: string, split: 'validation' | 'test') => {
    const merged = await session.merge(parseRecipe(yaml, 'merge-check'));
    return losses(config, (n) => merged[n]!, texts[split], context);
  };
  const grid: MergeCheck['grid'] = [];
  let ta = { lambda: NaN, validation: [] as number[], mean: -Infinity };
  for (const lambda of options.taLambdas ?? TA_LAMBDAS) {
    const g = gains('validation', await score(recipeYaml('task_arithmetic', domains, lambda), 'validation'));
    grid.push({ method: 'task_arithmetic', lambda, validationMean: mean(g) });
    log(`task_arithmetic λ ${lambda}: validation mean gain ${(100 * mean(g)).toFixed(1)} % (${g.map((x) => (100 * x).toFixed(0)).join(' ')})`);
    if (mean(g) > ta.mean) ta = { lambda, validation: g, mean: mean(g) };
  }
  let ties = { lambda: NaN, density: NaN, validation: [] as number[], mean: -Infinity };
  for (const density of options.tiesDensities ?? TIES_DENSITIES) {
    for (const lambda of options.tiesLambdas ?? TIES_LAMBDAS) {
      const g = gains('validation', await score(recipeYaml('ties', domains, lambda, density), 'validation'));
      grid.push({ method: 'ties', lambda, density, validationMean: mean(g) });
      log(`ties density ${density} λ ${lambda}: validation mean gain ${(100 * mean(g)).toFixed(1)} % (${g.map((x) => (100 * x).toFixed(0)).join(' ')})`);
      if (mean(g) > ties.mean) ties = { lambda, density, validation: g, mean: mean(g) };
    }
  }
  const taTest = gains('test', await score(recipeYaml('task_arithmetic', domains, ta.lambda), 'test'));
  const tiesTest = gains('test', await score(recipeYaml('ties', domains, ties.lambda, ties.density), 'test'));
  session.supersede();
  const passed = ownDrop.every((x) => x >= GATE.ownDrop) && mean(taTest) > 0 && mean(tiesTest) > mean(taTest);
  return {
    domains,
    reference,
    ownDrop,
    conflictRate,
    ta: { lambda: ta.lambda, validation: ta.validation, test: taTest },
    ties: { lambda: ties.lambda, density: ties.density, validation: ties.validation, test: tiesTest },
    grid,
    passed,
  };
}

export function report(r: MergeCheck, log: (s: string) => void): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  log('\ntest bits per byte');
  log(row(['model', ...r.domains]));
  for (const m of ['base', ...r.domains]) log(row([m, ...r.reference.test[m]!.map((x) => (x / Math.LN2).toFixed(3))]));
  log(`\nown-domain test drop: ${r.domains.map((d, i) => `${d} ${pct(r.ownDrop[i]!)}`).join(', ')}`);
  log(`sign-conflict rate of the raw task vectors: ${pct(r.conflictRate)}`);
  log('\nnormalized gain (settings chosen on validation)');
  log(row(['merge', 'settings', 'split', ...r.domains, 'mean']));
  const line = (name: string, settings: string, split: string, g: readonly number[]) => log(row([name, settings, split, ...g.map(pct), pct(mean(g))]));
  line('task arithmetic', `λ ${r.ta.lambda}`, 'validation', r.ta.validation);
  line('task arithmetic', `λ ${r.ta.lambda}`, 'test', r.ta.test);
  line('TIES', `λ ${r.ties.lambda}, density ${r.ties.density}`, 'validation', r.ties.validation);
  line('TIES', `λ ${r.ties.lambda}, density ${r.ties.density}`, 'test', r.ties.test);
  // A choice at the end of its grid may not be the method's best: the comparison would then be unfair to it.
  for (const [name, lambda, method] of [['task arithmetic', r.ta.lambda, 'task_arithmetic'], ['TIES', r.ties.lambda, 'ties']] as const) {
    const lambdas = r.grid.filter((p) => p.method === method).map((p) => p.lambda);
    if (lambda === Math.min(...lambdas) || lambda === Math.max(...lambdas)) log(`note: the λ ${lambda} chosen for ${name} is at the end of its grid (${Math.min(...lambdas)}–${Math.max(...lambdas)}); its best may lie beyond (--ta-lambdas, --ties-lambdas)`);
  }
  log(`\ngate (each expert ≥ ${100 * GATE.ownDrop} % below the base on its own test text; TA's mean test gain > 0; TIES' > TA's): ${r.passed ? 'PASSED' : 'FAILED'}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let dir = path.join(ROOT, 'public/demo/lm');
  let windows = 24;
  let json: string | undefined;
  const grids: { taLambdas?: number[]; tiesLambdas?: number[]; tiesDensities?: number[] } = {};
  const list = (s: string | undefined, option: string) => {
    const xs = (s ?? '').split(',').map(Number);
    if (xs.length === 0 || xs.some((x) => !(x > 0))) throw new Error(`${option} takes positive numbers separated by commas, e.g. 0.1,0.2.`);
    return xs;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--windows') windows = Number(args[++i]);
    else if (a === '--ta-lambdas') grids.taLambdas = list(args[++i], a);
    else if (a === '--ties-lambdas') grids.tiesLambdas = list(args[++i], a);
    else if (a === '--ties-densities') grids.tiesDensities = list(args[++i], a);
    else if (a === '--json') json = args[++i];
    else if (a.startsWith('--')) throw new Error(`unknown option "${a}". Usage: merge-check.ts [DIR] [--windows N] [--json FILE] [--ta-lambdas L,…] [--ties-lambdas L,…] [--ties-densities D,…]`);
    else dir = path.resolve(a);
  }
  await initNodeBackend('wasm');
  const started = performance.now();
  const log = (s: string) => process.stdout.write(s + '\n');
  const r = await mergeCheck(await openFolder(dir), { windows, log, ...grids });
  report(r, log);
  log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  if (json) fs.writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  if (!r.passed) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main().catch((e: unknown) => {
    process.stderr.write(`merge-check: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  });
}
