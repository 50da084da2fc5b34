/**
 * The demo's controls beyond density and λ (issue 16): per-expert values, Linear's base weight, the
 * seed, SLERP's two models and a value per layer group. The store's setters refuse what the schema
 * does not allow, and every value reaches the recipe the lab scores and hands out — which the
 * engine's own parser reads back as mergekit would.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoAssets } from '../../src/app/demo/assets.js';
import { applyRecipe } from '../../src/app/recipe/import-recipe.js';
import { parseManifest } from '../../src/engine/demo/manifest.js';
import { atShared, demoControls, demoRecipe, layerFilters } from '../../src/app/recipe/demo-recipe.js';
import { applyHash, stateToHash } from '../../src/app/url-state.js';
import { useLabStore } from '../../src/app/store/index.js';
import { mergeRecipe } from '../../src/app/store/engine-slice.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { evaluateSetting } from '../../src/engine/recipe/resolve.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

const TASKS = ['invert', 'permute', 'shift-left'];
const initial = useLabStore.getState();
// The demo's layer groups (hidden, head) come from its manifest.
beforeAll(() => {
  const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../public/demo/manifest.json'), 'utf8');
  demoAssets.setManifest(parseManifest(JSON.parse(text)), text);
});
afterEach(() => useLabStore.setState(initial, true));

function onDemo(method: string): void {
  useLabStore.setState({ source: 'demo', engine: { ...initial.engine, demo: { status: 'ready', tasks: TASKS } } });
  useLabStore.getState().setMethod(method);
}

const st = () => useLabStore.getState();
/** The recipe the lab merges and scores, as its YAML reads back in the engine's parser. */
const recipe = () => parseRecipe(recipeToYaml(mergeRecipe(st())), 'lab.yml');

