/** renameModels: the lab's ids → the files' names, wherever a recipe names a model, and nowhere else. */
import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { renameModels } from '../../src/engine/recipe/rename.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

describe('renameModels', () => {
  it('renames models, the base and a tokenizer source; leaves unknown names, keywords and parameters alone', () => {
    const r = parseRecipe('merge_method: ties\nbase_model: base\ntokenizer_source: a\nparameters: {density: 0.5}\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: other\n    parameters: {weight: 0.5}\n');
    const out = renameModels(r, { base: 'base.safetensors', a: 'expert-a.safetensors', constructor: 'x' });
    expect(out.baseModel).toBe('base.safetensors');
    expect(out.tokenizerSource).toBe('expert-a.safetensors');
    expect(out.models.map((m) => [m.model, m.parameters])).toEqual([
      ['expert-a.safetensors', { weight: 1 }],
      ['other', { weight: 0.5 }],
    ]);
    expect(out.parameters).toEqual(r.parameters);
    // The renamed recipe reads back as itself.
    expect(recipeToYaml(parseRecipe(recipeToYaml(out)))).toBe(recipeToYaml(out));
    // A keyword stays one unless a model is named so.
    expect(renameModels(parseRecipe('merge_method: ties\nbase_model: b\ntokenizer_source: union\nmodels:\n  - model: a\n'), { a: 'a.safetensors' }).tokenizerSource).toBe('union');
  });
});
