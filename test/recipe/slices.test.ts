/**
 * `slices:` and `modules:` recipes as read (recipe/parse.ts) and written back (recipe/write.ts):
 * several slices, each with its sources' own layer ranges and parameters, a slice's base_model and
 * parameters; modules of slices or models; what is not mergekit's (a slice's merge_method) warned
 * about; every structural problem reported at once.
 */
import { describe, expect, it } from 'vitest';
import { isMergeLabError, type MergeLabError } from '../../src/engine/errors.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { renameModels } from '../../src/engine/recipe/rename.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

const STACK = `slices:
  - sources:
      - model: a
        layer_range: [0, 4]
        parameters: {scale: [0, 1]}
  - sources:
      - model: b
        layer_range: [2, 6]
      - model: a
        layer_range: [4, 8]
    base_model: b
    parameters: {weight: 0.5}
merge_method: linear
parameters: {weight: 1}
`;

function problemOf(text: string): MergeLabError {
  try {
    parseRecipe(text, 's.yml');
  } catch (e) {
    if (isMergeLabError(e)) return e;
    throw e;
  }
  throw new Error('parsed');
}

describe('slices recipes', () => {
  it('reads every slice with its sources, layer ranges, parameters and base_model; models lists each model once', () => {
    const r = parseRecipe(STACK, 's.yml');
    expect(r.slices).toEqual([
      { sources: [{ model: 'a', layerRange: [0, 4], parameters: { scale: [0, 1] } }] },
      { sources: [{ model: 'b', layerRange: [2, 6] }, { model: 'a', layerRange: [4, 8] }], baseModel: 'b', parameters: { weight: 0.5 } },
    ]);
    expect(r.models).toEqual([{ model: 'a' }, { model: 'b' }]);
    expect(r.layerRange).toBeUndefined();
    expect(r.baseModel).toBeUndefined();
  });

  it('writes them back as mergekit YAML that reads to the same recipe', () => {
    const r = parseRecipe(STACK, 's.yml');
    const yaml = recipeToYaml(r);
    expect(yaml).toMatch(/^slices:\n {2}- sources:\n {6}- model: a\n {8}layer_range: \[ ?0, 4 ?\]/);
    expect({ ...parseRecipe(yaml), warnings: [] }).toEqual({ ...r, warnings: [] });
  });

  it("renames the slices' sources and bases (the lab's ids to the files' names)", () => {
    const out = renameModels(parseRecipe(STACK, 's.yml'), { a: 'a.safetensors', b: 'b.safetensors' });
    expect(out.slices!.map((s) => [s.sources.map((x) => x.model), s.baseModel])).toEqual([
      [['a.safetensors'], undefined],
      [['b.safetensors', 'a.safetensors'], 'b.safetensors'],
    ]);
    expect(out.models.map((m) => m.model)).toEqual(['a.safetensors', 'b.safetensors']);
  });

  it('keeps one slice whose sources share a range as models with that range; a slice base other than the recipe base makes it a slice', () => {
    const one = parseRecipe('slices:\n  - sources:\n      - {model: a, layer_range: [2, 6]}\n      - {model: b, layer_range: [2, 6]}\nmerge_method: linear\n', 'o.yml');
    expect([one.models.map((m) => m.model), one.layerRange, one.slices]).toEqual([['a', 'b'], [2, 6], undefined]);
    const own = parseRecipe('slices:\n  - sources:\n      - {model: a, layer_range: [0, 4]}\n      - {model: b, layer_range: [0, 4]}\n    base_model: b\nmerge_method: slerp\nbase_model: a\n', 'o.yml');
    expect(own.slices).toEqual([{ sources: [{ model: 'a', layerRange: [0, 4] }, { model: 'b', layerRange: [0, 4] }], baseModel: 'b' }]);
    expect(own.baseModel).toBe('a');
  });

  it("warns that a slice's merge_method and residual_weight change nothing, as mergekit ignores them", () => {
    const r = parseRecipe('slices:\n  - sources: [{model: a, layer_range: [0, 2]}]\n    merge_method: slerp\n    residual_weight: 0.5\n  - sources: [{model: b, layer_range: [0, 2]}]\nmerge_method: passthrough\n', 'w.yml');
    expect(r.warnings).toEqual([
      'w.yml: slices[0].merge_method is not a key of a slice and is ignored: mergekit merges every slice with the top-level merge_method.',
      'w.yml: slices[0].residual_weight is ignored: mergekit reads it but nothing uses it.',
    ]);
  });

  it('reports every problem of every slice at once, each naming the slice and source', () => {
    const e = problemOf(`slices:
  - sources:
      - {model: a, layer_range: [0, 4]}
      - {model: b, layer_range: [0, 4, 8]}
  - sources:
      - {model: a, layer_range: [4, 2]}
  - sources: []
  - sources:
      - {model: c, layer_range: [0, 1]}
      - {model: c, layer_range: [1, 2]}
    parameters: {weight: high}
merge_method: linear
`);
    expect(e.code).toBe('RECIPE_PROBLEMS');
    const said = e.message;
    expect(said).toMatch(/slices\[0\]\.sources\[1\] \("b"\) needs "layer_range: \[start, end\]".*got \[0,4,8\]/);
    expect(said).toMatch(/slices\[1\]\.sources\[0\] \("a"\) needs "layer_range: \[start, end\]".*got \[4,2\]/);
    expect(said).toMatch(/slices\[2\]\.sources must be a list/);
    expect(said).toMatch(/slices\[3\]: model "c" is listed twice/);
    expect(said).toMatch(/slices\[3\]\.parameters: "weight" must be a number/);
  });
});

describe('modules recipes', () => {
  const MODULES = `modules:
  text_decoder:
    slices:
      - sources: [{model: a, layer_range: [0, 2]}]
      - sources: [{model: b, layer_range: [1, 3]}]
  vision_tower:
    models:
      - model: b
        parameters: {weight: 0.5}
      - model: c
    parameters: {weight: 1}
merge_method: linear
`;
  it('reads each module with its slices or models and parameters, in recipe order; models lists every model once', () => {
    const r = parseRecipe(MODULES, 'm.yml');
    expect(Object.keys(r.modules!)).toEqual(['text_decoder', 'vision_tower']);
    expect(r.modules!.text_decoder).toEqual({ slices: [{ sources: [{ model: 'a', layerRange: [0, 2] }] }, { sources: [{ model: 'b', layerRange: [1, 3] }] }] });
    expect(r.modules!.vision_tower).toEqual({ models: [{ model: 'b', parameters: { weight: 0.5 } }, { model: 'c' }], parameters: { weight: 1 } });
    expect(r.models.map((m) => m.model)).toEqual(['a', 'b', 'c']);
    expect({ ...parseRecipe(recipeToYaml(r)), warnings: [] }).toEqual({ ...r, warnings: [] });
  });

  it('refuses a module with both slices and models, or neither, and a recipe with models beside modules', () => {
    const e = problemOf('modules:\n  text_decoder: {models: [{model: a}], slices: [{sources: [{model: a, layer_range: [0, 1]}]}]}\n  vision_tower: {parameters: {weight: 1}}\nmerge_method: linear\n');
    expect(e.message).toMatch(/modules\.text_decoder needs either "slices:" or "models:", not both/);
    expect(e.message).toMatch(/modules\.vision_tower needs either "slices:" or "models:"\./);
    expect(problemOf('models: [{model: a}]\nmodules: {text_decoder: {models: [{model: a}]}}\nmerge_method: linear\n').message).toMatch(/not "models" and "modules"/);
  });
});
