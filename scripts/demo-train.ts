/**
 * npm run demo:train [-- --out DIR] [--seed N] [--hard] [--quiet]
 *
 * Trains the embedded demo: a partly trained "generalist" MLP on augmented digits, then one expert
 * per task by full fine-tuning, and writes public/demo/ (float16 safetensors + manifest.json).
 * --hard also trains the hard task (see makeTasks) and writes its expert and manifest-hard.json: the
 * full manifest, hard task included, naming the same base and experts. manifest.json, the base and
 * the five experts come out byte for byte as without --hard (the hard expert trains last, on its own
 * seed, and manifest.json is manifest-hard.json without the hard task), so the default demo that
 * ships is the same either way. A run without --hard keeps the hard files when they still match.
 * Deterministic: every random choice comes from seeded generators and tfjs runs on wasm with one
 * thread, so the committed files are exactly what this script writes (test/demo checks it).
 * It also merges the experts its own simple way (average, task arithmetic, TIES) to record the
 * reference scores the engine's methods should reproduce.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from '../src/cli/node-backend.js';
import {
  DEMO_FORMAT,
  DEMO_VERSION,
  architectureTensors,
  buildTaskSets,
  createRandom,
  decodeDigitsCsv,
  parseManifest,
  randomInt,
  readDemoWeights,
  selectRows,
  shuffleInPlace,
  taskSet,
  applyTransform,
  type Architecture,
  type DemoManifest,
  type DemoTask,
  type Digits,
  type LabeledSet,
  type Transform,
  type Weights,
} from '../src/engine/demo/index.js';
import {
  createDemoScorer,
  crossTaskMatrix,
  normalizedScore,
  ownTaskAccuracies,
  sweep,
  sweepValues,
  taskAccuracies,
  type SweepResult,
  type TaskAccuracies,
} from '../src/engine/eval/index.js';
import { writeSafetensorsToMemory } from '../src/engine/io/index.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DATA_FILE = 'data/digits/digits.csv.gz';
// The split and the permutation are part of the task definitions, not of a training run, so
// they use their own seed and stay put when --seed changes.
const DATA_SEED = 1797;
const MANIFEST = 'manifest.json';
/** The manifest with the hard tasks, written by --hard next to the default one. */
const HARD_MANIFEST = 'manifest-hard.json';
const SPLIT = { test: 360, validation: 360 };

const RECIPE = {
  hidden: 1024,
  batchSize: 32,
  init: 'uniform ±1/sqrt(fan_in) for weights and biases (torch nn.Linear default)',
  base: {
    epochs: 40,
    optimizer: 'sgd-momentum',
    learningRate: 0.04,
    momentum: 0.9,
    augmentations: 'per sample: rotate90 by 0-3 quarter turns, horizontal flip p=0.5, shift dx,dy in -2..2, invert p=0.5',
  },
  experts: { epochs: 3, optimizer: 'sgd-momentum', learningRate: 0.01, momentum: 0.9 },
} as const;

interface Options {
  out: string;
  seed: number;
  hard: boolean;
  quiet: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { out: path.join(ROOT, 'public/demo'), seed: 1, hard: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = path.resolve(argv[++i] ?? '');
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--hard') o.hard = true;
    else if (a === '--quiet') o.quiet = true;
    else throw new Error(`demo-train: unknown argument "${a}". Usage: demo-train [--out DIR] [--seed N] [--hard] [--quiet]`);
  }
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error('demo-train: --seed must be a non-negative integer.');
  return o;
}

function makeSplit(rows: number): DemoManifest['split'] {
  const order = shuffleInPlace(
    Array.from({ length: rows }, (_, i) => i),
    createRandom(DATA_SEED),
  );
  const sorted = (a: number[]) => a.sort((x, y) => x - y);
  const { test, validation } = SPLIT;
  return { test: sorted(order.slice(0, test)), validation: sorted(order.slice(test, test + validation)), train: sorted(order.slice(test + validation)) };
}

