/**
 * The routed methods as recipes (src/engine/routed/), in process on tiny checkpoints in memory:
 * validation reports every problem at once with the planner's codes, before any tensor is read;
 * the packages read back with the modules' own readers and rebuild every expert within the error
 * they report — exactly at full rank and at K = number of experts; the shared expert is the
 * registry's own merge; progress, cancel and the "no router" note.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isMergeLabError } from '../../src/engine/errors.js';
import { memorySource, openSafetensors } from '../../src/engine/io/index.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { readChannelPackage, taskWeights } from '../../src/engine/methods/channel/index.js';
import { partDelta, readTwinPackage } from '../../src/engine/methods/twin/index.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { CHANNEL_MERGING, ROUTED_METHODS, TWIN_MERGING, findRoutedMethod, type RoutedMethod, type RoutedReport } from '../../src/engine/routed/index.js';
import { tinyCheckpointBytes, type TinyTensor } from '../cli/helpers.js';

/** Matrices of several shapes (wide, tall, square) and a vector. */
const TENSORS: readonly TinyTensor[] = [
  { name: 'embed.weight', shape: [6, 4] },
  { name: 'layers.0.proj.weight', shape: [3, 7] },
  { name: 'layers.1.proj.weight', shape: [5, 5] },
  { name: 'norm.weight', shape: [9] },
];
const EXPERTS = ['ft-a', 'ft-b', 'ft-c'];
let checkpoints: Map<string, Checkpoint>;
const values: Record<string, Record<string, Float32Array>> = {};

async function open(name: string, seed: number, tensors: readonly TinyTensor[] = TENSORS): Promise<Checkpoint> {
  return openSafetensors(memorySource(`${name}/model.safetensors`, await tinyCheckpointBytes(seed, tensors)));
}

beforeAll(async () => {
  checkpoints = new Map();
  for (const [i, name] of ['base', ...EXPERTS].entries()) {
    const c = await open(name, 40 + i);
    checkpoints.set(name, c);
    values[name] = Object.fromEntries(await Promise.all(TENSORS.map(async (t) => [t.name, await c.readFloat32(t.name)] as const)));
  }
  checkpoints.set('ft-short', await open('ft-short', 50, TENSORS.filter((t) => t.name !== 'norm.weight')));
  checkpoints.set('ft-wide', await open('ft-wide', 51, TENSORS.map((t) => (t.name === 'embed.weight' ? { ...t, shape: [4, 6] } : t))));
});

function recipe(method: string, parameters: string, models = EXPERTS.map((m) => `{model: ${m}}`).join(', '), extra = 'base_model: base\n'): Recipe {
  return parseRecipe(`merge_method: ${method}\n${extra}models: [${models}]\nparameters: {${parameters}}\n`, 'r.yml');
}

function validate(m: RoutedMethod, r: Recipe) {
  return m.validate({ recipe: r, checkpoints });
}

/** The problems' codes and messages, in order. */
function problemsOf(m: RoutedMethod, r: Recipe): [string, string][] {
  return validate(m, r).problems.map((p) => [p.code, p.message]);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);
}

describe('the routed registry', () => {
  it('lists twin_merging and channel_merging with schemas, files and a one-line summary', () => {
    expect(ROUTED_METHODS.map((m) => m.id)).toEqual(['twin_merging', 'channel_merging']);
    expect(findRoutedMethod('ties')).toBeUndefined();
    for (const m of ROUTED_METHODS) {
      expect(m.params.length).toBeGreaterThan(0);
      // Twin: shared_method and exclude; Channel: group_method and clustering.
      expect(m.options.map((o) => o.name)).toEqual(m.id === 'twin_merging' ? ['shared_method', 'exclude'] : ['group_method', 'clustering']);
      expect(m.files.at(-1)).toBe('router.safetensors');
      // No id collides with the registry's per-tensor methods.
      expect(METHODS.some((x) => x.id === m.id)).toBe(false);
    }
    expect(TWIN_MERGING.params.map((p) => p.name)).toEqual(['lambda', 'rank', 'rank_ratio', 'energy', 'hidden', 'epochs', 'learningRate', 'temperature', 'topK', 'seed']);
    expect(CHANNEL_MERGING.options[0]!.choices).toContain('linear');
    expect(CHANNEL_MERGING.options[0]!.choices).not.toContain('slerp');
  });
});

