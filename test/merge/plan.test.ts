/** The planner: per-tensor parameter resolution and whole-recipe validation before any tensor is read. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/engine/io/index.js';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { LAYOUT, toyCheckpoint } from './helpers.js';

let ckpts: Map<string, Checkpoint>;
beforeAll(async () => {
  ckpts = new Map([
    ['base', await toyCheckpoint('base', LAYOUT, 0)],
    ['a', await toyCheckpoint('a', LAYOUT, 1)],
    ['b', await toyCheckpoint('b', LAYOUT, 2)],
    ['c', await toyCheckpoint('c', LAYOUT, 3)],
    ['short', await toyCheckpoint('short', LAYOUT.slice(0, 3), 4)],
    ['wide', await toyCheckpoint('wide', LAYOUT.map((t) => (t.name.includes('up_proj') ? { ...t, shape: [8, 5] } : t)), 5)],
  ]);
});

function plan(yaml: string, config?: Record<string, unknown>) {
  return planMerge({ recipe: parseRecipe(yaml, 'r.yml'), methods: METHODS, checkpoints: ckpts, config });
}

describe('parameter resolution per tensor', () => {
  it('applies filters, gradients over layers, global fallbacks and defaults', () => {
    const { plan: p, problems } = plan(`
models:
  - model: a
    parameters:
      weight: [1, 0]
      density: [{filter: self_attn, value: 0.25}]
  - model: b
    parameters: {weight: 0.5}
merge_method: ties
base_model: base
parameters: {density: 0.5, lambda: 0.8}
`);
    expect(problems).toEqual([]);
    const byName = new Map(p!.tensors.map((t) => [t.name, t]));
    const a = (n: string) => byName.get(n)!.models.find((m) => m.model === 'a')!.params;
    // Gradient [1, 0] over two layers: layer 0 → 1, layer 1 → 0; outside the stack t = 0 → 1.
    expect(a('model.layers.0.mlp.up_proj.weight').weight).toBe(1);
    expect(a('model.layers.1.mlp.up_proj.weight').weight).toBe(0);
    expect(a('model.norm.weight').weight).toBe(1);
    // The filter matches attention; elsewhere a's density falls through to the global 0.5.
    expect(a('model.layers.1.self_attn.q_proj.weight').density).toBe(0.25);
    expect(a('model.layers.1.mlp.up_proj.weight').density).toBe(0.5);
    const g = byName.get('model.norm.weight')!.global;
    expect(g).toMatchObject({ lambda: 0.8, normalize: true, rescale: false });
    // Models in mergekit order: listed ones, then the base appended.
    expect(byName.get('model.norm.weight')!.models.map((m) => m.model)).toEqual(['a', 'b', 'base']);
  });
  it('uses num_hidden_layers from config.json for t', () => {
    const { plan: p } = plan(`models:\n  - model: a\n    parameters: {weight: [0, 1]}\nmerge_method: task_arithmetic\nbase_model: base\n`, { num_hidden_layers: 3 });
    const w = p!.tensors.find((t) => t.name === 'model.layers.1.mlp.up_proj.weight')!.models[0]!.params.weight;
    expect(w).toBeCloseTo(0.5, 12);
  });
  it('picks the output dtype: out_dtype, else dtype, else the stored one', () => {
    const yaml = `models:\n  - model: a\n    parameters: {weight: 1}\nmerge_method: linear\n`;
    expect(plan(yaml).plan!.tensors[0]!.outDtype).toBe('F32');
    expect(plan(yaml + 'dtype: bfloat16\n').plan!.tensors[0]).toMatchObject({ outDtype: 'BF16', workDtype: 'BF16' });
    expect(plan(yaml + 'dtype: float32\nout_dtype: float16\n').plan!.tensors[0]).toMatchObject({ outDtype: 'F16' });
  });
});

describe('validation reports every problem, naming the culprit', () => {
  const codes = (yaml: string) => plan(yaml).problems.map((p) => p.code).sort();
  it('missing weight, out-of-range density and unknown method', () => {
    const { problems } = plan(`
models:
  - model: a
  - model: b
    parameters: {weight: 1, density: 1.5}
merge_method: ties
base_model: base
`);
    expect(problems.map((p) => p.code).sort()).toEqual(['MISSING_PARAMETER', 'PARAMETER_OUT_OF_RANGE']);
    const missing = problems.find((p) => p.code === 'MISSING_PARAMETER')!.message;
    expect(missing).toMatch(/Model "a" has no weight for tensor model\.embed_tokens\.weight/);
    // One problem for all six tensors, naming a few and counting the rest.
    expect(missing).toMatch(/The same holds for every other tensor \(6 in all\)/);
    expect(problems.find((p) => p.code === 'PARAMETER_OUT_OF_RANGE')!.message).toMatch(/density of model "b" is 1\.5 .* outside \[0, 1\]/);
    expect(plan(`models:\n  - model: a\nmerge_method: tie\n`).problems[0]!.message).toMatch(/"tie" .* Did you mean "ties"\?/);
  });
  it("the same problem for several models is one problem naming the others (DELLA's density ± epsilon at the global density); other values stay apart", () => {
    const della = (b: string) => plan(`models:\n  - model: a\n  - model: b${b}\n  - model: c\nmerge_method: della\nbase_model: base\nparameters: {weight: 1, density: 0.9, epsilon: 0.15}\n`).problems;
    const one = della('');
    expect(one).toHaveLength(1);
    expect(one[0]!.message).toMatch(/^DELLA needs density ± epsilon inside \(0, 1\); model "a" has density 0\.9 and epsilon 0\.15 for tensor \S+\. Lower epsilon .* The same holds for every other tensor \(6 in all\), and for models "b" and "c"\.$/);
    // b's own density is another problem, said apart.
    const two = della('\n    parameters: {density: 0.95}');
    expect(two.map((p) => p.message.match(/model "(\w)"/)?.[1])).toEqual(['a', 'b']);
    expect(two[0]!.message).toMatch(/, and for model "c"\.$/);
    expect(two[1]!.message).toMatch(/density 0\.95 .*every other tensor \(6 in all\)\.$/);
  });
  it('method requirements: base model, model counts, slerp t', () => {
    expect(codes(`models:\n  - model: a\n    parameters: {weight: 1}\nmerge_method: ties\n`)).toContain('BASE_MODEL_REQUIRED');
    expect(codes(`models:\n  - model: a\n  - model: b\n  - model: c\nmerge_method: slerp\nbase_model: base\nparameters: {t: 0.5}\n`)).toEqual(['TOO_MANY_MODELS']);
    expect(codes(`models:\n  - model: a\nmerge_method: model_stock\nbase_model: base\n`)).toEqual(['TOO_FEW_MODELS']);
    expect(codes(`models:\n  - model: a\nmerge_method: slerp\nbase_model: base\n`)).toEqual(['MISSING_PARAMETER']);
  });
  it('missing tensors are an error; another shape is an error for linear and a skip for ties', () => {
    const missing = plan(`models:\n  - model: short\n    parameters: {weight: 1}\nmerge_method: task_arithmetic\nbase_model: base\n`).problems;
    expect(missing.map((p) => p.code)).toEqual(['TENSOR_MISSING']);
    expect(missing[0]!.message).toMatch(/Model "short" has no tensor model\.layers\.1\.self_attn\.q_proj\.weight/);
    const lin = plan(`models:\n  - model: base\n    parameters: {weight: 1}\n  - model: wide\n    parameters: {weight: 1}\nmerge_method: linear\n`).problems;
    expect(lin.map((p) => p.code)).toEqual(['SHAPE_MISMATCH']);
    expect(lin[0]!.message).toMatch(/tensor model\.layers\.0\.mlp\.up_proj\.weight of model "wide" has shape \[8, 5\]/);
    const ties = plan(`models:\n  - model: wide\n    parameters: {weight: 1}\n  - model: a\n    parameters: {weight: 1}\nmerge_method: ties\nbase_model: base\n`);
    expect(ties.problems).toEqual([]);
    expect(ties.warnings.join('\n')).toMatch(/left out of this tensor, as mergekit does/);
    expect(ties.plan!.tensors.find((t) => t.name.includes('up_proj'))!.models.map((m) => m.model)).toEqual(['a', 'base']);
  });
  it('a trim that keeps nothing, naming the tensor', () => {
    const { problems } = plan(`models:\n  - model: a\n    parameters: {weight: 1, density: 0.05}\nmerge_method: ties\nbase_model: base\n`);
    // 0.05 · 16 < 1 for the 4×4 attention tensors and 0.05 · 4 for the norm; 8×4 keeps one entry.
    expect(problems.map((p) => p.code)).toEqual(['EMPTY_TRIM', 'EMPTY_TRIM']);
    expect(problems[0]!.message).toMatch(/keeps ⌊0\.05·16⌋ = 0 entries of tensor model\.layers\.0\.self_attn\.q_proj\.weight/);
  });
  it('warns about parameters the method does not read', () => {
    const { warnings, problems } = plan(`models:\n  - model: a\n    parameters: {weight: 1, densty: 0.5, lambda: 2}\nmerge_method: ties\nbase_model: base\n`);
    expect(problems).toEqual([]);
    expect(warnings.join('\n')).toMatch(/"densty" is not a parameter of ties .*did you mean "density"/);
    expect(warnings.join('\n')).toMatch(/"lambda" applies to the whole merge/);
  });
  it('linear with weights summing to zero', () => {
    expect(codes(`models:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: -1}\nmerge_method: linear\n`)).toEqual(['PARAMETER_OUT_OF_RANGE']);
  });
});

describe('linear and the base model', () => {
  it('asks for a weight for an unlisted base_model, which mergekit averages in too', () => {
    const { problems } = plan(`models:\n  - model: a\n    parameters: {weight: 1}\nmerge_method: linear\nbase_model: base\n`);
    expect(problems.map((p) => p.code)).toEqual(['MISSING_PARAMETER']);
    expect(problems[0]!.message).toMatch(/linear averages base_model "base" too/);
  });
  it('takes the base in with a global weight', () => {
    const { plan: p } = plan(`models:\n  - model: a\n    parameters: {weight: 3}\nmerge_method: linear\nbase_model: base\nparameters: {weight: 1}\n`);
    expect(p!.tensors[0]!.models.map((m) => [m.model, m.params.weight])).toEqual([['a', 3], ['base', 1]]);
  });
});

describe('tied embeddings', () => {
  it('reads the embeddings of a model that stores no lm_head, as mergekit does', async () => {
    const head = { name: 'lm_head.weight', shape: [8, 4] };
    const checkpoints = new Map([
      ['base', await toyCheckpoint('base', [...LAYOUT, head], 0)],
      ['a', await toyCheckpoint('a', LAYOUT, 1)],
    ]);
    const yaml = `models:\n  - model: a\n    parameters: {weight: 1}\nmerge_method: task_arithmetic\nbase_model: base\n`;
    const r = planMerge({ recipe: parseRecipe(yaml), methods: METHODS, checkpoints });
    expect(r.problems).toEqual([]);
    const t = r.plan!.tensors.find((x) => x.name === 'lm_head.weight')!;
    expect(t.models.map((m) => [m.model, m.source])).toEqual([['a', 'model.embed_tokens.weight'], ['base', undefined]]);
    expect(r.warnings.join('\n')).toMatch(/Model "a" has no lm_head\.weight; its tied model\.embed_tokens\.weight is used instead/);
    // And the other way round: the head is merged when only a non-reference model stores it.
    const swapped = new Map([
      ['base', checkpoints.get('a')!],
      ['a', checkpoints.get('base')!],
    ]);
    const r2 = planMerge({ recipe: parseRecipe(yaml), methods: METHODS, checkpoints: swapped });
    expect(r2.problems).toEqual([]);
    expect(r2.plan!.tensors.map((x) => x.name)).toContain('lm_head.weight');
    expect(r2.plan!.tensors.find((x) => x.name === 'lm_head.weight')!.models.find((m) => m.isBase)!.source).toBe('model.embed_tokens.weight');
  });
});
