/**
 * npx tsx scripts/lm-demo/ties-diagnose.ts DIR [--windows N] [--json FILE] [--variants METHOD,…]
 *
 * Which part of TIES costs it against task arithmetic on an LM demo folder (EXPERIMENTS.md, K):
 * TIES is three steps (trim each task vector to its largest entries, elect a sign per entry,
 * average the agreeing entries instead of summing them), so each is taken away in turn, every
 * variant on its own λ (and density) grid, chosen on the validation windows as merge-check.ts
 * chooses, then scored on test:
 * - task arithmetic (no step);
 * - trim only: each task vector's top-density entries by magnitude (per tensor, as TIES trims),
 *   summed (computed here: the engine's breadcrumbs with gamma 0 keeps nothing, as mergekit's does);
 * - trim + election, summed: TIES with normalize false;
 * - election + disjoint mean without trim: TIES at density 1;
 * - TIES (all three);
 * - dare_linear and della_linear (random drops, rescaled, summed) for reference.
 * Then, per tensor group (embeddings, lm_head, attention, MLP, norms), a merge that is task
 * arithmetic at its chosen λ except that group taken from TIES at its chosen setting, and the
 * reverse: where TIES loses and wins against task arithmetic. --variants trim_only,dare_linear
 * runs only those besides task arithmetic and TIES, and no tensor groups.
 */
import fs from 'node:fs';
import path from 'node:path';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { createLiveSession } from '../../src/engine/live/live-session.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { checkTexts, losses, openFolder } from './merge-check.js';

const BASE_ID = 'lm-base';

interface Variant {
  readonly name: string;
  readonly method: string;
  /** Per-model parameters besides weight 1. */
  readonly model: (density: number) => Record<string, number>;
  readonly global: Record<string, number | boolean>;
  readonly densities: readonly number[];
  readonly lambdas: readonly number[];
}

/** Not an engine method: the top-density entries of each task vector, summed (trimOnly). */
const TRIM_ONLY = 'trim_only';
const DENSITIES = [0.1, 0.2, 0.4, 0.7];
const SUM_LAMBDAS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5];
const MEAN_LAMBDAS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
const VARIANTS: readonly Variant[] = [
  { name: 'task arithmetic', method: 'task_arithmetic', model: () => ({}), global: {}, densities: [1], lambdas: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3] },
  { name: 'trim only', method: TRIM_ONLY, model: () => ({}), global: {}, densities: DENSITIES, lambdas: SUM_LAMBDAS },
  { name: 'trim + election, summed', method: 'ties', model: (d) => ({ density: d }), global: { normalize: false }, densities: DENSITIES, lambdas: SUM_LAMBDAS },
  { name: 'election + disjoint mean (density 1)', method: 'ties', model: (d) => ({ density: d }), global: {}, densities: [1], lambdas: MEAN_LAMBDAS },
  { name: 'election, summed (density 1)', method: 'ties', model: (d) => ({ density: d }), global: { normalize: false }, densities: [1], lambdas: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3] },
  { name: 'TIES', method: 'ties', model: (d) => ({ density: d }), global: {}, densities: DENSITIES, lambdas: MEAN_LAMBDAS },
  { name: 'dare_linear', method: 'dare_linear', model: (d) => ({ density: d }), global: {}, densities: [0.4, 0.7], lambdas: [0.1, 0.15, 0.2, 0.25, 0.3] },
  { name: 'della_linear', method: 'della_linear', model: (d) => ({ density: d }), global: {}, densities: [0.4, 0.7], lambdas: [0.1, 0.15, 0.2, 0.25, 0.3] },
];