describe('the demo recipe from the controls', () => {
  it('writes an expert’s own weight and density over the shared ones', () => {
    onDemo('ties');
    st().setDemoModelParam('permute', 'weight', 0.5);
    st().setDemoModelParam('permute', 'density', 0.7);
    const r = recipe();
    expect(r.models.map((m) => m.parameters)).toEqual([
      { weight: 1, density: 0.3 },
      { weight: 0.5, density: 0.7 },
      { weight: 1, density: 0.3 },
    ]);
    st().setDemoModelParam('permute', 'weight', undefined);
    expect(recipe().models[1]!.parameters).toEqual({ weight: 1, density: 0.7 });
  });

  it('clamps a per-expert value to the schema’s range and ignores a non-number', () => {
    onDemo('ties');
    st().setDemoModelParam('invert', 'density', 1.7);
    expect(st().demoModels['invert']).toEqual({ density: 1 });
    st().setDemoModelParam('invert', 'density', Number.NaN);
    expect(st().demoModels['invert']).toEqual({ density: 1 });
    st().setDemoModelParam('invert', 'density', -3);
    expect(st().demoModels['invert']).toEqual({ density: 0 });
  });

  it('Linear leaves the base out, or merges it in with the weight given', () => {
    onDemo('linear');
    expect(recipe().baseModel).toBeUndefined();
    expect(recipe().models.map((m) => m.model)).toEqual(TASKS);
    st().setBaseWeight(0.25);
    const r = recipe();
    expect(r.baseModel).toBe('base');
    expect(r.models[0]).toEqual({ model: 'base', parameters: { weight: 0.25 } });
    st().setBaseWeight(Number.POSITIVE_INFINITY);
    expect(st().baseWeight).toBe(0.25);
    st().setBaseWeight(undefined);
    expect(recipe().baseModel).toBeUndefined();
  });

  it('epsilon and gamma for every expert, clamped to their ranges (epsilon < 0.5 refused at 0.5)', () => {
    onDemo('della');
    st().setGlobal('epsilon', 0.1);
    expect(recipe().models.every((m) => m.parameters?.['epsilon'] === 0.1)).toBe(true);
    st().setGlobal('epsilon', 0.5);
    expect(st().globals['epsilon']).toBe(0.1);
    st().setGlobal('epsilon', -1);
    expect(st().globals['epsilon']).toBe(0);
    st().setMethod('breadcrumbs');
    st().setGlobal('gamma', 0.05);
    expect(recipe().models.every((m) => m.parameters?.['gamma'] === 0.05)).toBe(true);
  });

  it('the seed: 42 until set, written for the methods that draw at random only', () => {
    onDemo('dare_ties');
    expect(st().randomSeed).toBe(42);
    expect(recipe().randomSeed).toBe(42);
    st().setRandomSeed(7);
    expect(recipe().randomSeed).toBe(7);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) st().setRandomSeed(bad);
    expect(st().randomSeed).toBe(7);
    st().setMethod('ties');
    expect(recipe().randomSeed).toBeUndefined();
  });

  it('SLERP merges exactly the two models picked, the t = 0 end as base_model', () => {
    onDemo('slerp');
    let r = recipe();
    expect(r.models.map((m) => m.model)).toEqual(['invert', 'permute']);
    expect(r.baseModel).toBe('invert');
    expect(r.parameters?.['t']).toBe(0.5);
    st().setPair({ base: 'base', other: 'shift-left' });
    st().setGlobal('t', 0.3);
    r = recipe();
    expect(r.models.map((m) => m.model)).toEqual(['base', 'shift-left']);
    expect(r.baseModel).toBe('base');
    expect(r.parameters?.['t']).toBe(0.3);
    st().setPair({ base: 'invert', other: 'invert' });
    expect(st().pair).toEqual({ base: 'base', other: 'shift-left' });
  });

  it('a value per layer group becomes a filter list that gives each demo tensor its layer’s value', () => {
    onDemo('task_arithmetic');
    st().setLayered('lambda', { hidden: 0.8, head: 0.2 });
    const r = recipe();
    expect(r.parameters?.['lambda']).toEqual(layerFilters({ hidden: 0.8, head: 0.2 }));
    const lambda = r.parameters!['lambda']!;
    expect(evaluateSetting(lambda, 'hidden.weight', 0)).toBe(0.8);
    expect(evaluateSetting(lambda, 'hidden.bias', 0)).toBe(0.8);
    expect(evaluateSetting(lambda, 'head.weight', 0)).toBe(0.2);
    // Out of range: density's layers are clamped to [0, 1]; one non-number refuses the set.
    st().setMethod('ties');
    st().setLayered('density', { hidden: 2, head: 0.1 });
    expect(st().layered['density']).toEqual({ hidden: 1, head: 0.1 });
    st().setLayered('density', { hidden: Number.NaN, head: 0.5 });
    expect(st().layered['density']).toEqual({ hidden: 1, head: 0.1 });
    st().setLayered('density', undefined);
    expect(st().layered['density']).toBeUndefined();
  });

  it('a sweep point sets density for every expert and layer', () => {
    onDemo('ties');
    st().setLayered('density', { hidden: 0.9, head: 0.9 });
    st().setDemoModelParam('invert', 'density', 0.8);
    const r = demoRecipe('ties', TASKS, atShared(demoControls(st()), 'density', 0.2));
    expect(r.models.map((m) => m.parameters?.['density'])).toEqual([0.2, 0.2, 0.2]);
    expect(demoRecipe('ties', TASKS, demoControls(st())).models[0]!.parameters?.['density']).toBe(0.8);
  });
});

describe('the URL keeps the demo controls', () => {
  it('per-expert values, base weight, seed, pair and layers survive stateToHash → applyHash', () => {
    onDemo('dare_ties');
    st().setDemoModelParam('permute', 'weight', 0.5);
    st().setRandomSeed(9);
    st().setLayered('density', { hidden: 0.4, head: 0.6 });
    st().setBaseWeight(0.3);
    st().setPair({ base: 'base', other: 'permute' });
    const hash = stateToHash(st());
    const before = recipeToYaml(mergeRecipe(st()));
    useLabStore.setState(initial, true);
    onDemo('ties');
    applyHash(hash);
    expect(st().method).toBe('dare_ties');
    expect(st().demoModels).toEqual({ permute: { weight: 0.5 } });
    expect(st().randomSeed).toBe(9);
    expect(st().layered).toEqual({ density: { hidden: 0.4, head: 0.6 } });
    expect(st().baseWeight).toBe(0.3);
    expect(st().pair).toEqual({ base: 'base', other: 'permute' });
    expect(recipeToYaml(mergeRecipe(st()))).toBe(before);
  });

  it('ignores values a link cannot hold', () => {
    onDemo('ties');
    applyHash('method=ties&m.invert.density=abc&seed=-4&l.density=hidden:x,head:0.5&baseweight=&pair=invert,invert');
    expect(st().demoModels).toEqual({});
    expect(st().randomSeed).toBe(42);
    expect(st().layered).toEqual({});
    expect(st().baseWeight).toBeUndefined();
    expect(st().pair).toBeUndefined();
  });
});