describe('twin_merging recipes: validation before reading tensors', () => {
  it('accepts the brief’s recipe, and energy instead of rank', () => {
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'shared_method: task_arithmetic, lambda: 0.3, rank: 4'))).toEqual([]);
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'energy: 0.9'))).toEqual([]);
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'shared_method: ties, density: 0.5, rank: 2, temperature: 0.5, topK: 2'))).toEqual([]);
  });
  it('reports every problem of the recipe at once, each with its code', () => {
    const p = problemsOf(TWIN_MERGING, recipe('twin_merging', 'rank: 0, energy: 1.5, rnak: 3, group_method: ties, topK: 5, hidden: 2.5'));
    expect(p.map(([c]) => c).sort()).toEqual(['PARAMETER_INVALID', 'PARAMETER_OUT_OF_RANGE', 'PARAMETER_OUT_OF_RANGE', 'PARAMETER_OUT_OF_RANGE', 'UNKNOWN_PARAMETER', 'UNKNOWN_PARAMETER'].sort());
    const text = p.map(([, m]) => m).join('\n');
    expect(text).toMatch(/rank \(top-level parameters\) is 0, outside \[1, ∞\]/);
    expect(text).toMatch(/energy \(top-level parameters\) is 1\.5, outside \(0, 1\]/);
    expect(text).toMatch(/"rnak" is not a parameter of twin_merging \(did you mean "rank"\?\)\. It takes rank, rank_ratio, energy, hidden, epochs, learningRate, temperature, topK, seed; and its shared_method task_arithmetic's weight, lambda, normalize, int8_mask\./);
    expect(text).toMatch(/"group_method" is not a parameter of twin_merging; it chooses its inner method with shared_method/);
    expect(text).toMatch(/topK \(top-level parameters\) is 5, outside \[1, 3\]/);
    expect(text).toMatch(/hidden \(top-level parameters\) must be a whole number, got 2\.5/);
  });
  it('wants rank or energy, not both', () => {
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'rank: 2, energy: 0.9'))).toEqual([['PARAMETER_INVALID', expect.stringMatching(/one of rank .*, rank_ratio .* or energy .*, not rank and energy/)]]);
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'rank: 2, rank_ratio: 0.1'))).toEqual([['PARAMETER_INVALID', expect.stringMatching(/not rank and rank_ratio/)]]);
  });
  it('names the closest shared method, and refuses slerp (two models only)', () => {
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'shared_method: task_arithmatic'))).toEqual([['UNKNOWN_METHOD', expect.stringMatching(/shared_method "task_arithmatic" is not a method merge-lab knows\. Did you mean "task_arithmetic"\?/)]]);
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'shared_method: slerp, t: 0.5'))).toEqual([['PARAMETER_INVALID', expect.stringMatching(/shared_method "slerp" cannot be used here/)]]);
  });
  it('needs a base model and two experts', () => {
    const p = problemsOf(TWIN_MERGING, recipe('twin_merging', 'rank: 2', '{model: ft-a}', ''));
    expect(p.map(([c]) => c)).toEqual(['BASE_MODEL_REQUIRED', 'TOO_FEW_MODELS']);
    expect(p[1]![1]).toMatch(/twin_merging needs the base_model and at least 2 other models \(the experts\); the recipe has 1 besides the base/);
  });
  it("checks the shared method's own parameters through the planner, and which of them it takes", () => {
    const p = problemsOf(TWIN_MERGING, recipe('twin_merging', 'shared_method: ties, rank: 2', '{model: ft-a, parameters: {density: 0.5}}, {model: ft-b, parameters: {density: 1.5}}, {model: ft-c, parameters: {gamma: 0.1}}'));
    expect(p).toEqual([
      ['UNKNOWN_PARAMETER', expect.stringMatching(/parameters of model "ft-c": "gamma" is not a parameter of shared_method ties/)],
      ['PARAMETER_OUT_OF_RANGE', expect.stringMatching(/^shared expert \(shared_method ties\): density of model "ft-b" is 1\.5 for tensor embed\.weight, outside \[0, 1\]/)],
    ]);
    expect(problemsOf(TWIN_MERGING, recipe('twin_merging', 'shared_method: model_stock, lambda: 0.5'))).toEqual([['UNKNOWN_PARAMETER', expect.stringMatching(/"lambda" scales the shared expert's task vectors, but shared_method model_stock takes no lambda/)]]);
  });
  it('reports a missing tensor and another shape once each, for the expert at fault', () => {
    const p = problemsOf(TWIN_MERGING, recipe('twin_merging', 'rank: 2', '{model: ft-a}, {model: ft-short}, {model: ft-wide}'));
    expect(p).toEqual([
      ['TENSOR_MISSING', expect.stringMatching(/^Model "ft-short" has no tensor norm\.weight, which the base model has/)],
      ['SHAPE_MISMATCH', expect.stringMatching(/^Model "ft-wide" holds tensor embed\.weight \[4, 6\] \(the base's is \[6, 4\]\)/)],
    ]);
  });
  it('warns that router training settings need data, and that the package is float32', () => {
    const v = validate(TWIN_MERGING, parseRecipe('merge_method: twin_merging\nbase_model: base\nmodels: [{model: ft-a}, {model: ft-b}]\nparameters: {hidden: 8, epochs: 2}\ndtype: float16\n'));
    expect(v.problems).toEqual([]);
    expect(v.warnings.join('\n')).toMatch(/hidden, epochs set how the router is trained.*ignored \(the package has no router\.safetensors\)/);
    expect(v.warnings.join('\n')).toMatch(/twin_merging packages are written in float32; dtype float16 is ignored/);
  });
});

describe('channel_merging recipes: validation before reading tensors', () => {
  it('accepts the brief’s recipe, linear as average, and a group method with its parameters', () => {
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'groups: 2, group_method: linear'))).toEqual([]);
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'groups: 3, group_method: ties, lambda: 1, density: 0.5, cluster_trimmed: true'))).toEqual([]);
    // Per-model values are fine when every expert has the same one.
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'group_method: ties', EXPERTS.map((m) => `{model: ${m}, parameters: {density: 0.4, weight: 1}}`).join(', ')))).toEqual([]);
  });
  it('reports every problem at once: K above the experts, parameters average does not take, an unknown dtype', () => {
    const r = parseRecipe('merge_method: channel_merging\nbase_model: base\nmodels: [{model: ft-a}, {model: ft-b}, {model: ft-c}]\nparameters: {groups: 4, lambda: 0.5}\ndtype: float64\n');
    const p = problemsOf(CHANNEL_MERGING, r);
    expect(p).toEqual([
      ['UNKNOWN_PARAMETER', expect.stringMatching(/"lambda" is not a parameter of channel_merging\. It takes groups, cluster_trimmed, merge_singletons; and its group_method average's \(none\)/)],
      ['PARAMETER_OUT_OF_RANGE', expect.stringMatching(/groups \(top-level parameters\) is 4, outside \[1, 3\]: there are 3 experts/)],
      ['PARAMETER_INVALID', expect.stringMatching(/dtype float64: channel_merging stores its groups as float32, float16 or bfloat16/)],
    ]);
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'groups: 0'))).toEqual([['PARAMETER_OUT_OF_RANGE', expect.stringMatching(/groups \(top-level parameters\) is 0, outside \[1, ∞\]/)]]);
  });
  it('names the closest group method and refuses methods without task vectors', () => {
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'group_method: tiez'))).toEqual([['UNKNOWN_METHOD', expect.stringMatching(/group_method "tiez" is not a method merge-lab knows\. Did you mean "ties"\?/)]]);
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'group_method: slerp'))).toEqual([['PARAMETER_INVALID', expect.stringMatching(/group_method "slerp" cannot be used here; use one of: average, linear, task_arithmetic, ties/)]]);
  });
  it('wants one value per parameter for every expert, and no gradients', () => {
    const p = problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'group_method: ties, lambda: [0.5, 1]', '{model: ft-a, parameters: {density: 0.3}}, {model: ft-b, parameters: {density: 0.5}}, {model: ft-c, parameters: {density: 0.5}}'));
    expect(p).toEqual([
      ['PARAMETER_INVALID', expect.stringMatching(/lambda \(top-level parameters\) must be one number for the whole channel_merging \(group_method ties\) merge/)],
      ['PARAMETER_INVALID', expect.stringMatching(/"density" is 0\.3 for "ft-a"; 0\.5 for "ft-b", "ft-c"; channel_merging merges every group with one density for every expert/)],
    ]);
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'group_method: linear', '{model: ft-a, parameters: {weight: 1}}, {model: ft-b, parameters: {weight: 2}}, {model: ft-c, parameters: {weight: 1}}'))).toEqual([
      ['PARAMETER_INVALID', expect.stringMatching(/"weight" is 1 for "ft-a", "ft-c"; 2 for "ft-b"/)],
    ]);
  });
  it('needs the base and two experts, each with the base’s tensors and shapes', () => {
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'groups: 1', '{model: ft-a}', '')).map(([c]) => c)).toEqual(['BASE_MODEL_REQUIRED', 'TOO_FEW_MODELS']);
    expect(problemsOf(CHANNEL_MERGING, recipe('channel_merging', 'groups: 2', '{model: ft-a}, {model: ft-short}, {model: ft-wide}')).map(([c]) => c)).toEqual(['TENSOR_MISSING', 'SHAPE_MISMATCH']);
  });
});

