/**
 * Importing a recipe into the lab (src/app/recipe/import-recipe.ts): every setting the recipe holds
 * is either applied (the store's setter was called with it, and the lab's own recipe afterwards says
 * the same) or listed in `notApplied` with a reason. Runs on the real zustand store: with no engine
 * started its setters only set state.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyRecipe, importRecipe as importParsed, type ImportOutcome } from '../../src/app/recipe/import-recipe.js';
import { useLabStore } from '../../src/app/store/index.js';
import { mergeRecipe } from '../../src/app/store/engine-slice.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

/** The page reads the file in the worker (engine.readRecipe): the same parser, here in-process. */
const importRecipe = (text: string, fileName: string, st: Parameters<typeof importParsed>[2]) => importParsed(parseRecipe(text, fileName), fileName, st);
const currentRecipeYaml = (s: Parameters<typeof mergeRecipe>[0]) => recipeToYaml(mergeRecipe(s));
import type { DroppedModel, LabState } from '../../src/app/store/types.js';
import { findMethod } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import type { ParameterSetting, Recipe } from '../../src/engine/recipe/types.js';

const TASKS = ['invert', 'shift', 'rotate', 'blur', 'noise'];
const initial = useLabStore.getState();
afterEach(() => useLabStore.setState(initial, true));

/** The demo as the store holds it once the worker has it. */
function onDemo(): void {
  useLabStore.setState({ source: 'demo', engine: { ...initial.engine, demo: { status: 'ready', tasks: TASKS } } });
}

/** The user's checkpoints, all read: the first the base. */
function onMine(ids: readonly string[]): void {
  const dropped: DroppedModel[] = ids.map((id, k) => ({ id, name: `${id}.safetensors`, files: 1, role: k === 0 ? 'base' : 'expert', status: 'ready' }));
  useLabStore.setState({ source: 'mine', dropped });
}

const SETTERS = ['setMethod', 'setDensity', 'setLambda', 'setGlobal', 'setArithmetic', 'setSource', 'setRole', 'setModelParam', 'moveModel', 'setTwin', 'setChannel', 'setDemoModelParam', 'setRandomSeed', 'setLayered', 'setBaseWeight', 'setPair'] as const;

/** The store's state with its setters wrapped in spies that pass each call on to the store. */
function spiedState() {
  const st = useLabStore.getState();
  const spies = Object.fromEntries(SETTERS.map((name) => [name, vi.fn((...args: unknown[]) => (st[name] as (...a: unknown[]) => unknown)(...args))]));
  return { st: { ...st, ...spies } as unknown as LabState, spies: spies as Record<(typeof SETTERS)[number], ReturnType<typeof vi.fn>> };
}

/** Every setting path of a parsed recipe, found by walking its fields: nothing here lists the fields, so one added later is walked too. */
function pathsOf(recipe: Recipe): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(recipe) as [string, unknown][]) {
    if (field === 'warnings' || value === undefined) continue;
    if (Array.isArray(value) && value.length > 0 && value.every((m) => typeof m === 'object' && m !== null && !Array.isArray(m))) {
      value.forEach((m: { parameters?: object }, i) => {
        out.push(`${field}.${i}`);
        for (const name of Object.keys(m.parameters ?? {})) out.push(`${field}.${i}.parameters.${name}`);
      });
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const name of Object.keys(value)) out.push(`${field}.${name}`);
    } else out.push(field);
  }
  return out;
}

/** Fails naming each path of `recipe` that no decision of `out` covers, or that two decisions cover. */
function expectEveryPathDecided(recipe: Recipe, out: ImportOutcome): void {
  const count = new Map<string, number>();
  for (const s of out.settings) for (const p of s.paths) count.set(p, (count.get(p) ?? 0) + 1);
  const paths = pathsOf(recipe);
  expect(paths.filter((p) => !count.has(p))).toEqual([]);
  expect(paths.filter((p) => (count.get(p) ?? 0) > 1)).toEqual([]);
  expect(out.applied).toEqual(out.settings.filter((s) => s.applied).map((s) => s.text));
  expect(out.notApplied).toEqual(out.settings.filter((s) => !s.applied).map((s) => s.text));
}

const isApplied = (out: ImportOutcome, path: string) => out.settings.find((s) => s.paths.includes(path))?.applied;
const notAppliedLine = (out: ImportOutcome, path: string) => out.settings.find((s) => s.paths.includes(path) && !s.applied)?.text;

