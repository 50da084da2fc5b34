/**
 * Planning slices and modules (merge/slices.ts through planMerge and `merge-lab merge`): every
 * problem of a slices recipe reported in one run, each naming the slice and source; the warnings a
 * slices recipe gets; where each output layer comes from. The tensors themselves are checked against
 * mergekit in test/parity/mergekit-slices.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { runCliAsync } from '../cli/helpers.js';

const MODELS = fileURLToPath(new URL('../fixtures/mergekit-slices/models/', import.meta.url));
const LLAMA_CONFIG = { architectures: ['LlamaForCausalLM'], num_hidden_layers: 8 };

let tmp: string;
const checkpoints = new Map<string, Checkpoint>();
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'merge-lab-slices-plan-'));
  for (const m of ['base', 'ft_a', 'ft_b', 'model_c_6']) checkpoints.set(m, await openCheckpointPath(path.join(MODELS, m)));
});
afterAll(async () => {
  for (const c of checkpoints.values()) await c.close();
  await rm(tmp, { recursive: true, force: true });
});

function plan(yaml: string) {
  const recipe = parseRecipe(yaml, 'r.yml');
  return planMerge({ recipe, methods: METHODS, checkpoints, config: LLAMA_CONFIG });
}

describe('slices: every problem at once', () => {
  it('merge-lab merge reports sources of different lengths, a range past a model, a base missing from a slice and an unknown model together, writing nothing', async () => {
    const recipe = path.join(tmp, 'many.yml');
    const m = (name: string) => path.join(MODELS, name);
    await writeFile(
      recipe,
      `slices:
  - sources:
      - {model: ${m('ft_a')}, layer_range: [0, 4]}
      - {model: ${m('ft_b')}, layer_range: [0, 3]}
  - sources:
      - {model: ${m('base')}, layer_range: [4, 8]}
      - {model: ${m('model_c_6')}, layer_range: [4, 8]}
  - sources:
      - {model: ${m('ft_a')}, layer_range: [0, 2]}
      - {model: ${m('ft_b')}, layer_range: [0, 2]}
  - sources:
      - {model: ${m('nope')}, layer_range: [0, 1]}
      - {model: ${m('base')}, layer_range: [0, 1]}
merge_method: task_arithmetic
base_model: ${m('base')}
parameters: {weight: 1}
`,
    );
    const out = path.join(tmp, 'out');
    const r = await runCliAsync(['merge', recipe, '--out', out, '--backend', 'cpu', '--no-progress']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/RECIPE_PROBLEMS/);
    expect(r.stderr).toMatch(/slices\[0\]: its sources give different numbers of layers \(".*ft_a" \[0, 4\]: 4, ".*ft_b" \[0, 3\]: 3\)/);
    expect(r.stderr).toMatch(/slices\[1\]\.sources\[1\]: layer_range \[4, 8\] reaches past the 6 layers of model ".*model_c_6"/);
    expect(r.stderr).toMatch(/slices\[0\]: task_arithmetic reads every source against the base_model ".*base", which is not among the slice's sources/);
    expect(r.stderr).toMatch(/slices\[2\]: task_arithmetic reads every source against the base_model/);
    expect(r.stderr).toMatch(/Model ".*nope" was not found/);
    expect(existsSync(out)).toBe(false);
  });

  it('a slice of a method that merges exactly one model, given two, is named', () => {
    const { problems } = plan('slices:\n  - sources: [{model: ft_a, layer_range: [0, 2]}]\n  - sources: [{model: ft_a, layer_range: [2, 4]}, {model: ft_b, layer_range: [2, 4]}]\nmerge_method: passthrough\n');
    expect(problems.map((p) => [p.code, p.message])).toEqual([['TOO_MANY_MODELS', 'slices[1]: passthrough merges exactly one model (a base_model must be that model); slices[1] has 2 models.']]);
  });
});

describe('slices: the plan', () => {
  it('renumbers the layers of the slices in order, reading each from its model’s own layer', () => {
    const { plan: p, problems } = plan('slices:\n  - sources: [{model: ft_a, layer_range: [6, 8]}]\n  - sources: [{model: model_c_6, layer_range: [0, 1]}]\nmerge_method: passthrough\n');
    expect(problems).toEqual([]);
    const layer = (i: number) => p!.tensors.find((t) => t.name === `model.layers.${i}.mlp.up_proj.weight`)!.models[0]!;
    expect([layer(0), layer(1), layer(2)].map((m) => [m.model, m.source])).toEqual([
      ['ft_a', 'model.layers.6.mlp.up_proj.weight'],
      ['ft_a', 'model.layers.7.mlp.up_proj.weight'],
      ['model_c_6', 'model.layers.0.mlp.up_proj.weight'],
    ]);
    expect(p!.tensors.some((t) => t.name.startsWith('model.layers.3.'))).toBe(false);
    // Embeddings from the first slice, norm and head from the last.
    const from = (n: string) => p!.tensors.find((t) => t.name === n)!.models.map((m) => m.model);
    expect([from('model.embed_tokens.weight'), from('model.norm.weight'), from('lm_head.weight')]).toEqual([['ft_a'], ['model_c_6'], ['model_c_6']]);
  });

  it('stacks checkpoints of an architecture config.json does not name as mergekit infers it: every tensor without a layer index from the first slice (unchecked against mergekit, whose inference needs transformers)', () => {
    const recipe = parseRecipe('slices:\n  - sources: [{model: ft_a, layer_range: [0, 2]}]\n  - sources: [{model: model_c_6, layer_range: [3, 6]}]\nmerge_method: passthrough\n', 'r.yml');
    const { plan: p, problems } = planMerge({ recipe, methods: METHODS, checkpoints });
    expect(problems).toEqual([]);
    const names = p!.tensors.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.endsWith('.mlp.up_proj.weight'))).toEqual([0, 1, 2, 3, 4].map((i) => `model.layers.${i}.mlp.up_proj.weight`));
    const from = (n: string) => p!.tensors.find((t) => t.name === n)!.models.map((m) => [m.model, m.source ?? n]);
    expect([from('model.embed_tokens.weight'), from('model.norm.weight'), from('lm_head.weight'), from('model.layers.2.self_attn.q_proj.weight')]).toEqual([
      [['ft_a', 'model.embed_tokens.weight']],
      [['ft_a', 'model.norm.weight']],
      [['ft_a', 'lm_head.weight']],
      [['model_c_6', 'model.layers.3.self_attn.q_proj.weight']],
    ]);
    // A model's own layer count bounds its ranges there too.
    const past = parseRecipe('slices:\n  - sources: [{model: model_c_6, layer_range: [4, 7]}]\nmerge_method: passthrough\n', 'r.yml');
    expect(planMerge({ recipe: past, methods: METHODS, checkpoints }).problems.map((e) => e.message)).toEqual([
      'slices[0].sources[0]: layer_range [4, 7] reaches past the 6 layers of model "model_c_6" (layers 0 to 5; the range\'s end is not included). Use a range within [0, 6].',
    ]);
  });

  it("looks a model's parameter up in its source's, the slice's and the top level's parameters, in that order, with t over its slice", () => {
    const { plan: p } = plan(`slices:
  - sources:
      - {model: ft_a, layer_range: [0, 3], parameters: {weight: [0, 1]}}
      - {model: ft_b, layer_range: [0, 3]}
    parameters: {weight: 0.25}
  - sources:
      - {model: ft_a, layer_range: [5, 6]}
      - {model: ft_b, layer_range: [5, 6]}
merge_method: linear
parameters: {weight: 3}
`);
    const weights = (i: number) => p!.tensors.find((t) => t.name === `model.layers.${i}.self_attn.q_proj.weight`)!.models.map((m) => m.params.weight);
    expect([weights(0), weights(1), weights(2), weights(3)]).toEqual([
      [0, 0.25],
      [0.5, 0.25],
      [1, 0.25],
      [3, 3],
    ]);
  });

  it('warns where the tensors after the layers leave sources of the last slice out, and about parameters a slice names that the method has not', () => {
    const { warnings } = plan('slices:\n  - sources: [{model: ft_a, layer_range: [0, 4], parameters: {wieght: 1}}]\n  - sources: [{model: ft_b, layer_range: [4, 8]}, {model: base, layer_range: [4, 8]}]\n    parameters: {density: 0.5}\nmerge_method: linear\nparameters: {weight: 1}\n');
    expect(warnings).toContain('slices[1]: the tensors after the last layer (model.norm.weight, lm_head.weight) are merged from its first 1 source only, leaving out "base": mergekit pairs the last slice\'s sources with the first slice\'s there.');
    expect(warnings.join('\n')).toMatch(/parameters of slices\[0\]\.sources\[0\] \("ft_a"\): "wieght" is not a parameter of linear .*did you mean "weight"/);
    expect(warnings.join('\n')).toMatch(/slices\[1\]\.parameters: "density" is not a parameter of linear/);
    // The layers a stack does not take are no news: nothing about tensors left unwritten.
    expect(warnings.join('\n')).not.toMatch(/not written/);
  });
});

describe('modules', () => {
  it('writes only the modules the recipe gives, warning about the rest, each module its own layers', async () => {
    const vlm = new Map<string, Checkpoint>();
    for (const m of ['vlm_a', 'vlm_b']) vlm.set(m, await openCheckpointPath(path.join(MODELS, m)));
    try {
      const config = JSON.parse(readFileSync(path.join(MODELS, 'vlm_a', 'config.json'), 'utf8')) as Record<string, unknown>;
      const recipe = parseRecipe('modules:\n  text_decoder:\n    slices:\n      - sources: [{model: vlm_b, layer_range: [2, 3]}]\n      - sources: [{model: vlm_a, layer_range: [0, 3]}]\nmerge_method: passthrough\n', 'm.yml');
      const { plan: p, warnings, problems } = planMerge({ recipe, methods: METHODS, checkpoints: vlm, config });
      expect(problems).toEqual([]);
      expect(warnings).toContain('The recipe\'s modules leave out "multi_modal_projector", "vision_tower": their tensors are not written, as mergekit leaves them out; the merged checkpoint lacks them.');
      const names = p!.tensors.map((t) => t.name);
      expect(names.every((n) => n.startsWith('language_model.'))).toBe(true);
      expect(names.filter((n) => n.endsWith('.input_layernorm.weight'))).toEqual([0, 1, 2, 3].map((i) => `language_model.model.layers.${i}.input_layernorm.weight`));
      expect(p!.tensors.find((t) => t.name === 'language_model.model.layers.0.input_layernorm.weight')!.models[0]!.source).toBe('language_model.model.layers.2.input_layernorm.weight');
    } finally {
      for (const c of vlm.values()) await c.close();
    }
  });
});