/** Builds a package, throwing what validation found first (as the CLI does). */
async function build(m: RoutedMethod, r: Recipe): Promise<{ files: Record<string, Uint8Array>; report: RoutedReport }> {
  expect(validate(m, r).problems.map((p) => p.message)).toEqual([]);
  return m.buildPackage(r, checkpoints);
}

describe('twin_merging packages from checkpoints', () => {
  it('hold twin.json, shared and exclusive safetensors, no router, and say why', async () => {
    const { files, report } = await build(TWIN_MERGING, recipe('twin_merging', 'shared_method: task_arithmetic, lambda: 0.3, rank: 2, temperature: 0.5, topK: 2'));
    expect(Object.keys(files).sort()).toEqual(['exclusive.safetensors', 'shared.safetensors', 'twin.json']);
    const json = JSON.parse(new TextDecoder().decode(files['twin.json'])) as { files: Record<string, string>; provenance: { router: string; recipe: { parameters: Record<string, unknown> } }; routing: { temperature: number; top_k: number } };
    expect(json.files).toEqual({ shared: 'shared.safetensors', exclusive: 'exclusive.safetensors' });
    expect(json.provenance.router).toMatch(/^not built: a router learns from labelled inputs/);
    expect(json.provenance.recipe.parameters).toEqual({ shared_method: 'task_arithmetic', lambda: 0.3, rank: 2, temperature: 0.5, topK: 2 });
    expect(json.routing).toMatchObject({ temperature: 0.5, top_k: 2 });
    expect(report.router).toBe(false);
    expect(report.setting).toEqual({ rank: 2 });
    expect(report.inner).toEqual({ role: 'shared expert', id: 'task_arithmetic', params: { lambda: 0.3 } });
    expect(report.storageSweep.map((p) => p.setting)).toEqual([1, 2, 4, 8, 16]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('rank_ratio 0.1 gives ⌊0.1 · min(m, n)⌋ per matrix in twin.json; exclude [head, bias] rebuilds every task\'s head and biases exactly', async () => {
    // Matrices wide enough for 10 % to be more than one rank.
    const layout: TinyTensor[] = [
      { name: 'layers.0.proj.weight', shape: [30, 20] },
      { name: 'layers.0.proj.bias', shape: [30] },
      { name: 'layers.1.proj.weight', shape: [24, 45] },
      { name: 'head.weight', shape: [12, 24] },
      { name: 'head.bias', shape: [12] },
    ];
    const big = new Map<string, Checkpoint>();
    const own: Record<string, Record<string, Float32Array>> = {};
    for (const [i, name] of ['base', ...EXPERTS].entries()) {
      const c = await open(name, 70 + i, layout);
      big.set(name, c);
      own[name] = Object.fromEntries(await Promise.all(layout.map(async (t) => [t.name, await c.readFloat32(t.name)] as const)));
    }
    const r = recipe('twin_merging', 'lambda: 0.3, rank_ratio: 0.1, exclude: [head, bias]');
    expect(TWIN_MERGING.validate({ recipe: r, checkpoints: big }).problems).toEqual([]);
    const { files, report } = await TWIN_MERGING.buildPackage(r, big);
    expect(report.setting).toEqual({ rank_ratio: 0.1 });
    const twin = await readTwinPackage(files);
    const ranks = Object.fromEntries(twin.manifest.tensors.map((t) => [t.name, Object.values(t.parts).map((p) => (p.kind === 'lowrank' ? p.rank : p.kind))]));
    expect(ranks).toEqual({
      'layers.0.proj.weight': [2, 2, 2],
      'layers.0.proj.bias': ['own', 'own', 'own'],
      'layers.1.proj.weight': [2, 2, 2],
      'head.weight': ['own', 'own', 'own'],
      'head.bias': ['own', 'own', 'own'],
    });
    expect(twin.manifest.shared.tensors).toEqual(['layers.0.proj.weight', 'layers.1.proj.weight']);
    expect(twin.manifest.exclude).toMatchObject({ patterns: ['head', 'bias'], tensors: ['layers.0.proj.bias', 'head.weight', 'head.bias'] });
    for (const [ti, task] of EXPERTS.entries()) {
      for (const name of ['layers.0.proj.bias', 'head.weight', 'head.bias']) {
        const j = twin.exclusive.tensors.findIndex((t) => t.name === name);
        const p = twin.exclusive.parts[ti]![j]!;
        expect(p.kind === 'own' && Buffer.from(p.values.buffer).equals(Buffer.from(own[task]![name]!.buffer)), `${task} ${name}`).toBe(true);
      }
    }
    expect(report.tensors.filter((t) => t.kind === 'own').map((t) => t.name)).toEqual(['layers.0.proj.bias', 'head.weight', 'head.bias']);
  });

  it("the shared expert is the registry's own merge of the shared recipe, bit for bit", async () => {
    const { files } = await build(TWIN_MERGING, recipe('twin_merging', 'shared_method: ties, density: 0.5, lambda: 0.8, rank: 2'));
    const twin = await readTwinPackage(files);
    const want = await mergeToMemory({
      recipe: { mergeMethod: 'ties', baseModel: 'base', models: EXPERTS.map((model) => ({ model, parameters: { weight: 1 } })), parameters: { density: 0.5, lambda: 0.8 } },
      methods: METHODS,
      checkpoints,
    });
    for (const t of TENSORS) expect(Buffer.from(twin.shared[t.name]!.buffer).equals(Buffer.from(want[t.name]!.buffer)), t.name).toBe(true);
  });

  for (const [label, params, exact] of [
    ['rank 2', 'rank: 2', false],
    ['energy 0.8', 'energy: 0.8', false],
    ['full rank (rank 16 ≥ every min(m, n))', 'rank: 16', true],
    ['energy 1', 'energy: 1', true],
  ] as const) {
    it(`rebuild every expert within the error they report: ${label}`, async () => {
      const { files, report } = await build(TWIN_MERGING, recipe('twin_merging', params));
      const twin = await readTwinPackage(files);
      expect(twin.tasks).toEqual(EXPERTS);
      expect(twin.router).toBeUndefined();
      const entries = twin.manifest.tensors;
      for (const [j, t] of twin.exclusive.tensors.entries()) {
        for (const [ti, task] of EXPERTS.entries()) {
          const part = twin.exclusive.parts[ti]![j]!;
          const shared = twin.shared[t.name]!;
          const rebuilt = Float32Array.from(partDelta(part, t.shape), (d, i) => shared[i]! + d);
          const expert = values[task]![t.name]!;
          const relative = norm(diff(rebuilt, expert)) / norm(diff(expert, shared));
          const reported = report.tensors[j]!.errors[ti]!;
          if (part.kind === 'lowrank') expect(entries[j]!.parts[task]).toMatchObject({ kind: 'lowrank', relative_error: reported });
          // float32 factors: the rebuilt matrix is good to a few ulps of the values.
          expect(relative, `${task} ${t.name}`).toBeLessThanOrEqual(reported + 1e-5);
          expect(relative, `${task} ${t.name}`).toBeGreaterThanOrEqual(reported - 1e-5);
          if (exact || part.kind === 'dense') for (let i = 0; i < expert.length; i++) expect(Math.abs(rebuilt[i]! - expert[i]!)).toBeLessThan(1e-5);
        }
      }
      if (exact) expect(Math.max(...report.tensors.flatMap((t) => t.errors))).toBeLessThan(1e-6);
      else expect(Math.max(...report.tensors.flatMap((t) => t.errors))).toBeGreaterThan(0.01);
    });
  }

  it('reports progress per tensor and stops when cancelled', async () => {
    const r = recipe('twin_merging', 'rank: 1');
    const seen: string[] = [];
    await TWIN_MERGING.buildPackage(r, checkpoints, { onProgress: (p) => seen.push(`${p.tensorIndex}/${p.tensorCount} ${p.tensorName}`) });
    expect(seen).toEqual(TENSORS.map((t, i) => `${i + 1}/${TENSORS.length} ${t.name}`));
    const token = { cancelled: false };
    const e = await TWIN_MERGING.buildPackage(r, checkpoints, { cancel: token, onProgress: () => (token.cancelled = true) }).catch((x: unknown) => x);
    expect(isMergeLabError(e) && e.code).toBe('CANCELLED');
  });

  it('a recipe with problems is refused by buildPackage too, with all of them', async () => {
    const e = await TWIN_MERGING.buildPackage(recipe('twin_merging', 'rank: 0, energy: 2'), checkpoints).catch((x: unknown) => x);
    expect(isMergeLabError(e) && [e.code, e.problems.length]).toEqual(['RECIPE_PROBLEMS', 2]);
  });
});

describe('channel_merging packages from checkpoints', () => {
  /** Task t's weights read back from the package, against the expert: ‖W_t − θ_t‖ / ‖θ_t − θ0‖ per tensor. */
  async function readBack(files: Record<string, Uint8Array>) {
    const pkg = await readChannelPackage(files);
    expect(pkg.model.tasks).toEqual(EXPERTS);
    return EXPERTS.map((task) => {
      const w = taskWeights(pkg.model, task);
      return TENSORS.map((t) => ({ w: w[t.name]!, relative: norm(diff(w[t.name]!, values[task]![t.name]!)) / norm(diff(values[task]![t.name]!, values.base![t.name]!)) }));
    });
  }

  it('hold channel.json, groups and index safetensors, no router, and say why', async () => {
    const { files, report } = await build(CHANNEL_MERGING, recipe('channel_merging', 'groups: 2, group_method: ties, density: 0.5, lambda: 1'));
    expect(Object.keys(files).sort()).toEqual(['channel.json', 'groups.safetensors', 'index.safetensors']);
    const json = JSON.parse(new TextDecoder().decode(files['channel.json'])) as { K: number; files: Record<string, string>; groupMethod: { id: string; params: Record<string, unknown> }; provenance: { router: string } };
    expect(json.K).toBe(2);
    expect(json.files).toEqual({ groups: 'groups.safetensors', index: 'index.safetensors' });
    expect(json.groupMethod).toMatchObject({ id: 'ties', params: { density: 0.5, lambda: 1, weight: 1 } });
    expect(json.provenance.router).toMatch(/^not built/);
    expect(report.setting).toEqual({ K: 2 });
    expect(report.storageSweep.map((p) => p.setting)).toEqual([1, 2, 3]);
    expect(report.storage.ratio).toBeCloseTo(report.storageSweep[1]!.ratio, 12);
  });

  for (const [label, params, exact] of [
    ['K 2, ties', 'groups: 2, group_method: ties, density: 0.5, lambda: 1', false],
    ['K 1, linear (the mean of the experts)', 'groups: 1, group_method: linear', false],
    ['K 2, task arithmetic on trimmed rows, float16 groups', 'groups: 2, group_method: task_arithmetic, lambda: 0.7, cluster_trimmed: true', false],
    ['K = T = 3 (every expert kept)', 'groups: 3, group_method: ties, density: 0.5', true],
  ] as const) {
    it(`rebuild every expert within the error they report: ${label}`, async () => {
      const r = label.includes('float16') ? parseRecipe(`merge_method: channel_merging\nbase_model: base\nmodels: [{model: ft-a}, {model: ft-b}, {model: ft-c}]\nparameters: {${params}}\ndtype: float16\n`) : recipe('channel_merging', params);
      const { files, report } = await build(CHANNEL_MERGING, r);
      const back = await readBack(files);
      for (const [ti, task] of EXPERTS.entries()) {
        for (const [j, t] of TENSORS.entries()) {
          const reported = report.tensors[j]!.errors[ti]!;
          expect(back[ti]![j]!.relative, `${task} ${t.name}`).toBeCloseTo(reported, 6);
          if (exact) expect(Buffer.from(back[ti]![j]!.w.buffer).equals(Buffer.from(values[task]![t.name]!.buffer)), `${task} ${t.name}`).toBe(true);
        }
      }
      if (exact) expect(Math.max(...report.tensors.flatMap((t) => t.errors))).toBe(0);
      else expect(Math.max(...report.tensors.flatMap((t) => t.errors))).toBeGreaterThan(0.01);
      if (label.startsWith('K 1')) {
        const w = taskWeights((await readChannelPackage(files)).model, 0);
        for (const t of TENSORS) {
          const mean = values['ft-a']![t.name]!.map((x, i) => Math.fround(Math.fround(x + values['ft-b']![t.name]![i]!) + values['ft-c']![t.name]![i]!) / 3);
          for (let i = 0; i < mean.length; i++) expect(w[t.name]![i]).toBeCloseTo(mean[i]!, 6);
        }
      }
    });
  }
});

describe('error sweeps (what the lab draws for checkpoints without data)', () => {
  it('channel_merging with errorSweep: each K equals a build at that K, K = T is exact, and K = 1 errs most', async () => {
    const r = recipe('channel_merging', 'groups: 2, group_method: ties, density: 0.5, lambda: 1');
    const plain = await build(CHANNEL_MERGING, r);
    expect(plain.report.storageSweep.every((p) => p.taskErrors === undefined)).toBe(true);
    const { report } = await CHANNEL_MERGING.buildPackage(r, checkpoints, { errorSweep: true });
    expect(report.tensors).toEqual(plain.report.tensors);
    for (const [k, p] of report.storageSweep.entries()) {
      const at = await build(CHANNEL_MERGING, recipe('channel_merging', `groups: ${k + 1}, group_method: ties, density: 0.5, lambda: 1`));
      const mean = EXPERTS.map((_, ti) => at.report.tensors.reduce((s, t) => s + t.errors[ti]!, 0) / TENSORS.length);
      expect(p.taskErrors).toHaveLength(EXPERTS.length);
      for (const [ti, e] of mean.entries()) expect(p.taskErrors![ti]).toBeCloseTo(e, 12);
      expect(p.meanError).toBeCloseTo(mean.reduce((a, b) => a + b, 0) / EXPERTS.length, 12);
    }
    expect(report.storageSweep.at(-1)!.taskErrors).toEqual([0, 0, 0]);
    expect(report.storageSweep[0]!.meanError!).toBeGreaterThan(report.storageSweep[1]!.meanError!);
  });

  it('channel_merging with assignments: one map per tensor, the same grouping the package index holds', async () => {
    const r = recipe('channel_merging', 'groups: 2, group_method: ties, density: 0.5, lambda: 1');
    const { files, report } = await CHANNEL_MERGING.buildPackage(r, checkpoints, { assignments: true });
    expect(report.assignments!.map((a) => a.tensor)).toEqual(TENSORS.map((t) => t.name));
    const pkg = await readChannelPackage(files);
    for (const [j, a] of report.assignments!.entries()) {
      const t = pkg.model.tensors[j]!;
      expect(a.K).toBe(2);
      expect(a.channels).toBe(t.channels);
      for (let c = 0; c < a.channels; c++) for (let task = 0; task < EXPERTS.length; task++) expect(a.groups[c]![task]).toBe(t.index[task * t.channels + c]);
    }
    expect((await build(CHANNEL_MERGING, r)).report.assignments).toBeUndefined();
  });

  it('twin_merging reports the mean error per task at every swept rank, falling as the rank grows', async () => {
    const { report } = await build(TWIN_MERGING, recipe('twin_merging', 'shared_method: task_arithmetic, lambda: 0.5, rank: 1'));
    const errs = report.storageSweep.map((p) => p.taskErrors!);
    for (const e of errs) expect(e).toHaveLength(EXPERTS.length);
    for (let i = 1; i < errs.length; i++) for (let t = 0; t < EXPERTS.length; t++) expect(errs[i]![t]!).toBeLessThanOrEqual(errs[i - 1]![t]! + 1e-12);
    // At rank 1 the sweep's error is the report's own (mean over the low-rank tensors).
    const lowRank = report.tensors.filter((t) => t.kind === 'lowrank');
    for (let t = 0; t < EXPERTS.length; t++) expect(errs[0]![t]).toBeCloseTo(lowRank.reduce((s, x) => s + x.errors[t]!, 0) / lowRank.length, 6);
  });
});