/** A scalar setting's value (the recipes here give scalars, or the gradients the test expects to be refused). */
const scalar = (s: ParameterSetting | undefined) => (typeof s === 'number' || typeof s === 'boolean' ? s : undefined);

/**
 * What `recipe` gives `name` for model `model`, as mergekit looks it up: the model's own value,
 * the slice's, the top level's, then the method's default.
 */
function effective(recipe: Recipe, model: string, name: string): unknown {
  const m = recipe.models.find((x) => x.model === model);
  return scalar(m?.parameters?.[name] ?? recipe.sliceParameters?.[name] ?? recipe.parameters?.[name]) ?? findMethod(recipe.mergeMethod)?.params.find((p) => p.name === name)?.default;
}

/**
 * The lab's recipe after the import says what each applied setting of `recipe` says. `as` maps
 * the recipe's model names onto the lab's (the demo's experts are its task ids).
 */
function expectRoundTrip(recipe: Recipe, out: ImportOutcome, as: (model: string) => readonly string[]): void {
  const lab = parseRecipe(currentRecipeYaml(useLabStore.getState()), 'lab.yml');
  for (const s of out.settings.filter((x) => x.applied)) {
    for (const path of s.paths) {
      const [head, a, b, name] = path.split('.');
      if (head === 'mergeMethod') expect(lab.mergeMethod).toBe(recipe.mergeMethod);
      else if (head === 'baseModel') {
        // A base the method does not need is one more model to mergekit: the lab's recipe lists it among them.
        if (findMethod(recipe.mergeMethod)?.base === 'optional') expect(lab.models.map((m) => m.model)).toContain(recipe.baseModel);
        else expect(lab.baseModel).toBe(recipe.baseModel);
      }
      else if (head === 'dtype' || head === 'math') expect(lab[head], path).toBe(recipe[head]);
      else if (head === 'models' && b === undefined) expect(lab.models.map((m) => m.model)).toEqual(expect.arrayContaining([...as(recipe.models[Number(a)]!.model)]));
      else if (head === 'models') {
        const own = recipe.models[Number(a)]!;
        for (const m of as(own.model)) expect(effective(lab, m, name!), `${path} for ${m}`).toBe(scalar(own.parameters![name!]));
      } else if (head === 'parameters' || head === 'sliceParameters') {
        const spec = findMethod(recipe.mergeMethod)?.params.find((p) => p.name === a);
        const models = spec?.scope === 'model' ? recipe.models.filter((m) => m.parameters?.[a!] === undefined).flatMap((m) => as(m.model)) : [];
        if (spec?.scope === 'global') expect(effective(lab, '', a!), path).toBe(effective(recipe, '', a!));
        for (const m of models) expect(effective(lab, m, a!), `${path} for ${m}`).toBe(effective(recipe, '', a!));
      }
    }
  }
}

// The brief's recipe: epsilon and weights per model, a seed, dtype and out_dtype, a gradient, and a model that is not loaded.
const DELLA = `merge_method: della
base_model: b0
models:
  - model: e1
    parameters: { weight: 0.5, density: 0.4, epsilon: 0.2 }
  - model: e2
    parameters: { weight: 1, density: [0.2, 0.6], epsilon: 0.1 }
  - model: gone
    parameters: { weight: 1, gamma: 0.5 }
parameters:
  lambda: 0.9
  rescale: false
  normalize: [1, 0]
dtype: bfloat16
out_dtype: float16
random_seed: 42
math: float32
`;

