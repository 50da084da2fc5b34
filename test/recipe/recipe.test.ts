/** Reading, evaluating and writing mergekit YAML recipes. */
import { describe, expect, it } from 'vitest';
import { isMergeLabError } from '../../src/engine/errors.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { countLayers, evaluateSetting, layerPosition, lookupParameter } from '../../src/engine/recipe/resolve.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

function codeOf(f: () => unknown): { code: string; message: string; problems: string[] } {
  try {
    f();
  } catch (e) {
    if (!isMergeLabError(e)) throw e;
    return { code: e.code, message: e.message, problems: e.problems.map((p) => p.code) };
  }
  throw new Error('expected a MergeLabError');
}

describe('evaluateSetting (mergekit ConfigReader semantics)', () => {
  it('interpolates gradients over t', () => {
    expect(evaluateSetting([0, 1], 'x', 0.25)).toBeCloseTo(0.25, 12);
    expect(evaluateSetting([0, 0.5, 1], 'x', 0.75)).toBeCloseTo(0.75, 12);
    expect(evaluateSetting([1, 3, 2], 'x', 1)).toBe(2);
    expect(evaluateSetting([1, 3, 2], 'x', 0)).toBe(1);
    expect(evaluateSetting([5], 'x', 0.6)).toBe(5);
  });
  it('takes the first filter that is a substring of the tensor name, else falls through', () => {
    const s = [{ filter: 'self_attn', value: 0.1 }, { filter: 'mlp', value: [0, 1] }, { value: 0.9 }];
    expect(evaluateSetting(s, 'model.layers.3.self_attn.q_proj.weight', 0.5)).toBe(0.1);
    expect(evaluateSetting(s, 'model.layers.3.mlp.up_proj.weight', 0.5)).toBe(0.5);
    expect(evaluateSetting(s, 'model.norm.weight', 0)).toBe(0.9);
    expect(evaluateSetting([{ filter: 'mlp', value: 1 }], 'model.norm.weight', 0)).toBeUndefined();
    expect(evaluateSetting([{ filter: '*', value: 2 }], 'anything', 0)).toBe(2);
  });
  it('looks up model, then slice, then top level', () => {
    const model = { weight: [{ filter: 'mlp', value: 2 }] };
    const top = { weight: 1, density: 0.5 };
    expect(lookupParameter('weight', [model, undefined, top], 'a.mlp.b', 0)).toBe(2);
    expect(lookupParameter('weight', [model, undefined, top], 'a.attn.b', 0)).toBe(1);
    expect(lookupParameter('density', [model, undefined, top], 'a.attn.b', 0)).toBe(0.5);
    expect(lookupParameter('gamma', [model, undefined, top], 'a.attn.b', 0)).toBeUndefined();
  });
  it('places tensors in the layer stack as mergekit does (t = 0 outside it)', () => {
    const names = ['model.embed_tokens.weight', 'model.layers.0.a', 'model.layers.3.a', 'lm_head.weight'];
    expect(countLayers(names)).toBe(4);
    expect(countLayers(names, { num_hidden_layers: 8 })).toBe(8);
    expect(layerPosition('model.layers.3.mlp.weight', 4)).toBe(1);
    expect(layerPosition('model.layers.1.mlp.weight', 5)).toBe(0.25);
    expect(layerPosition('model.embed_tokens.weight', 4)).toBe(0);
    expect(layerPosition('lm_head.weight', 4)).toBe(0);
    expect(layerPosition('model.layers.0.x', 1)).toBe(1);
  });
});