/** 32 of the 64 pixels moved along one cycle, so none of the chosen pixels stays where it was. */
function makePermutation(size: number, moved: number): number[] {
  const random = createRandom(DATA_SEED + 1);
  const chosen = shuffleInPlace(
    Array.from({ length: size }, (_, i) => i),
    random,
  ).slice(0, moved);
  const perm = Array.from({ length: size }, (_, i) => i);
  chosen.forEach((p, k) => (perm[p] = chosen[(k + 1) % moved]!));
  return perm;
}

function makeTasks(hard: boolean): DemoTask[] {
  const task = (id: string, label: string, transform: Transform, labelShift = 0, isHard = false): DemoTask => ({
    id,
    label,
    transform,
    labelShift,
    expert: `expert-${id}.safetensors`,
    hard: isHard,
  });
  const tasks = [
    task('invert', 'Inverted', { type: 'invert', max: 16 }),
    task('permute', 'Permuted pixels', { type: 'permute', permutation: makePermutation(64, 32) }),
    task('shift-left', 'Shifted left', { type: 'shift', dx: -2, dy: 0 }),
    task('shift-right', 'Shifted right', { type: 'shift', dx: 2, dy: 0 }),
    task('occlude-top', 'Top occluded', { type: 'occlude', top: 0, left: 0, height: 3, width: 8 }),
  ];
  // The invert task's inputs with other labels. A router sees inputs only, so two tasks with the
  // same inputs and different labels cannot be told apart: it splits inverted digits between
  // invert and this task, and both lose (clean digits relabelled were easy to route, as no other
  // task shows clean digits, so that task did not make routing err).
  if (hard) tasks.push(task('invert-relabel', 'Inverted, relabelled (+3)', { type: 'invert', max: 16 }, 3, true));
  return tasks;
}

const ARCH: Architecture = {
  input: { height: 8, width: 8, scale: 1 / 16 },
  classes: 10,
  layers: [
    { type: 'dense', weight: 'hidden.weight', bias: 'hidden.bias', inputs: 64, outputs: RECIPE.hidden, activation: 'relu' },
    { type: 'dense', weight: 'head.weight', bias: 'head.bias', inputs: RECIPE.hidden, outputs: 10, activation: 'none' },
  ],
};

function initialWeights(seed: number): Record<string, Float32Array> {
  const random = createRandom(seed);
  const out: Record<string, Float32Array> = {};
  for (const layer of ARCH.layers) {
    const bound = 1 / Math.sqrt(layer.inputs);
    const fill = (n: number) => Float32Array.from({ length: n }, () => (2 * random() - 1) * bound);
    out[layer.weight] = fill(layer.inputs * layer.outputs);
    out[layer.bias] = fill(layer.outputs);
  }
  return out;
}

/** Where one batch's inputs come from: fixed task inputs, or fresh augmentations of clean digits. */
type BatchSource = (rows: readonly number[], random: () => number) => { inputs: Float32Array; labels: Uint8Array };

function fixedSource(set: LabeledSet): BatchSource {
  return (rows) => {
    const inputs = new Float32Array(rows.length * set.features);
    const labels = new Uint8Array(rows.length);
    rows.forEach((r, k) => {
      inputs.set(set.inputs.subarray(r * set.features, (r + 1) * set.features), k * set.features);
      labels[k] = set.labels[r]!;
    });
    return { inputs, labels };
  };
}

function augmentedSource(train: Digits): BatchSource {
  const shape = ARCH.input;
  return (rows, random) => {
    const inputs = new Float32Array(rows.length * train.features);
    const labels = new Uint8Array(rows.length);
    rows.forEach((r, k) => {
      let img: Float32Array = train.pixels.slice(r * train.features, (r + 1) * train.features);
      const steps: Transform[] = [
        { type: 'rotate90', turns: randomInt(random, 4) },
        ...(random() < 0.5 ? [{ type: 'flip', axis: 'horizontal' } as const] : []),
        { type: 'shift', dx: randomInt(random, 5) - 2, dy: randomInt(random, 5) - 2 },
        ...(random() < 0.5 ? [{ type: 'invert', max: 16 } as const] : []),
      ];
      for (const t of steps) img = applyTransform(t, img, shape);
      inputs.set(img, k * train.features);
      labels[k] = train.labels[r]!;
    });
    return { inputs, labels };
  };
}