describe('importing a recipe onto your checkpoints', () => {
  it('applies each setting the lab can hold, with the setter called with its value, and lists the rest', () => {
    onMine(['b0', 'e1', 'e2', 'e3']);
    const { st, spies } = spiedState();
    const recipe = parseRecipe(DELLA, 'della.yml');
    const out = importRecipe(DELLA, 'della.yml', st);
    console.log(`[import] applied: ${out.applied.join(' | ')}\n[import] not applied: ${out.notApplied.join(' | ')}`);
    expectEveryPathDecided(recipe, out);

    expect(spies.setMethod).toHaveBeenCalledWith('della');
    expect(spies.setLambda).toHaveBeenCalledWith(0.9);
    expect(spies.setGlobal).toHaveBeenCalledWith('rescale', false);
    expect(spies.setModelParam).toHaveBeenCalledWith('e1', 'weight', 0.5);
    expect(spies.setModelParam).toHaveBeenCalledWith('e1', 'density', 0.4);
    expect(spies.setModelParam).toHaveBeenCalledWith('e1', 'epsilon', 0.2);
    expect(spies.setModelParam).toHaveBeenCalledWith('e2', 'weight', 1);
    expect(spies.setModelParam).toHaveBeenCalledWith('e2', 'epsilon', 0.1);
    expect(spies.setArithmetic).toHaveBeenCalledWith({ dtype: 'bfloat16', math: 'float32' });
    for (const path of ['mergeMethod', 'baseModel', 'models.0', 'models.0.parameters.epsilon', 'models.0.parameters.weight', 'models.1.parameters.epsilon', 'parameters.lambda', 'parameters.rescale', 'dtype', 'math']) {
      expect(isApplied(out, path), path).toBe(true);
    }

    // Not applied, each with its reason.
    expect(notAppliedLine(out, 'models.2')).toMatch(/model "gone" is not loaded/);
    expect(notAppliedLine(out, 'models.2.parameters.weight')).toMatch(/"gone" is not loaded/);
    expect(notAppliedLine(out, 'models.2.parameters.gamma')).toMatch(/no parameter "gamma"/);
    expect(notAppliedLine(out, 'models.1.parameters.density')).toMatch(/density \[0\.2, 0\.6\] of "e2": a gradient/);
    expect(notAppliedLine(out, 'parameters.normalize')).toMatch(/normalize \[1, 0\]: a gradient/);
    expect(notAppliedLine(out, 'randomSeed')).toMatch(/random_seed 42: the lab's seed control is the demo's/);
    expect(notAppliedLine(out, 'outDtype')).toMatch(/out_dtype float16: the lab has no out_dtype control/);
    expect(spies.setModelParam).not.toHaveBeenCalledWith('e2', 'density', expect.anything());
    expect(out.notApplied).toHaveLength(7);

    // The roles follow the recipe: e3, which it does not name, is left out of the merge.
    const s = useLabStore.getState();
    expect(s.dropped.map((d) => [d.id, d.role])).toEqual([
      ['b0', 'base'],
      ['e1', 'expert'],
      ['e2', 'expert'],
      ['e3', 'excluded'],
    ]);
    expect(s.dtype).toBe('bfloat16');
    expect(s.math).toBe('float32');
    expectRoundTrip(recipe, out, (m) => [m]);
  });

  it('takes the recipe order, its base, and puts what it leaves out back to the defaults', () => {
    onMine(['e1', 'b0', 'e2']);
    // Settings from before the import, which the recipe does not repeat.
    const before = useLabStore.getState();
    before.setModelParam('e2', 'epsilon', 0.3);
    before.setArithmetic({ dtype: 'float16', math: 'float32' });
    before.setLambda(1.5);
    const text = 'merge_method: della\nbase_model: b0\nmodels:\n  - model: e2\n    parameters: { weight: 1 }\n  - model: e1\n    parameters: { weight: 1 }\n';
    const { st, spies } = spiedState();
    const out = importRecipe(text, 'r.yml', st);
    expect(out.notApplied).toEqual([]);
    expect(spies.setRole).toHaveBeenCalledWith('b0', 'base');
    const s = useLabStore.getState();
    expect(s.dropped.filter((d) => d.role === 'expert').map((d) => d.id)).toEqual(['e2', 'e1']);
    expect(s.dropped.find((d) => d.role === 'base')?.id).toBe('b0');
    expect(s.perModel.e2?.epsilon).toBe(0.15);
    expect(s.dtype).toBeUndefined();
    expect(s.math).toBe('mergekit');
    expect(s.lambda).toBe(1);
    expect(s.density).toBe(1);
    expect(out.applied.join(' ')).toMatch(/defaults where the recipe sets nothing: .*lambda 1/);
    const lab = parseRecipe(currentRecipeYaml(s), 'lab.yml');
    expect(lab.models.map((m) => m.model)).toEqual(['e2', 'e1']);
    expect(lab.dtype).toBeUndefined();
    expectRoundTrip(parseRecipe(text), out, (m) => [m]);
  });
});