describe('parseRecipe', () => {
  const text = `
models:
  - model: ./ft1
    parameters:
      weight: [1, 0.5]
      density:
        - filter: self_attn
          value: 0.3
        - value: 0.7
  - model: ./ft2
    parameters: {weight: 0.5}
merge_method: ties
base_model: ./base
parameters:
  normalize: true
  lambda: 0.8
dtype: bfloat16
random_seed: 9
`;
  it('reads models, parameters, dtype and seed', () => {
    const r = parseRecipe(text, 'r.yml');
    expect(r.mergeMethod).toBe('ties');
    expect(r.baseModel).toBe('./base');
    expect(r.models.map((m) => m.model)).toEqual(['./ft1', './ft2']);
    expect(r.models[0]!.parameters!.weight).toEqual([1, 0.5]);
    expect(r.models[0]!.parameters!.density).toEqual([{ filter: 'self_attn', value: 0.3 }, { value: 0.7 }]);
    expect(r.parameters).toEqual({ normalize: true, lambda: 0.8 });
    expect(r.dtype).toBe('bfloat16');
    expect(r.randomSeed).toBe(9);
  });
  it('round-trips through the YAML writer', () => {
    const r = parseRecipe(text, 'r.yml');
    const again = parseRecipe(recipeToYaml(r), 'again.yml');
    expect({ ...again, warnings: [] }).toEqual({ ...r, warnings: [] });
    expect(recipeToYaml(r)).toMatch(/weight: \[ ?1, 0\.5 ?\]/);
  });
  it('reads a one-slice recipe whose sources share a layer range', () => {
    const r = parseRecipe(
      `slices:\n  - sources:\n      - model: a\n        layer_range: [0, 4]\n      - model: b\n        layer_range: [0, 4]\n    parameters: {t: 0.5}\nmerge_method: slerp\nbase_model: a\n`,
      's.yml',
    );
    expect(r.models.map((m) => m.model)).toEqual(['a', 'b']);
    expect(r.layerRange).toEqual([0, 4]);
    expect(r.sliceParameters).toEqual({ t: 0.5 });
    expect(parseRecipe(recipeToYaml(r)).layerRange).toEqual([0, 4]);
  });
  it('warns about keys it ignores', () => {
    // name changes nothing that is written; tokenizer_source is read (output/tokenizer.ts), not ignored.
    const r = parseRecipe(`models:\n  - model: a\nmerge_method: linear\ntokenizer_source: base\nname: mine\nmerge_mehtod: x\n`, 'w.yml');
    expect(r.warnings!.join('\n')).toMatch(/"name" is ignored/);
    expect(r.warnings!.join('\n')).not.toMatch(/tokenizer_source/);
    expect(r.tokenizerSource).toBe('base');
    expect(r.warnings!.join('\n')).toMatch(/"merge_mehtod" is not a mergekit recipe key.*merge_method/);
  });
});