function yaml(v: Variant, experts: readonly string[], lambda: number, density: number): string {
  const models = experts
    .map((e) => `  - model: ${e}\n    parameters:\n      weight: 1\n${Object.entries(v.model(density)).map(([k, x]) => `      ${k}: ${x}\n`).join('')}`)
    .join('');
  const global = Object.entries({ lambda, ...v.global }).map(([k, x]) => `  ${k}: ${x}\n`).join('');
  // The random drops are seeded, so a rerun scores the same merge.
  const seed = v.method.startsWith('dare') || v.method.startsWith('della') ? 'random_seed: 1\n' : '';
  return `models:\n${models}merge_method: ${v.method}\nbase_model: ${BASE_ID}\n${seed}dtype: float32\nout_dtype: float16\nparameters:\n${global}`;
}

const GROUPS: Record<string, (name: string) => boolean> = {
  embeddings: (n) => n.includes('embed_tokens'),
  lm_head: (n) => n.startsWith('lm_head'),
  attention: (n) => n.includes('self_attn'),
  mlp: (n) => n.includes('.mlp.'),
  norms: (n) => n.includes('norm'),
};

/** θ0 + λ Σ top-k(|τi|) per tensor, k = ⌊density·n⌋; the task vectors and their sorted magnitudes are kept between calls. */
function trimOnly(base: Map<string, Float32Array>, taus: Map<string, Float32Array[]>, sorted: Map<string, Float32Array[]>, lambda: number, density: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, b] of base) {
    const merged = Float32Array.from(b);
    taus.get(name)!.forEach((tau, i) => {
      const order = sorted.get(name)![i]!;
      const k = Math.floor(density * tau.length);
      // Entries at or above the k-th largest magnitude (equal magnitudes at the cut are rare in trained weights).
      const cut = k > 0 ? order[order.length - k]! : Infinity;
      for (let j = 0; j < tau.length; j++) if (Math.abs(tau[j]!) >= cut) merged[j]! += lambda * tau[j]!;
    });
    out[name] = merged;
  }
  return out;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => (100 * x).toFixed(1);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let dir: string | undefined;
  let windows = 24;
  let json: string | undefined;
  let only: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--windows') windows = Number(args[++i]);
    else if (args[i] === '--json') json = args[++i];
    else if (args[i] === '--variants') only = (args[++i] ?? '').split(',');
    else if (args[i]!.startsWith('--')) throw new Error(`unknown option "${args[i]}". Usage: ties-diagnose.ts DIR [--windows N] [--json FILE] [--variants METHOD,…]`);
    else dir = path.resolve(args[i]!);
  }
  if (!dir) throw new Error('give the folder of an LM demo (manifest.json, base and five experts).');
  await initNodeBackend('wasm');
  const started = performance.now();
  const log = (s: string) => process.stdout.write(s + '\n');
  const folder = await openFolder(dir);
  const { manifest, config, checkpoints } = folder;
  const domains = manifest.domains.map((d) => d.id);
  const texts = checkTexts(manifest, windows);
  const reference: Record<string, Record<string, number[]>> = { validation: {}, test: {} };
  for (const id of [BASE_ID, ...domains]) {
    const c = checkpoints.get(id)!;
    for (const split of ['validation', 'test'] as const) reference[split]![id === BASE_ID ? 'base' : id] = await losses(config, (n) => c.readFloat32(n), texts[split], manifest.context);
  }
  const gains = (split: 'validation' | 'test', merged: readonly number[]) =>
    domains.map((d, i) => (reference[split]!['base']![i]! - merged[i]!) / (reference[split]!['base']![i]! - reference[split]![d]![i]!));
  const session = createLiveSession(checkpoints);
  const baseWeights = new Map<string, Float32Array>();
  const taus = new Map<string, Float32Array[]>();
  const sorted = new Map<string, Float32Array[]>();
  for (const name of checkpoints.get(BASE_ID)!.tensorNames) {
    const b = await checkpoints.get(BASE_ID)!.readFloat32(name);
    baseWeights.set(name, b);
    const t = await Promise.all(domains.map(async (d) => (await checkpoints.get(d)!.readFloat32(name)).map((x, j) => x - b[j]!)));
    taus.set(name, t);
    sorted.set(name, t.map((tau) => tau.map(Math.abs).sort()));
  }
  const merge = async (v: Variant, lambda: number, density: number) =>
    v.method === TRIM_ONLY ? trimOnly(baseWeights, taus, sorted, lambda, density) : session.merge(parseRecipe(yaml(v, domains, lambda, density), 'ties-diagnose'));
  const score = async (weights: Record<string, Float32Array>, split: 'validation' | 'test') => gains(split, await losses(config, (n) => weights[n]!, texts[split], manifest.context));

  const results: { name: string; lambda: number; density: number; validation: number[]; test: number[]; grid: { lambda: number; density: number; validation: number }[] }[] = [];
  for (const v of VARIANTS) {
    // The group hybrids need task arithmetic and TIES, so those two always run.
    if (only && !only.includes(v.method) && v.method !== 'task_arithmetic' && v.name !== 'TIES') continue;
    let best = { lambda: NaN, density: NaN, validation: [] as number[] };
    const grid: { lambda: number; density: number; validation: number }[] = [];
    for (const density of v.densities) {
      for (const lambda of v.lambdas) {
        const g = await score(await merge(v, lambda, density), 'validation');
        grid.push({ lambda, density, validation: mean(g) });
        if (!(mean(g) <= mean(best.validation))) best = { lambda, density, validation: g };
      }
      log(`${v.name}, density ${density}: ${grid.filter((p) => p.density === density).map((p) => `λ ${p.lambda} ${pct(p.validation)}`).join(', ')}`);
    }
    const test = await score(await merge(v, best.lambda, best.density), 'test');
    results.push({ name: v.name, ...best, test, grid });
    const edge = best.lambda === v.lambdas[0] || best.lambda === v.lambdas[v.lambdas.length - 1] ? ' (λ at the end of its grid)' : '';
    log(`=> ${v.name}: λ ${best.lambda}, density ${best.density}${edge}: validation ${pct(mean(best.validation))} (${best.validation.map(pct).join(' ')}), test ${pct(mean(test))} (${test.map(pct).join(' ')})`);
  }

  if (only) {
    session.supersede();
    if (json) fs.writeFileSync(json, JSON.stringify({ domains, results }, null, 2) + '\n');
    return;
  }
  // Tensor groups: TA with one group from TIES, and TIES with one group from TA, each at its own chosen setting.
  const ta = results.find((r) => r.name === 'task arithmetic')!;
  const ties = results.find((r) => r.name === 'TIES')!;
  const copy = (m: Record<string, Float32Array>) => Object.fromEntries(Object.entries(m).map(([n, a]) => [n, a.slice()]));
  const taMerged = copy(await merge(VARIANTS[0]!, ta.lambda, 1));
  const tiesMerged = copy(await merge(VARIANTS.find((v) => v.name === 'TIES')!, ties.lambda, ties.density));
  const hybrids: { name: string; validation: number[]; test: number[] }[] = [];
  for (const [group, inGroup] of Object.entries(GROUPS)) {
    for (const [name, outer, inner] of [
      [`TA, ${group} from TIES`, taMerged, tiesMerged],
      [`TIES, ${group} from TA`, tiesMerged, taMerged],
    ] as const) {
      const w = Object.fromEntries(Object.keys(outer).map((n) => [n, inGroup(n) ? inner[n]! : outer[n]!]));
      const validation = await score(w, 'validation');
      const test = await score(w, 'test');
      hybrids.push({ name, validation, test });
      log(`${name}: validation ${pct(mean(validation))} (${validation.map(pct).join(' ')}), test ${pct(mean(test))} (${test.map(pct).join(' ')})`);
    }
  }
  session.supersede();
  log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  if (json) fs.writeFileSync(json, JSON.stringify({ domains, results, hybrids }, null, 2) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`ties-diagnose: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