describe('importing a recipe onto the demo', () => {
  it("applies the per-expert values and the seed to the demo's controls and lists the dtype and models it cannot hold", () => {
    onDemo();
    const text = DELLA.replace('e1', 'invert').replace('e2', 'shift').replace('base_model: b0', 'base_model: base').replace('[0.2, 0.6]', '0.4');
    const recipe = parseRecipe(text, 'demo.yml');
    const { st, spies } = spiedState();
    const out = importRecipe(text, 'demo.yml', st);
    console.log(`[import] demo, not applied: ${out.notApplied.join(' | ')}`);
    expectEveryPathDecided(recipe, out);
    expect(spies.setDensity).toHaveBeenCalledWith(0.4);
    expect(spies.setLambda).toHaveBeenCalledWith(0.9);
    expect(spies.setModelParam).not.toHaveBeenCalled();
    // The demo always computes in float32: the Arithmetic controls (your checkpoints') are left alone.
    expect(spies.setArithmetic).not.toHaveBeenCalled();
    expect(isApplied(out, 'models.1.parameters.weight')).toBe(true); // weight 1 is what the demo uses
    expect(isApplied(out, 'models.0.parameters.density')).toBe(true);
    // Each expert's own values go to its Per expert sliders.
    expect(spies.setDemoModelParam).toHaveBeenCalledWith('invert', 'epsilon', 0.2);
    expect(spies.setDemoModelParam).toHaveBeenCalledWith('shift', 'epsilon', 0.1);
    expect(spies.setDemoModelParam).toHaveBeenCalledWith('invert', 'weight', 0.5);
    for (const path of ['models.0.parameters.epsilon', 'models.1.parameters.epsilon', 'models.0.parameters.weight']) expect(isApplied(out, path), path).toBe(true);
    expect(useLabStore.getState().demoModels['invert']).toEqual({ density: 0.4, weight: 0.5, epsilon: 0.2 });
    expect(notAppliedLine(out, 'models.2')).toMatch(/model "gone" is not loaded/);
    expect(spies.setRandomSeed).toHaveBeenCalledWith(42);
    expect(isApplied(out, 'randomSeed')).toBe(true);
    expect(notAppliedLine(out, 'dtype')).toMatch(/dtype bfloat16: the demo always computes in float32/);
    expect(isApplied(out, 'outDtype')).toBe(true); // float16: the demo's own
    expect(notAppliedLine(out, 'math')).toMatch(/math float32/);
    expect(out.notApplied.join('\n')).toMatch(/"rotate", "blur", "noise" are merged too/);
    expectRoundTrip(recipe, out, (m) => (TASKS.includes(m) ? [m] : []));
  });

  it('applies a recipe the lab wrote itself whole, and what the lab then writes is the same recipe', () => {
    onDemo();
    const s0 = useLabStore.getState();
    s0.setMethod('dare_ties');
    s0.setDensity(0.55);
    s0.setLambda(1.3);
    s0.setGlobal('rescale', false);
    const yaml = currentRecipeYaml(useLabStore.getState());
    useLabStore.setState(initial, true);
    onDemo();
    const out = importRecipe(yaml, 'merge-recipe.yml', useLabStore.getState());
    expect(out.notApplied).toEqual([]);
    expectEveryPathDecided(parseRecipe(yaml), out);
    expect(currentRecipeYaml(useLabStore.getState())).toBe(yaml);
  });
});

describe('importing a routed recipe', () => {
  it("sets Twin-Merging's controls and lists the router settings and dtype it cannot hold", () => {
    onMine(['b0', 'e1', 'e2', 'e3']);
    const text = `merge_method: twin_merging
base_model: b0
models: [{ model: e1 }, { model: e2 }, { model: e3, parameters: { weight: 1 } }]
parameters: { shared_method: ties, density: 0.5, lambda: 0.7, energy: 0.8, temperature: 2, hidden: 64, normalize: false }
dtype: float16
`;
    const { st, spies } = spiedState();
    const out = importRecipe(text, 'twin.yml', st);
    expectEveryPathDecided(parseRecipe(text), out);
    expect(spies.setTwin).toHaveBeenCalledWith(expect.objectContaining({ sharedMethod: 'ties', sharedDensity: 0.5, lambda: 0.7, energy: 0.8, useEnergy: true, temperature: 2, topK: undefined }));
    expect(notAppliedLine(out, 'parameters.hidden')).toMatch(/hidden 64/);
    expect(notAppliedLine(out, 'parameters.normalize')).toMatch(/normalize false: .* no normalize control/);
    expect(notAppliedLine(out, 'dtype')).toMatch(/dtype float16: Twin-Merging packages are written in float32/);
    expect(out.notApplied).toHaveLength(3);
    const yaml = currentRecipeYaml(useLabStore.getState());
    expect(yaml).toMatch(/shared_method: ties/);
    expect(yaml).toMatch(/energy: 0\.8/);
  });

  it("sets Channel Merging's controls, taking a value every expert gives alike as the group method's", () => {
    onDemo();
    const text = `merge_method: channel_merging
base_model: base
models: [${TASKS.map((t) => `{ model: ${t}, parameters: { density: 0.4 } }`).join(', ')}]
parameters: { group_method: ties, groups: 3, lambda: 1.2, merge_singletons: true }
`;
    const { st, spies } = spiedState();
    const out = importRecipe(text, 'channel.yml', st);
    expectEveryPathDecided(parseRecipe(text), out);
    expect(spies.setChannel).toHaveBeenCalledWith(expect.objectContaining({ groupMethod: 'ties', K: 3, lambda: 1.2, density: 0.4 }));
    expect(out.notApplied).toEqual([expect.stringMatching(/merge_singletons true: .* no merge_singletons control/)]);
  });
});