describe('broken recipes', () => {
  const cases: [string, string, string, RegExp][] = [
    ['invalid YAML', 'models: [a\nmerge_method: ties', 'RECIPE_INVALID_YAML', /b\.yml is not valid YAML at line/],
    ['not a mapping', '- a\n- b\n', 'RECIPE_INVALID', /a YAML mapping/],
    ['no merge_method', 'models:\n  - model: a\n', 'RECIPE_INVALID', /merge_method is missing/],
    ['no models', 'merge_method: ties\n', 'RECIPE_INVALID', /lists no models/],
    ['models and slices', 'merge_method: ties\nmodels:\n  - model: a\nslices:\n  - sources: []\n', 'RECIPE_INVALID', /either "models" or "slices"/],
    ['model entry without model', 'merge_method: ties\nmodels:\n  - path: a\n', 'RECIPE_INVALID', /models\[0\] needs "model:/],
    ['parameter of a wrong type', 'merge_method: ties\nmodels:\n  - model: a\n    parameters: {weight: high}\n', 'PARAMETER_INVALID', /"weight" must be a number/],
    ['unknown dtype', 'merge_method: ties\nmodels:\n  - model: a\ndtype: float8\n', 'PARAMETER_INVALID', /dtype "float8"/],
    ['duplicate model', 'merge_method: ties\nmodels:\n  - model: a\n  - model: a\n', 'RECIPE_INVALID', /"a" is listed twice/],
    ['bad seed', 'merge_method: ties\nmodels:\n  - model: a\nrandom_seed: -1\n', 'PARAMETER_INVALID', /random_seed/],
    ['seed past 2^53 (1e300 would silently be another seed)', 'merge_method: ties\nmodels:\n  - model: a\nrandom_seed: 1e300\n', 'PARAMETER_INVALID', /random_seed 1e\+300 is too large to keep exactly; use an integer from 0 to 9007199254740991/],
    ['seed 2^53 + 1', 'merge_method: ties\nmodels:\n  - model: a\nrandom_seed: 9007199254740993\n', 'PARAMETER_INVALID', /too large to keep exactly/],
    ['a slice source without its layer_range', 'merge_method: linear\nslices:\n  - sources: [{model: a, layer_range: [0, 2]}, {model: b}]\n', 'RECIPE_INVALID', /slices\[0\]\.sources\[1\] \("b"\) needs "layer_range: \[start, end\]"/],
  ];
  for (const [label, yaml, code, message] of cases) {
    it(label, () => {
      const e = codeOf(() => parseRecipe(yaml, 'b.yml'));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
    });
  }
  it('reports every problem at once', () => {
    const e = codeOf(() => parseRecipe('models:\n  - model: a\n    parameters: {weight: x}\n  - nope: 1\ndtype: int3\n', 'many.yml'));
    expect(e.code).toBe('RECIPE_PROBLEMS');
    expect(e.problems.sort()).toEqual(['PARAMETER_INVALID', 'PARAMETER_INVALID', 'RECIPE_INVALID', 'RECIPE_INVALID'].sort());
  });
});

describe('method-choosing options (shared_method, group_method)', () => {
  const twin = `models:\n  - model: a\n  - model: b\nmerge_method: twin_merging\nbase_model: base\nparameters:\n  shared_method: ties\n  lambda: 0.3\n  rank: 4\n  density: 0.5\n`;
  it('reads a string shared_method of the top-level parameters into options, apart from the numbers', () => {
    const r = parseRecipe(twin, 't.yml');
    expect(r.options).toEqual({ shared_method: 'ties' });
    expect(r.parameters).toEqual({ lambda: 0.3, rank: 4, density: 0.5 });
  });
  it('round-trips options through the YAML writer, in the top-level parameters', () => {
    const r = parseRecipe(twin, 't.yml');
    const yaml = recipeToYaml(r);
    expect(yaml).toMatch(/parameters:\n {2}shared_method: ties\n {2}lambda: 0.3\n/);
    expect({ ...parseRecipe(yaml, 'again.yml'), warnings: [] }).toEqual({ ...r, warnings: [] });
    const channel = parseRecipe(`models: [{model: a}, {model: b}]\nmerge_method: channel_merging\nbase_model: base\nparameters: {groups: 2, group_method: linear}\n`);
    expect(channel.options).toEqual({ group_method: 'linear' });
    expect(parseRecipe(recipeToYaml(channel)).options).toEqual({ group_method: 'linear' });
  });
  it('reads clustering as a name and exclude as a list (one string is a list of one), and writes them back', () => {
    const r = parseRecipe('merge_method: twin_merging\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {exclude: [head, bias], rank_ratio: 0.1}\n');
    expect(r.listOptions).toEqual({ exclude: ['head', 'bias'] });
    expect(r.parameters).toEqual({ rank_ratio: 0.1 });
    expect(parseRecipe(recipeToYaml(r)).listOptions).toEqual({ exclude: ['head', 'bias'] });
    expect(parseRecipe('merge_method: twin_merging\nmodels: [{model: a}]\nparameters: {exclude: head}\n').listOptions).toEqual({ exclude: ['head'] });
    const c = parseRecipe('merge_method: channel_merging\nmodels: [{model: a}]\nparameters: {clustering: average_linkage}\n');
    expect(c.options).toEqual({ clustering: 'average_linkage' });
  });
  it('recipes without options have none, and write none', () => {
    const r = parseRecipe('models:\n  - model: a\nmerge_method: linear\n');
    expect(r.options).toBeUndefined();
    expect(recipeToYaml(r)).not.toMatch(/parameters/);
  });
  const cases: [string, string, RegExp][] = [
    ['a string for a numeric top-level parameter', 'parameters: {lambda: high}', /parameters: "lambda" must be a number.*got the string "high"\. Only shared_method, group_method and clustering, in the top-level parameters, take a name \(and exclude a list of names\)/],
    ['a number for clustering', 'parameters: {clustering: 2}', /"clustering" must be a name, "kmeans" or "average_linkage"; got number 2/],
    ['a number in exclude', 'parameters: {exclude: [head, 3]}', /"exclude" must be a list of tensor-name patterns, e.g. "exclude: \[head, bias\]"/],
    ['exclude under a model', 'models:\n  - model: a\n    parameters: {exclude: [head]}', /parameters of model "a": "exclude" applies to the whole merge; move it to the top-level parameters/],
    ['shared_method under a model', 'models:\n  - model: a\n    parameters: {shared_method: ties}', /parameters of model "a": "shared_method" chooses a method for the whole merge; move it to the top-level parameters/],
    ['a number for shared_method', 'parameters: {shared_method: 3}', /"shared_method" must be the name of a merge method, e.g. "shared_method: task_arithmetic"; got number 3/],
    ['an empty group_method', 'parameters: {group_method: ""}', /"group_method" must be the name of a merge method/],
    ['a list for group_method', 'parameters: {group_method: [ties]}', /"group_method" must be the name of a merge method.*got a list/],
    ['a string inside a filter list', 'parameters: {density: [{filter: mlp, value: half}]}', /"density" must be a number/],
  ];
  for (const [label, extra, message] of cases) {
    it(`rejects ${label} (PARAMETER_INVALID)`, () => {
      const yaml = extra.startsWith('models:') ? `merge_method: twin_merging\nbase_model: base\n${extra}\n  - model: b\n` : `merge_method: twin_merging\nbase_model: base\nmodels: [{model: a}, {model: b}]\n${extra}\n`;
      const e = codeOf(() => parseRecipe(yaml, 'o.yml'));
      expect(e.code).toBe('PARAMETER_INVALID');
      expect(e.message).toMatch(message);
    });
  }
  it('reports a misplaced option with the other problems at once', () => {
    const e = codeOf(() => parseRecipe('merge_method: twin_merging\nmodels:\n  - model: a\n    parameters: {group_method: ties, weight: x}\nparameters: {shared_method: 1, rank: four}\n', 'many.yml'));
    expect(e.code).toBe('RECIPE_PROBLEMS');
    expect(e.problems).toEqual(['PARAMETER_INVALID', 'PARAMETER_INVALID', 'PARAMETER_INVALID', 'PARAMETER_INVALID']);
  });
});