interface Schedule {
  readonly epochs: number;
  readonly learningRate: number;
  readonly momentum: number;
}

/**
 * Minibatch SGD with momentum (torch's form: v = μv + g, w -= lr·v) on softmax cross-entropy,
 * with the backward pass written out: tfjs-core alone registers no gradients, and for a stack of
 * dense layers the chain rule is a few lines. Weights are held as [inputs, outputs] while training
 * because tfjs-wasm's matMul with a transposed operand is 10–20× slower than a plain one.
 */
function train(start: Weights, source: BatchSource, count: number, schedule: Schedule, seed: number): Record<string, Float32Array> {
  const specs = architectureTensors(ARCH);
  const asTrained = (name: string, shape: readonly number[]) => (shape.length === 2 ? tf.transpose(tf.tensor2d(start[name]!, [shape[0]!, shape[1]!])) : tf.tensor(start[name]!));
  const param = Object.fromEntries(specs.map((s) => [s.name, tf.variable(tf.tidy(() => asTrained(s.name, s.shape)))]));
  const velocity = Object.fromEntries(specs.map((s) => [s.name, tf.variable(tf.zerosLike(param[s.name]!))]));
  const update = (name: string, grad: tf.Tensor) => {
    const v = velocity[name]!;
    v.assign(tf.add(tf.mul(v, schedule.momentum), grad));
    param[name]!.assign(tf.sub(param[name]!, tf.mul(v, schedule.learningRate)));
  };
  const random = createRandom(seed);
  const order = Array.from({ length: count }, (_, i) => i);
  try {
    for (let epoch = 0; epoch < schedule.epochs; epoch++) {
      shuffleInPlace(order, random);
      for (let at = 0; at < count; at += RECIPE.batchSize) {
        const batch = source(order.slice(at, at + RECIPE.batchSize), random);
        const n = batch.labels.length;
        tf.tidy(() => {
          const acts: tf.Tensor2D[] = [tf.mul(tf.tensor2d(batch.inputs, [n, ARCH.input.height * ARCH.input.width]), ARCH.input.scale) as tf.Tensor2D];
          for (const l of ARCH.layers) {
            const z = tf.add(tf.matMul(acts.at(-1)!, param[l.weight] as tf.Tensor2D), param[l.bias]!) as tf.Tensor2D;
            acts.push(l.activation === 'relu' ? tf.relu(z) : z);
          }
          // d(mean cross-entropy)/d(logits) = (softmax − one-hot) / batch size.
          const oneHot = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), ARCH.classes);
          let delta = tf.div(tf.sub(tf.softmax(acts.at(-1)!), oneHot), n) as tf.Tensor2D;
          for (let i = ARCH.layers.length - 1; i >= 0; i--) {
            const l = ARCH.layers[i]!;
            const input = acts[i]!;
            const next = i > 0 ? tf.matMul(delta, tf.transpose(param[l.weight] as tf.Tensor2D)) : undefined;
            update(l.weight, tf.matMul(tf.transpose(input), delta));
            update(l.bias, tf.sum(delta, 0));
            // ReLU passes gradient where its output was positive; acts[i] is that output.
            if (next) delta = (ARCH.layers[i - 1]!.activation === 'relu' ? tf.mul(next, tf.step(input)) : next) as tf.Tensor2D;
          }
        });
      }
    }
    return Object.fromEntries(
      specs.map((s) => {
        const p = param[s.name]!;
        return [s.name, (s.shape.length === 2 ? tf.tidy(() => tf.transpose(p)).dataSync() : p.dataSync()) as Float32Array];
      }),
    );
  } finally {
    for (const v of [...Object.values(param), ...Object.values(velocity)]) v.dispose();
  }
}

