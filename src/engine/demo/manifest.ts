/**
 * The demo's manifest.json: everything the app, CLI and tests need to use the shipped checkpoints,
 * declared as data (architecture, tensor names, task transforms, split, measured accuracies), so
 * nothing about the demo model is hard-coded twice. parseManifest checks all of it in one pass
 * and reports every problem at once, each with its JSON path.
 */
import { MergeLabError } from '../errors.js';
import { TRANSFORM_TYPES, type Transform } from './transforms.js';

export const DEMO_FORMAT = 'merge-lab-demo';
export const DEMO_VERSION = 1;

export type Activation = 'relu' | 'none';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'none'];

/** y = activation(x Wᵀ + b). */
export interface DenseLayer {
  readonly type: 'dense';
  /** Tensor of shape [outputs, inputs]: torch's nn.Linear layout, which merge tools expect. */
  readonly weight: string;
  /** Tensor of shape [outputs]. */
  readonly bias: string;
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: Activation;
}

export interface Architecture {
  /** One input image: height × width pixels, each multiplied by `scale` before the first layer. */
  readonly input: { readonly height: number; readonly width: number; readonly scale: number };
  readonly layers: readonly DenseLayer[];
  readonly classes: number;
}

export interface DemoTask {
  /** Stable key: used in URLs, the accuracy tables and file names. */
  readonly id: string;
  readonly label: string;
  readonly transform: Transform;
  /** Labels become (y + labelShift) mod classes; 0 for the input-transform tasks. */
  readonly labelShift: number;
  /** The expert's checkpoint, relative to the manifest. */
  readonly expert: string;
  /** A task meant to fool routers (its inputs look like another task's); left out of the default score. */
  readonly hard: boolean;
}

export interface DemoDataset {
  readonly name: string;
  /** Where the CSV lives, relative to the repository root. */
  readonly file: string;
  readonly rows: number;
  readonly features: number;
  readonly classes: number;
  /** Largest pixel value (the invert task's reference). */
  readonly maxValue: number;
  readonly attribution: string;
}

/** Row indices into the data set; disjoint. */
export interface DemoSplit {
  readonly train: readonly number[];
  readonly validation: readonly number[];
  readonly test: readonly number[];
}

/** What the trainer measured on the test split (accuracies as fractions, scores in percent). */
export interface MeasuredAccuracy {
  readonly split: 'test';
  /** The base model on unmodified digits. */
  readonly baseClean: number;
  /** Task id → base accuracy. */
  readonly base: Readonly<Record<string, number>>;
  /** Expert's task id → task id → accuracy: the cross-task matrix. */
  readonly experts: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * Normalized accuracy (mean over the non-hard tasks of merged / expert, %) of the trainer's own
   * reference merges, λ and density chosen on validation. The engine's methods should land close.
   */
  readonly normalized: {
    readonly base: number;
    readonly average: number;
    readonly taskArithmetic: { readonly lambda: number; readonly score: number };
    readonly ties: { readonly lambda: number; readonly density: number; readonly score: number };
  };
}