describe('no setting is dropped without a word', () => {
  const RECIPES: Record<string, string> = {
    della: DELLA,
    'a slice with its own parameters and a tokenizer': `merge_method: ties
base_model: b0
slices:
  - sources:
      - { model: e1, layer_range: [0, 4], parameters: { weight: 0.7 } }
      - { model: e2, layer_range: [0, 4], parameters: { weight: [0.2, 0.4], density: [{ filter: mlp, value: 0.3 }, { value: 0.5 }] } }
    parameters: { density: 0.6, lambda: 1.1 }
parameters: { density: 0.2, int8_mask: true, shared_method: ties }
tokenizer: { source: union, tokens: { "<x>": { source: e1 } } }
chat_template: chatml
name: my-merge
`,
    'slerp with a model it does not take a parameter for': `merge_method: slerp
base_model: b0
models: [{ model: e1, parameters: { t: 0.3 } }]
parameters: { t: [0, 0.5, 1], foo: 2 }
`,
    'an optional base': `merge_method: linear
base_model: b0
models: [{ model: b0, parameters: { weight: 0.5 } }, { model: e1, parameters: { weight: 0.5 } }]
parameters: { normalize: false }
`,
  };
  for (const [what, text] of Object.entries(RECIPES)) {
    for (const source of ['mine', 'demo'] as const) {
      it(`${what}, on ${source === 'mine' ? 'your checkpoints' : 'the demo'}: every path of the parsed recipe is applied or listed`, () => {
        if (source === 'mine') onMine(['b0', 'e1', 'e2']);
        else onDemo();
        const recipe = parseRecipe(text, 'r.yml');
        const out = importRecipe(text, 'r.yml', useLabStore.getState());
        expectEveryPathDecided(recipe, out);
        expect(out.notes).toEqual(recipe.warnings);
        if (source === 'mine') expectRoundTrip(recipe, out, (m) => [m]);
      });
    }
  }

  it('lists a Recipe field the import does not know (one added to the parser later) as not applied', () => {
    onMine(['b0', 'e1', 'e2']);
    const recipe = { ...parseRecipe(DELLA, 'della.yml'), mergeOptions: { foo: 1 }, layerCount: 12 } as Recipe;
    const out = applyRecipe(recipe, useLabStore.getState());
    expectEveryPathDecided(recipe, out);
    expect(notAppliedLine(out, 'layerCount')).toMatch(/^layer_count: the lab's import does not read it/);
    expect(notAppliedLine(out, 'mergeOptions.foo')).toMatch(/^merge_options\.foo: /);
  });

  it('refuses a method the lab does not have, changing nothing', () => {
    onMine(['b0', 'e1']);
    const { st, spies } = spiedState();
    expect(() => importRecipe('merge_method: franken_merge\nmodels: [{ model: e1 }]\n', 'n.yml', st)).toThrow(/UNKNOWN_METHOD|not a method the lab has/);
    for (const spy of Object.values(spies)) expect(spy).not.toHaveBeenCalled();
  });
});

describe('the recipe the lab hands out, imported back', () => {
  it('names the dropped files, and reads back onto the same checkpoints with nothing left out', async () => {
    const { handedOutRecipe } = await import('../../src/app/store/engine-slice.js');
    onMine(['base', 'a', 'b']);
    useLabStore.getState().setMethod('ties');
    const text = recipeToYaml(handedOutRecipe(useLabStore.getState()));
    const handed = parseRecipe(text);
    expect(handed.baseModel).toBe('base.safetensors');
    expect(handed.models.map((m) => m.model)).toEqual(['a.safetensors', 'b.safetensors']);
    const out = importRecipe(text, 'merge-recipe.yml', useLabStore.getState());
    expect(out.notApplied).toEqual([]);
    expect(useLabStore.getState().dropped.map((d) => [d.id, d.role])).toEqual([
      ['base', 'base'],
      ['a', 'expert'],
      ['b', 'expert'],
    ]);
  });
});