/** Rounds to float16 the way the shipped file does, returning the file and the weights read back from it. */
async function toF16(weights: Weights, name: string): Promise<{ bytes: Uint8Array; weights: Weights }> {
  const tensors = architectureTensors(ARCH).map((s) => ({ name: s.name, dtype: 'F16' as const, shape: s.shape, data: weights[s.name]! }));
  const bytes = await writeSafetensorsToMemory(tensors);
  return { bytes, weights: await readDemoWeights(ARCH, bytes, name) };
}

// ---- reference merges (measuring only; the engine's methods are the real ones) ----

function combine(base: Weights, f: (name: string, b: Float32Array) => Float32Array): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(base).map(([n, b]) => [n, f(n, b)]));
}

function taskArithmetic(base: Weights, experts: readonly Weights[], lambda: number): Record<string, Float32Array> {
  return combine(base, (n, b) => b.map((v, i) => v + lambda * experts.reduce((s, e) => s + (e[n]![i]! - v), 0)));
}

/**
 * TIES-Merging's task vector (Yadav et al. 2023) as mergekit computes it: keep each expert's
 * top-`density` magnitudes of (expert − base) per tensor, elect a sign per weight from the sum of
 * what is kept (a zero sum counts as positive, as in mergekit), average the kept values that agree
 * (normalize=true). The merge is base + λ · this.
 */
function tiesVector(base: Weights, experts: readonly Weights[], density: number): Record<string, Float32Array> {
  return combine(base, (n, b) => {
    const trimmed = experts.map((e) => {
      const tv = b.map((v, i) => e[n]![i]! - v);
      const k = Math.floor(density * tv.length);
      const mags = Float32Array.from(tv, Math.abs).sort();
      const threshold = k > 0 ? mags[tv.length - k]! : Infinity;
      // Values tied with the threshold are all kept; with float data this almost never adds any.
      return tv.map((v) => (Math.abs(v) >= threshold ? v : 0));
    });
    return b.map((_, i) => {
      let sum = 0;
      for (const t of trimmed) sum += t[i]!;
      let agree = 0;
      let count = 0;
      for (const t of trimmed) {
        const x = t[i]!;
        if (x !== 0 && x > 0 === sum >= 0) {
          agree += x;
          count++;
        }
      }
      return count > 0 ? agree / count : 0;
    });
  });
}

/** The manifest without its hard tasks: the tasks and every accuracy table keep only the scored ones, in order. */
function withoutHard(m: DemoManifest): DemoManifest {
  const tasks = m.tasks.filter((t) => !t.hard);
  const ids = new Set(tasks.map((t) => t.id));
  const only = <T>(o: Readonly<Record<string, T>>): Record<string, T> => Object.fromEntries(Object.entries(o).filter(([k]) => ids.has(k)));
  const experts = Object.fromEntries(Object.entries(only(m.accuracy.experts)).map(([e, row]) => [e, only(row)]));
  return { ...m, tasks, accuracy: { ...m.accuracy, base: only(m.accuracy.base), experts } };
}

/**
 * Before a run without --hard overwrites manifest.json: keeps an existing manifest-hard.json (and
 * its hard experts) when it is the new manifest plus hard tasks, which a rerun with the same seed
 * gives; otherwise it describes other checkpoints and is removed with its hard experts. Returns the
 * hard expert files kept.
 */
function reconcileHard(out: string, manifest: DemoManifest, log: (s: string) => void): string[] {
  const file = path.join(out, HARD_MANIFEST);
  if (!fs.existsSync(file)) return [];
  let hard: DemoManifest | undefined;
  try {
    hard = parseManifest(fs.readFileSync(file, 'utf8'), HARD_MANIFEST);
  } catch {
    hard = undefined;
  }
  const experts = (hard?.tasks ?? []).filter((t) => t.hard).map((t) => t.expert);
  if (hard && isDeepStrictEqual(withoutHard(hard), manifest)) return experts;
  fs.rmSync(file);
  for (const e of experts) fs.rmSync(path.join(out, e), { force: true });
  log(`removed ${HARD_MANIFEST} and its hard experts: they were trained from other checkpoints (re-run with --hard to remake them)`);
  return [];
}

