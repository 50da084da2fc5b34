/**
 * Helpers for the end-to-end CLI suites: tiny checkpoints written with the engine's own writer
 * into a temporary folder, raw broken bytes (from the reader's catalogue), running the
 * `merge-lab` command line (in this process, or the real binary as a child process), and the
 * "fails cleanly" acceptance check.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { stringify } from 'yaml';
import type { ErrorCode } from '../../src/engine/errors.js';
import { writeSafetensorsToMemory, type TensorWithData } from '../../src/engine/io/index.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import type { Checkpoint, DType } from '../../src/engine/io/types.js';
import { run } from '../../src/cli/run.js';

export { entry, rawFile } from '../io/helpers.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = path.join(REPO, 'node_modules', '.bin', 'tsx');
const MAIN = path.join(REPO, 'src', 'cli', 'main.ts');

// ---------------------------------------------------------------------------------------------
// Running the CLI

export interface CliResult {
  readonly args: readonly string[];
  readonly status: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/**
 * Runs `merge-lab <args>` inside this test process (src/cli/run.ts, what the binary calls), one
 * run at a time: everything written to process.stdout / process.stderr or through console while
 * it runs is its stdout / stderr, the exit code is run()'s answer, and cwd is changed for the run
 * (the unit project's forks pool allows chdir). Starting Node and tsx per case cost ~1 s of CPU
 * each, most of the CLI suites' time. What only a separate process shows (tfjs' start-up banner,
 * signals, another process holding --out, peak RSS) is checked with spawnCliAsync.
 */
export function runCliAsync(args: readonly string[], options: { cwd?: string } = {}): Promise<CliResult> {
  const result = inProcessQueue.then(() => runInProcess(args, options.cwd ?? REPO));
  inProcessQueue = result.catch(() => undefined);
  return result;
}

let inProcessQueue: Promise<unknown> = Promise.resolve();

const CONSOLE_TO_STDERR = ['warn', 'error', 'trace'] as const;
const CONSOLE_TO_STDOUT = ['log', 'info', 'debug'] as const;

