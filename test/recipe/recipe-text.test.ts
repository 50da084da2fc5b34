/**
 * The engine's memo of recipeToYaml (recipe objects from the lab become text in the worker): the same text as the writer for every recipe, and distinct
 * recipes (0 and −0, NaN and "NaN", a new density) never share an entry.
 */
import { describe, expect, it } from 'vitest';
import { recipeText as recipeYaml } from '../../src/engine/recipe/recipe-text.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';
import type { Recipe } from '../../src/engine/recipe/types.js';

const ties = (density: number | string, lambda: number): Recipe =>
  ({
    mergeMethod: 'ties',
    baseModel: 'base',
    models: ['a', 'b'].map((model) => ({ model, parameters: { weight: 1, density } })),
    parameters: { lambda },
  }) as Recipe;

describe('recipeText', () => {
  it('writes what recipeToYaml writes, asked once or many times', () => {
    for (let i = 0; i < 3; i++) {
      for (const d of [0.1, 0.3, 0.30000000000000004, 1]) expect(recipeYaml(ties(d, 1))).toBe(recipeToYaml(ties(d, 1)));
    }
  });
  it('keeps apart recipes whose JSON would be the same', () => {
    expect(recipeYaml(ties(0.5, -0))).toBe(recipeToYaml(ties(0.5, -0)));
    expect(recipeYaml(ties(0.5, 0))).toBe(recipeToYaml(ties(0.5, 0)));
    expect(recipeYaml(ties(0.5, -0))).not.toBe(recipeYaml(ties(0.5, 0)));
    expect(recipeYaml(ties(Number.NaN, 1))).toBe(recipeToYaml(ties(Number.NaN, 1)));
    expect(recipeYaml(ties('NaN', 1))).toBe(recipeToYaml(ties('NaN', 1)));
    expect(recipeYaml(ties(Number.NaN, 1))).not.toBe(recipeYaml(ties('NaN', 1)));
  });
  it('stays right after more recipes than it keeps', () => {
    for (let i = 0; i < 200; i++) expect(recipeYaml(ties(i / 200, 1))).toBe(recipeToYaml(ties(i / 200, 1)));
    expect(recipeYaml(ties(0, 1))).toBe(recipeToYaml(ties(0, 1)));
  });
});

describe('recipeText of a text', () => {
  it('is the text itself (the CLI and tests may send YAML)', () => {
    const text = recipeToYaml(ties(0.3, 1));
    expect(recipeYaml(text)).toBe(text);
  });
});