function addScaled(base: Weights, vector: Weights, lambda: number): Record<string, Float32Array> {
  return combine(base, (n, b) => b.map((v, i) => v + lambda * vector[n]![i]!));
}

// ---- main ----

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** JSON with two-space indents but number arrays on one line, so the split stays a few KB. */
function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[[\d\s,.e+-]*\]/g, (m) => m.replace(/\s+/g, '')) + '\n';
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const log = (s: string) => {
    if (!opts.quiet) process.stdout.write(s + '\n');
  };
  const started = performance.now();
  const lap = (what: string) => log(`  ${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await initNodeBackend('wasm');

  const csv = zlib.gunzipSync(fs.readFileSync(path.join(ROOT, DATA_FILE)));
  const digits = decodeDigitsCsv(csv, { name: DATA_FILE });
  const split = makeSplit(digits.count);
  const tasks = makeTasks(opts.hard);
  const scored = tasks.filter((t) => !t.hard);
  const trainRows = selectRows(digits, split.train);

  // A manifest without results yet, so the engine's own split/task code builds every data set.
  const draft: DemoManifest = {
    format: DEMO_FORMAT,
    version: DEMO_VERSION,
    dataset: {
      name: 'UCI Optical Recognition of Handwritten Digits (test set, as bundled with scikit-learn)',
      file: DATA_FILE,
      rows: digits.count,
      features: digits.features,
      classes: 10,
      maxValue: 16,
      attribution: 'E. Alpaydin, C. Kaynak (1998), UCI Machine Learning Repository, CC BY 4.0; see data/digits/README.md',
    },
    architecture: ARCH,
    base: 'base.safetensors',
    tasks,
    split,
    training: { seed: opts.seed, dataSeed: DATA_SEED, backend: 'wasm', ...RECIPE },
    accuracy: { split: 'test', baseClean: 0, base: {}, experts: {}, normalized: { base: 0, average: 0, taskArithmetic: { lambda: 0, score: 0 }, ties: { lambda: 0, density: 0, score: 0 } } },
  };
  const sets = { validation: buildTaskSets(draft, digits, 'validation'), test: buildTaskSets(draft, digits, 'test') };
  const clean = taskSet(selectRows(digits, split.test), { transform: { type: 'identity' }, labelShift: 0 }, ARCH.input, ARCH.classes);

  const files = new Map<string, Uint8Array>();
  const baseF32 = train(initialWeights(opts.seed), augmentedSource(trainRows), trainRows.count, RECIPE.base, opts.seed + 1);
  const base = await toF16(baseF32, draft.base);
  files.set(draft.base, base.bytes);
  lap('base trained');

  const experts: Record<string, Weights> = {};
  for (const [i, t] of tasks.entries()) {
    const set = taskSet(trainRows, t, ARCH.input, ARCH.classes);
    // Fine-tuned from the float16 base that ships, so task vectors are exactly expert − base file.
    const w = await toF16(train(base.weights, fixedSource(set), set.count, RECIPE.experts, opts.seed * 100 + 10 + i), t.expert);
    files.set(t.expert, w.bytes);
    experts[t.id] = w.weights;
  }
  lap('experts trained');

  const ids = scored.map((t) => t.id);
  const matrix = await crossTaskMatrix(ARCH, experts, sets.test);
  const own = ownTaskAccuracies(Object.fromEntries(ids.map((id) => [id, matrix[id]!])));
  const baseAcc = await taskAccuracies(ARCH, base.weights, sets.test);
  const baseClean = (await taskAccuracies(ARCH, base.weights, { clean }))['clean']!;
  const scorer = await createDemoScorer(ARCH, sets, experts, ids);
  const scoredExperts = ids.map((id) => experts[id]!);
  const average = await scorer.score(taskArithmetic(base.weights, scoredExperts, 1 / ids.length), 'test');
  const lambdas = sweepValues(0.1, 1.5, 0.1);
  const ta = await sweep(lambdas, (l) => taskArithmetic(base.weights, scoredExperts, l), scorer);
  let tiesBest: { density: number; result: SweepResult } | undefined;
  for (const density of [0.1, 0.2, 0.3, 0.5, 0.7]) {
    const vector = tiesVector(base.weights, scoredExperts, density);
    const result = await sweep(lambdas, (l) => addScaled(base.weights, vector, l), scorer);
    if (!tiesBest || result.best.validation.normalized > tiesBest.result.best.validation.normalized) tiesBest = { density, result };
  }
  lap('merges measured');

  const table = (row: TaskAccuracies) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, r4(v)]));
  // Every task's numbers; with --hard this is manifest-hard.json, and manifest.json is it without them.
  const full: DemoManifest = {
    ...draft,
    accuracy: {
      split: 'test',
      baseClean: r4(baseClean),
      base: table(baseAcc),
      experts: Object.fromEntries(Object.entries(matrix).map(([e, row]) => [e, table(row)])),
      normalized: {
        base: r2(normalizedScore(baseAcc, own, ids)),
        average: r2(average.normalized),
        taskArithmetic: { lambda: ta.best.value, score: r2(ta.best.test.normalized) },
        ties: { lambda: tiesBest!.result.best.value, density: tiesBest!.density, score: r2(tiesBest!.result.best.test.normalized) },
      },
    },
  };
  const manifest = withoutHard(full);
  const json = formatJson(manifest);
  // Never ship a manifest the app would reject.
  const shipped = parseManifest(json, MANIFEST);
  const hardJson = opts.hard ? formatJson(full) : undefined;
  if (hardJson) parseManifest(hardJson, HARD_MANIFEST);
  const defaultFiles = new Set([manifest.base, ...manifest.tasks.map((t) => t.expert)]);

  fs.mkdirSync(opts.out, { recursive: true });
  for (const [name, bytes] of files) fs.writeFileSync(path.join(opts.out, name), bytes);
  const keptHard = hardJson ? [] : reconcileHard(opts.out, shipped, log);
  // An expert no manifest names (an old task's, a stale hard one) would ship for nothing.
  for (const name of fs.readdirSync(opts.out)) {
    if (/^expert-.*\.safetensors$/.test(name) && !files.has(name) && !keptHard.includes(name)) fs.rmSync(path.join(opts.out, name));
  }
  fs.writeFileSync(path.join(opts.out, MANIFEST), json);
  if (hardJson) fs.writeFileSync(path.join(opts.out, HARD_MANIFEST), hardJson);

  const pct = (x: number) => (100 * x).toFixed(1).padStart(6);
  const col = Math.max(12, ...tasks.map((t) => t.id.length + 2));
  const first = Math.max(14, col);
  log(`\nseed ${opts.seed}: test accuracy (%), rows = model, columns = task`);
  log(`${''.padEnd(first)}${tasks.map((t) => t.id.padStart(col)).join('')}`);
  log(`${'base'.padEnd(first)}${tasks.map((t) => pct(baseAcc[t.id]!).padStart(col)).join('')}   clean ${pct(full.accuracy.baseClean)}`);
  for (const e of tasks) log(`${e.id.padEnd(first)}${tasks.map((t) => pct(matrix[e.id]![t.id]!).padStart(col)).join('')}`);
  const n = full.accuracy.normalized;
  log(`normalized: base ${n.base}, average ${n.average}, task arithmetic ${n.taskArithmetic.score} (λ ${n.taskArithmetic.lambda}), TIES ${n.ties.score} (λ ${n.ties.lambda}, density ${n.ties.density})`);
  const size = (names: Iterable<string>) => [...names].reduce((s, f) => s + fs.statSync(path.join(opts.out, f)).size, 0);
  log(`default demo: ${MANIFEST} + ${defaultFiles.size} checkpoints, ${size([MANIFEST, ...defaultFiles])} bytes`);
  const hardFiles = tasks.filter((t) => t.hard).map((t) => t.expert);
  if (hardJson) log(`hard mode: ${HARD_MANIFEST} + ${hardFiles.join(', ')}, ${size([HARD_MANIFEST, ...hardFiles])} bytes more`);
  lap(`written to ${path.relative(process.cwd(), opts.out) || '.'}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`demo-train: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