async function runInProcess(args: readonly string[], cwd: string): Promise<CliResult> {
  const t0 = Date.now();
  let stdout = '';
  let stderr = '';
  const capture = (append: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
  const toOut = (s: string) => (stdout += s);
  const toErr = (s: string) => (stderr += s);
  const saved = {
    stdout: process.stdout.write,
    stderr: process.stderr.write,
    console: Object.fromEntries([...CONSOLE_TO_STDERR, ...CONSOLE_TO_STDOUT].map((k) => [k, console[k]])) as Record<string, (...a: unknown[]) => void>,
    cwd: process.cwd(),
    env: { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR, MERGE_LAB_DEBUG: process.env.MERGE_LAB_DEBUG },
  };
  process.stdout.write = capture(toOut);
  process.stderr.write = capture(toErr);
  for (const k of CONSOLE_TO_STDOUT) console[k] = (...a: unknown[]) => toOut(format(...a) + '\n');
  for (const k of CONSOLE_TO_STDERR) console[k] = (...a: unknown[]) => toErr(format(...a) + '\n');
  // The environment a spawned CLI gets (childEnv), as far as the CLI reads it.
  process.env.NO_COLOR = '1';
  process.env.FORCE_COLOR = '0';
  delete process.env.MERGE_LAB_DEBUG;
  let status: number;
  try {
    process.chdir(cwd);
    status = await run(args);
  } finally {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    for (const [k, f] of Object.entries(saved.console)) (console as unknown as Record<string, unknown>)[k] = f;
    process.chdir(saved.cwd);
    for (const [k, v] of Object.entries(saved.env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return { args, status, signal: null, stdout, stderr, ms: Date.now() - t0 };
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  delete env.MERGE_LAB_DEBUG;
  // vitest's own variables must not leak into the CLI (it would think it runs under a test).
  delete env.VITEST;
  delete env.VITEST_WORKER_ID;
  delete env.VITEST_POOL_ID;
  delete env.NODE_ENV;
  return env;
}

// At most this many CLI processes at once per test file (each is ~1 s of CPU, mostly start-up).
const MAX_PARALLEL = 3;
let running = 0;
const waiting: (() => void)[] = [];

/** Runs the real `merge-lab` binary (tsx src/cli/main.ts) as a child process without blocking, a few at a time. */
export async function spawnCliAsync(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  if (running >= MAX_PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await new Promise<CliResult>((resolve, reject) => {
      const t0 = Date.now();
      const child = spawn(TSX, [MAIN, ...args], { cwd: options.cwd ?? REPO, env: childEnv() });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ args, status, signal, stdout, stderr, ms: Date.now() - t0 });
      });
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** The usual merge invocation: reference backend, no progress bar. */
export function mergeArgs(recipe: string, out: string, ...extra: string[]): string[] {
  return ['merge', recipe, '--out', out, '--backend', 'cpu', '--no-progress', ...extra];
}

// ---------------------------------------------------------------------------------------------
// Tiny checkpoints

/** Deterministic values in (-1, 1), different for each seed. */
export function values(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return Math.fround(s / 2 ** 31 - 1);
  });
}

/** A tensor spec for `tinyModel`: name and shape, plus optional dtype. */
export interface TinyTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype?: DType;
}

/** The architecture every tiny model shares: an embedding, two layers, a norm; 16 elements each. */
export const TINY_TENSORS: readonly TinyTensor[] = [
  { name: 'model.embed_tokens.weight', shape: [4, 4] },
  { name: 'model.layers.0.mlp.weight', shape: [4, 4] },
  { name: 'model.layers.1.mlp.weight', shape: [4, 4] },
  { name: 'model.norm.weight', shape: [16] },
];

export const TINY_CONFIG = { architectures: ['TinyForCausalLM'], model_type: 'tiny', num_hidden_layers: 2, hidden_size: 4 };

/** safetensors bytes for `tensors`, filled from `seed` (each tensor its own stream). */
export async function tinyCheckpointBytes(seed: number, tensors: readonly TinyTensor[] = TINY_TENSORS): Promise<Uint8Array> {
  const data: TensorWithData[] = tensors.map((t, i) => ({
    name: t.name,
    dtype: t.dtype ?? 'F32',
    shape: [...t.shape],
    data: values(t.shape.reduce((a, b) => a * b, 1), seed * 101 + i),
  }));
  return writeSafetensorsToMemory(data, { format: 'pt' });
}

/** A scratch folder for one suite, removed by `dispose()`. */
export class Workspace {
  private constructor(readonly root: string) {}

  static async create(prefix = 'merge-lab-cli-'): Promise<Workspace> {
    return new Workspace(await mkdtemp(path.join(tmpdir(), prefix)));
  }

  path(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  /** Writes `rel` (creating folders) and returns its absolute path. */
  async file(rel: string, content: string | Uint8Array): Promise<string> {
    const p = this.path(rel);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, content);
    return p;
  }

  async dir(rel: string): Promise<string> {
    const p = this.path(rel);
    await mkdir(p, { recursive: true });
    return p;
  }

  /** A model folder `rel` holding model.safetensors (and config.json when `config` is given). */
  async model(rel: string, seed: number, options: { tensors?: readonly TinyTensor[]; config?: object } = {}): Promise<string> {
    await this.file(path.join(rel, 'model.safetensors'), await tinyCheckpointBytes(seed, options.tensors));
    if (options.config) await this.file(path.join(rel, 'config.json'), JSON.stringify(options.config, null, 2) + '\n');
    return this.path(rel);
  }

  /** A recipe file `rel` from an object (written as YAML) or raw text. */
  async recipe(rel: string, recipe: object | string): Promise<string> {
    return this.file(rel, typeof recipe === 'string' ? recipe : stringify(recipe));
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Looking at results

/** Every file under `dir`, as paths relative to it ('/'-separated); [] when `dir` does not exist. */
export function listFiles(dir: string): string[] {
  if (!isDirectory(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** A snapshot of a folder's files and their bytes, to prove a failure left them alone. */
export function snapshot(dir: string): Map<string, string> {
  return new Map(listFiles(dir).map((f) => [f, readFileSync(path.join(dir, f)).toString('base64')]));
}

export interface FailureExpectation {
  /** The error code in `merge-lab: error [CODE]:`. */
  readonly code: ErrorCode;
  /** The files, tensors, models or settings at fault: each must be named on the (one) line. */
  readonly culprits: readonly string[];
  /** Text that must appear somewhere in stderr (e.g. a suggestion, or the inline problems' codes). */
  readonly mentions?: readonly string[];
  /** The --out folder of the run, if any. */
  readonly out?: string;
  /** The --out folder's files before the run (undefined: it did not exist, and must not exist after). */
  readonly outBefore?: Map<string, string>;
  /** Where to look for left-over *.partial* files besides `out` (e.g. the case's folder). */
  readonly scratch?: string;
}

/** What a merge writes: a model (single or sharded) with the rest of its folder, or a routed method's package, and the recipe and config. */
const OUTPUT_FILE =
  /(^|\/)(model[^/]*\.safetensors|model\.safetensors\.index\.json|merge-recipe\.yml|mergekit_config\.yml|README\.md|config\.json|tokenizer(_config)?\.json|tokenizer\.model|special_tokens_map\.json|chat_template\.(jinja|json)|twin\.json|shared\.safetensors|exclusive\.safetensors|router\.safetensors|channel\.json|groups\.safetensors|index\.safetensors)$/;

/**
 * Everything wrong with `r` as a clean failure, as readable sentences ([] when it is clean):
 * - a non-zero exit;
 * - stderr is exactly one line, `merge-lab: error [CODE]: <reason>`: nothing before it (no tfjs
 *   banner, no warning) and nothing after it. Several problems found in one pass are one line too,
 *   `merge-lab: error [RECIPE_PROBLEMS]: N problems: (1) [CODE] ... (2) [CODE] ...`;
 * - that line names every culprit;
 * - no stack trace and no "internal error" on stderr or stdout;
 * - the --out folder holds no merged file (model*.safetensors, the index, merge-recipe.yml,
 *   mergekit_config.yml, README.md, config.json, tokenizer files, a routed package's files) and no *.partial* file; if it did not exist before, it does not exist after;
 *   if it did, its files are exactly as before.
 */
export function failureProblems(r: CliResult, x: FailureExpectation): string[] {
  const problems: string[] = [];
  const show = `\n--- stderr ---\n${r.stderr}--- stdout ---\n${r.stdout}`;
  if (r.status === 0 || r.status === null) problems.push(`exit status is ${r.status} (signal ${r.signal}), expected a non-zero exit`);
  const prefix = `merge-lab: error [${x.code}]: `;
  if (!r.stderr.startsWith(prefix)) problems.push(`stderr does not start with "${prefix}"`);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  if (lines.length !== 1) problems.push(`stderr is ${lines.length} lines, expected one`);
  const first = lines[0] ?? '';
  for (const c of x.culprits) if (!first.includes(c)) problems.push(`the error line does not name ${JSON.stringify(c)}`);
  for (const m of x.mentions ?? []) if (!r.stderr.includes(m)) problems.push(`stderr does not mention ${JSON.stringify(m)}`);
  for (const [name, text] of [['stderr', r.stderr], ['stdout', r.stdout]] as const) {
    if (/^\s+at \S/m.test(text)) problems.push(`${name} holds a stack trace`);
    if (/internal error/i.test(text)) problems.push(`${name} reports an internal error`);
  }
  if (x.out !== undefined) {
    if (x.outBefore === undefined) {
      if (existsSync(x.out)) problems.push(`--out ${x.out} did not exist before and exists after, holding ${JSON.stringify(listFiles(x.out))}`);
    } else {
      const after = snapshot(x.out);
      const left = [...after.keys()].filter((f) => !x.outBefore!.has(f));
      if (left.length) problems.push(`files left in --out: ${JSON.stringify(left)}`);
      for (const [f, bytes] of x.outBefore) {
        if (!after.has(f)) problems.push(`pre-existing ${f} in --out was removed`);
        else if (after.get(f) !== bytes) problems.push(`pre-existing ${f} in --out was changed`);
      }
    }
    const merged = listFiles(x.out).filter((f) => OUTPUT_FILE.test(f) && !x.outBefore?.has(f));
    if (merged.length) problems.push(`merged output left behind: ${JSON.stringify(merged)}`);
  }
  for (const dir of [x.out, x.scratch]) {
    if (dir === undefined) continue;
    const partial = listFiles(dir).filter((f) => f.includes('.partial'));
    if (partial.length) problems.push(`partial files left behind in ${dir}: ${JSON.stringify(partial)}`);
  }
  return problems.length ? [...problems, show] : [];
}

/** Whether `p` is a folder. */
export function isDirectory(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/** Runs `f` on the checkpoint at `p` and closes it, whatever happens. */
export async function withCheckpoint<T>(p: string, f: (c: Checkpoint) => Promise<T>): Promise<T> {
  const c = await openCheckpointPath(p);
  try {
    return await f(c);
  } finally {
    await c.close();
  }
}

/** One CLI run, started on first use and shared by every test that needs it. */
export function memo(run: () => Promise<CliResult>): () => Promise<CliResult> {
  let p: Promise<CliResult> | undefined;
  return () => (p ??= run());
}

/** The tiny Llama checkpoints (with a tokenizer) under test/fixtures/mergekit-recipes/models. */
export const TINY_LLAMA_MODELS = path.join(REPO, 'test/fixtures/mergekit-recipes/models');

/** A bfloat16 TIES merge of those models (ft1, ft2 onto base), with `extra` recipe lines. */
export function tinyLlamaTiesBf16(extra = ''): string {
  return [
    'merge_method: ties',
    `base_model: ${TINY_LLAMA_MODELS}/base`,
    'models:',
    `  - model: ${TINY_LLAMA_MODELS}/ft1`,
    '    parameters: {weight: 1.0, density: 0.5}',
    `  - model: ${TINY_LLAMA_MODELS}/ft2`,
    '    parameters: {weight: 0.8, density: 0.5}',
    'dtype: bfloat16',
    extra,
    '',
  ].join('\n');
}

/** TIES of two task models onto `base` (the recipe the CLI tests write beside their tiny checkpoints). */
export const TIES_RECIPE = {
  merge_method: 'ties',
  base_model: 'base',
  models: [
    { model: 'ft-a', parameters: { weight: 0.6, density: 0.5 } },
    { model: 'ft-b', parameters: { weight: 0.4, density: 0.7 } },
  ],
  parameters: { normalize: true },
  dtype: 'float32',
};