describe('importing onto the demo’s controls', () => {
  const applied = (text: string) => {
    const out = applyRecipe(parseRecipe(text, 'in.yml'), st(), 'in.yml');
    expect(out.notApplied).toEqual([]);
    return out;
  };

  it('SLERP: the two models and which is the t = 0 end', () => {
    onDemo('ties');
    applied('merge_method: slerp\nbase_model: permute\nmodels:\n  - model: permute\n  - model: shift-left\nparameters:\n  t: 0.25\n');
    expect(st().pair).toEqual({ base: 'permute', other: 'shift-left' });
    expect(recipe().models.map((m) => m.model)).toEqual(['permute', 'shift-left']);
    expect(recipe().parameters?.['t']).toBe(0.25);
  });

  it('Linear: "base" under models with a weight is the base merged in; without it the base is left out', () => {
    onDemo('ties');
    applied('merge_method: linear\nbase_model: base\nmodels:\n  - model: base\n    parameters: { weight: 0.3 }\n  - model: invert\n    parameters: { weight: 1 }\n  - model: permute\n    parameters: { weight: 1 }\n  - model: shift-left\n    parameters: { weight: 1 }\n');
    expect(st().baseWeight).toBe(0.3);
    expect(recipe().models[0]).toEqual({ model: 'base', parameters: { weight: 0.3 } });
    applied('merge_method: linear\nmodels:\n  - model: invert\n    parameters: { weight: 1 }\n  - model: permute\n    parameters: { weight: 1 }\n  - model: shift-left\n    parameters: { weight: 1 }\n');
    expect(st().baseWeight).toBeUndefined();
  });

  it('a filter list over the demo’s layers goes to the Per layer values; a gradient takes its first value, as mergekit does here', () => {
    onDemo('ties');
    const out = applied(
      'merge_method: ties\nbase_model: base\nmodels:\n  - model: invert\n    parameters: { weight: [0.5, 1.5] }\n  - model: permute\n  - model: shift-left\nparameters:\n  weight: 1\n  density: [{ filter: hidden., value: 0.2 }, { filter: head., value: 0.7 }]\n  lambda: 1\nrandom_seed: 5\n',
    );
    expect(st().layered['density']).toEqual({ hidden: 0.2, head: 0.7 });
    expect(st().demoModels['invert']).toEqual({ weight: 0.5 });
    expect(out.applied.join('\n')).toMatch(/from the gradient \[0\.5, 1\.5\]: the demo's tensors have no layer number/);
    // TIES draws nothing at random: the seed is kept in its control, and the recipe does not name it.
    expect(st().randomSeed).toBe(5);
    const r = recipe();
    expect(r.models[1]!.parameters?.['density']).toEqual([{ filter: 'hidden.', value: 0.2 }, { filter: 'head.', value: 0.7 }]);
    expect(r.randomSeed).toBeUndefined();
  });

  it('a recipe the lab wrote with every demo control set reads back whole, and the lab then writes the same recipe', () => {
    onDemo('della');
    st().setDemoModelParam('permute', 'weight', 0.6);
    st().setDemoModelParam('invert', 'density', 0.5);
    st().setGlobal('epsilon', 0.1);
    st().setRandomSeed(11);
    st().setLayered('lambda', { hidden: 1.2, head: 0.8 });
    const yaml = recipeToYaml(mergeRecipe(st()));
    useLabStore.setState(initial, true);
    onDemo('ties');
    applied(yaml);
    expect(recipeToYaml(mergeRecipe(st()))).toBe(yaml);
  });
});