export interface DemoManifest {
  readonly format: typeof DEMO_FORMAT;
  readonly version: typeof DEMO_VERSION;
  readonly dataset: DemoDataset;
  readonly architecture: Architecture;
  /** The base checkpoint, relative to the manifest. */
  readonly base: string;
  readonly tasks: readonly DemoTask[];
  readonly split: DemoSplit;
  /** How the checkpoints were made (seed, optimisers, epochs); informational only. */
  readonly training: Readonly<Record<string, unknown>>;
  readonly accuracy: MeasuredAccuracy;
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects problems with their JSON paths; getters return a placeholder when a value is bad. */
export class Checker {
  readonly problems: string[] = [];
  fail(path: string, why: string): void {
    this.problems.push(`${path}: ${why}`);
  }
  obj(v: unknown, path: string): Obj {
    if (isObj(v)) return v;
    this.fail(path, `expected an object, got ${describe(v)}`);
    return {};
  }
  arr(v: unknown, path: string): unknown[] {
    if (Array.isArray(v)) return v;
    this.fail(path, `expected an array, got ${describe(v)}`);
    return [];
  }
  str(o: Obj, key: string, path: string): string {
    const v = o[key];
    if (typeof v === 'string' && v !== '') return v;
    this.fail(`${path}.${key}`, `expected a non-empty string, got ${describe(v)}`);
    return '';
  }
  num(o: Obj, key: string, path: string, opts: { int?: boolean; min?: number; max?: number } = {}): number {
    return this.numValue(o[key], `${path}.${key}`, opts);
  }
  numValue(v: unknown, path: string, { int = false, min = -Infinity, max = Infinity }: { int?: boolean; min?: number; max?: number } = {}): number {
    const ok = typeof v === 'number' && Number.isFinite(v) && (!int || Number.isInteger(v)) && v >= min && v <= max;
    if (ok) return v;
    const range = min === -Infinity && max === Infinity ? '' : ` in ${min}..${max}`;
    this.fail(path, `expected ${int ? 'an integer' : 'a number'}${range}, got ${describe(v)}`);
    return NaN;
  }
  oneOf<T extends string>(o: Obj, key: string, path: string, allowed: readonly T[]): T {
    const v = o[key];
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.fail(`${path}.${key}`, `expected one of ${allowed.join(', ')}, got ${describe(v)}`);
    return allowed[0]!;
  }
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function parseArchitecture(c: Checker, v: unknown): Architecture {
  const o = c.obj(v, 'architecture');
  const inp = c.obj(o['input'], 'architecture.input');
  const input = {
    height: c.num(inp, 'height', 'architecture.input', { int: true, min: 1 }),
    width: c.num(inp, 'width', 'architecture.input', { int: true, min: 1 }),
    scale: c.num(inp, 'scale', 'architecture.input'),
  };
  const classes = c.num(o, 'classes', 'architecture', { int: true, min: 2 });
  const layers = c.arr(o['layers'], 'architecture.layers').map((l, i): DenseLayer => {
    const p = `architecture.layers[${i}]`;
    const lo = c.obj(l, p);
    return {
      type: c.oneOf(lo, 'type', p, ['dense'] as const),
      weight: c.str(lo, 'weight', p),
      bias: c.str(lo, 'bias', p),
      inputs: c.num(lo, 'inputs', p, { int: true, min: 1 }),
      outputs: c.num(lo, 'outputs', p, { int: true, min: 1 }),
      activation: c.oneOf(lo, 'activation', p, ACTIVATIONS),
    };
  });
  if (layers.length === 0) c.fail('architecture.layers', 'expected at least one layer');
  // Shapes must chain, or a forward pass would read past a tensor; say where the chain breaks.
  let width = input.height * input.width;
  const names = new Set<string>();
  layers.forEach((l, i) => {
    if (!Number.isNaN(width) && !Number.isNaN(l.inputs) && l.inputs !== width) {
      c.fail(`architecture.layers[${i}].inputs`, `is ${l.inputs} but the previous ${i === 0 ? 'input (height × width)' : 'layer'} gives ${width}`);
    }
    width = l.outputs;
    for (const n of [l.weight, l.bias]) {
      if (n !== '' && names.has(n)) c.fail(`architecture.layers[${i}]`, `tensor "${n}" is used twice`);
      names.add(n);
    }
  });
  const last = layers.at(-1);
  if (last && !Number.isNaN(last.outputs) && !Number.isNaN(classes) && last.outputs !== classes) {
    c.fail(`architecture.layers[${layers.length - 1}].outputs`, `is ${last.outputs} but architecture.classes is ${classes}`);
  }
  return { input, layers, classes };
}

function parseTransform(c: Checker, v: unknown, path: string, arch: Architecture): Transform {
  const o = c.obj(v, path);
  const type = c.oneOf(o, 'type', path, TRANSFORM_TYPES);
  const { height: h, width: w } = arch.input;
  switch (type) {
    case 'identity':
      return { type };
    case 'invert':
      return { type, max: c.num(o, 'max', path) };
    case 'permute': {
      const permutation = c.arr(o['permutation'], `${path}.permutation`).map((x, i) => c.numValue(x, `${path}.permutation[${i}]`, { int: true, min: 0 }));
      const seen = new Set(permutation);
      if (permutation.length !== h * w || seen.size !== permutation.length || permutation.some((x) => x >= h * w)) {
        c.fail(`${path}.permutation`, `must list each pixel index 0..${h * w - 1} exactly once`);
      }
      return { type, permutation };
    }
    case 'shift':
      return { type, dx: c.num(o, 'dx', path, { int: true, min: 1 - w, max: w - 1 }), dy: c.num(o, 'dy', path, { int: true, min: 1 - h, max: h - 1 }) };
    case 'occlude': {
      const top = c.num(o, 'top', path, { int: true, min: 0, max: h - 1 });
      const left = c.num(o, 'left', path, { int: true, min: 0, max: w - 1 });
      return { type, top, left, height: c.num(o, 'height', path, { int: true, min: 1, max: h - top }), width: c.num(o, 'width', path, { int: true, min: 1, max: w - left }) };
    }
    case 'rotate90':
      if (h !== w) c.fail(path, `rotate90 needs square images, the architecture's are ${h}×${w}`);
      return { type, turns: c.num(o, 'turns', path, { int: true }) };
    case 'flip':
      return { type, axis: c.oneOf(o, 'axis', path, ['horizontal', 'vertical'] as const) };
  }
}

function parseTasks(c: Checker, v: unknown, arch: Architecture): DemoTask[] {
  const tasks = c.arr(v, 'tasks').map((t, i): DemoTask => {
    const p = `tasks[${i}]`;
    const o = c.obj(t, p);
    const hard = o['hard'] ?? false;
    if (typeof hard !== 'boolean') c.fail(`${p}.hard`, `expected true or false, got ${describe(hard)}`);
    return {
      id: c.str(o, 'id', p),
      label: c.str(o, 'label', p),
      transform: parseTransform(c, o['transform'], `${p}.transform`, arch),
      labelShift: c.num(o, 'labelShift', p, { int: true }),
      expert: c.str(o, 'expert', p),
      hard: hard === true,
    };
  });
  if (tasks.filter((t) => !t.hard).length === 0) c.fail('tasks', 'expected at least one task that is not hard');
  for (const key of ['id', 'expert'] as const) {
    const seen = new Set<string>();
    tasks.forEach((t, i) => {
      if (t[key] !== '' && seen.has(t[key])) c.fail(`tasks[${i}].${key}`, `"${t[key]}" is used by an earlier task`);
      seen.add(t[key]);
    });
  }
  return tasks;
}

function parseSplit(c: Checker, v: unknown, rows: number): DemoSplit {
  const o = c.obj(v, 'split');
  const owner = new Map<number, string>();
  const part = (key: 'train' | 'validation' | 'test'): number[] => {
    const list = c.arr(o[key], `split.${key}`).map((x, i) => c.numValue(x, `split.${key}[${i}]`, { int: true, min: 0, max: rows - 1 }));
    if (list.length === 0) c.fail(`split.${key}`, 'is empty');
    // Only the first overlap is reported: one bad split would otherwise flood the message.
    const dup = list.find((x) => !Number.isNaN(x) && owner.has(x));
    if (dup !== undefined) c.fail(`split.${key}`, `row ${dup} is also in split.${owner.get(dup)}; the parts must be disjoint`);
    for (const x of list) if (!owner.has(x)) owner.set(x, key);
    return list;
  };
  return { train: part('train'), validation: part('validation'), test: part('test') };
}

function parseAccuracy(c: Checker, v: unknown, tasks: readonly DemoTask[]): MeasuredAccuracy {
  const o = c.obj(v, 'accuracy');
  if (o['split'] !== 'test') c.fail('accuracy.split', `expected "test", got ${describe(o['split'])}`);
  const ids = tasks.map((t) => t.id);
  const table = (x: unknown, path: string): Record<string, number> => {
    const t = c.obj(x, path);
    const extra = Object.keys(t).filter((k) => !ids.includes(k));
    if (extra.length > 0) c.fail(path, `unknown task ${extra.map((k) => `"${k}"`).join(', ')}`);
    return Object.fromEntries(ids.map((id) => [id, c.num(t, id, path, { min: 0, max: 1 })]));
  };
  const experts = c.obj(o['experts'], 'accuracy.experts');
  const n = c.obj(o['normalized'], 'accuracy.normalized');
  const ta = c.obj(n['taskArithmetic'], 'accuracy.normalized.taskArithmetic');
  const ties = c.obj(n['ties'], 'accuracy.normalized.ties');
  const p = 'accuracy.normalized';
  return {
    split: 'test',
    baseClean: c.num(o, 'baseClean', 'accuracy', { min: 0, max: 1 }),
    base: table(o['base'], 'accuracy.base'),
    experts: Object.fromEntries(ids.map((id) => [id, table(experts[id], `accuracy.experts.${id}`)])),
    normalized: {
      base: c.num(n, 'base', p),
      average: c.num(n, 'average', p),
      taskArithmetic: { lambda: c.num(ta, 'lambda', `${p}.taskArithmetic`), score: c.num(ta, 'score', `${p}.taskArithmetic`) },
      ties: {
        lambda: c.num(ties, 'lambda', `${p}.ties`),
        density: c.num(ties, 'density', `${p}.ties`, { min: 0, max: 1 }),
        score: c.num(ties, 'score', `${p}.ties`),
      },
    },
  };
}

/**
 * Validates a parsed manifest.json (or its text). Throws one DEMO_MANIFEST_INVALID error whose
 * message lists every problem with its JSON path; `problems` holds them one by one.
 */
export function parseManifest(input: unknown, fileName = 'manifest.json'): DemoManifest {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName} is not valid JSON (${(e as Error).message}). Re-run npm run demo:train.`);
    }
  }
  if (!isObj(json)) throw new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName} must hold a JSON object, got ${describe(json)}. Re-run npm run demo:train.`);
  const o = json;
  if (o['format'] !== DEMO_FORMAT || o['version'] !== DEMO_VERSION) {
    // Anything else may be a newer layout: do not guess at its fields.
    throw new MergeLabError(
      'DEMO_MANIFEST_INVALID',
      `${fileName} is not a ${DEMO_FORMAT} manifest version ${DEMO_VERSION} (format ${describe(o['format'])}, version ${describe(o['version'])}).`,
    );
  }
  const c = new Checker();
  const d = c.obj(o['dataset'], 'dataset');
  const dataset: DemoDataset = {
    name: c.str(d, 'name', 'dataset'),
    file: c.str(d, 'file', 'dataset'),
    rows: c.num(d, 'rows', 'dataset', { int: true, min: 1 }),
    features: c.num(d, 'features', 'dataset', { int: true, min: 1 }),
    classes: c.num(d, 'classes', 'dataset', { int: true, min: 2 }),
    maxValue: c.num(d, 'maxValue', 'dataset', { min: 0 }),
    attribution: c.str(d, 'attribution', 'dataset'),
  };
  const architecture = parseArchitecture(c, o['architecture']);
  const { height, width } = architecture.input;
  if (dataset.features !== height * width && !Number.isNaN(height * width)) {
    c.fail('dataset.features', `is ${dataset.features} but architecture.input is ${height}×${width}`);
  }
  if (dataset.classes !== architecture.classes) c.fail('dataset.classes', `is ${dataset.classes} but architecture.classes is ${architecture.classes}`);
  const base = c.str(o, 'base', '(root)');
  const tasks = parseTasks(c, o['tasks'], architecture);
  if (tasks.some((t) => t.expert === base)) c.fail('base', `"${base}" is also a task's expert file`);
  const split = parseSplit(c, o['split'], Number.isNaN(dataset.rows) ? Infinity : dataset.rows);
  const training = c.obj(o['training'], 'training');
  const accuracy = parseAccuracy(c, o['accuracy'], tasks);
  if (c.problems.length > 0) {
    const problems = c.problems.map((p) => new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName}: ${p}`));
    const list = c.problems.map((p) => `  - ${p}`).join('\n');
    throw new MergeLabError('DEMO_MANIFEST_INVALID', `${fileName} has ${c.problems.length} problem${c.problems.length > 1 ? 's' : ''} (re-run npm run demo:train):\n${list}`, problems);
  }
  return { format: DEMO_FORMAT, version: DEMO_VERSION, dataset, architecture, base, tasks, split, training, accuracy };
}

/** The tasks that count in the normalized score (all but the hard ones). */
export function scoredTasks(manifest: DemoManifest): DemoTask[] {
  return manifest.tasks.filter((t) => !t.hard);
}

/** Every tensor the architecture reads, with its expected shape, in layer order. */
export function architectureTensors(arch: Architecture): { name: string; shape: [number] | [number, number] }[] {
  return arch.layers.flatMap((l) => [
    { name: l.weight, shape: [l.outputs, l.inputs] as [number, number] },
    { name: l.bias, shape: [l.outputs] as [number] },
  ]);
}
