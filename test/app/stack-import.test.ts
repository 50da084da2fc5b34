/**
 * A `slices:` recipe imported on one's own checkpoints loads into the layer stack (issue 18, item
 * 4): plain slices as the editor's model and range, a slice that merges several sources (or sets
 * parameters or a base_model) kept whole and merged with the recipe's method and settings, so the
 * recipe the lab merges and hands out afterwards says what the imported one said. Every slice is
 * applied or named with the reason; on the demo, slices are not read, with the reason.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { applyRecipe, importRecipe } from '../../src/app/recipe/import-recipe.js';
import { stackFromRecipe, stackProblems, stackStrip } from '../../src/app/recipe/slice-stack.js';
import { currentRecipe, handedOutRecipe } from '../../src/app/store/engine-slice.js';
import { useLabStore } from '../../src/app/store/index.js';
import type { DroppedModel, TensorHeader } from '../../src/app/store/types.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { recipeToYaml } from '../../src/engine/recipe/write.js';

const layers = (n: number): TensorHeader[] => [
  { name: 'model.embed_tokens.weight', shape: [16, 8] },
  ...Array.from({ length: n }, (_, i) => ({ name: `model.layers.${i}.mlp.up_proj.weight`, shape: [12, 8] })),
  { name: 'model.norm.weight', shape: [8] },
];
const model = (id: string, n: number, role: DroppedModel['role'] = 'expert'): DroppedModel => ({ id, name: id, files: 1, role, status: 'ready', tensors: layers(n) });

const initial = useLabStore.getState();
const st = () => useLabStore.getState();
beforeEach(() => useLabStore.setState(initial, true));
function onMine(): void {
  useLabStore.setState({ source: 'mine', dropped: [model('a', 4, 'base'), model('b', 4)] });
}
/** The recipe as the engine's parser reads `text`, imported into the store. */
function imported(text: string) {
  const recipe = parseRecipe(text, 'r.yml');
  return { recipe, out: importRecipe(recipe, 'r.yml', st()) };
}

const PLAIN = `slices:
  - sources:
      - model: a
        layer_range: [0, 3]
  - sources:
      - model: b
        layer_range: [1, 4]
merge_method: passthrough
`;

const MERGED = `slices:
  - sources:
      - model: a
        layer_range: [0, 2]
  - sources:
      - model: a
        layer_range: [1, 4]
      - model: b
        layer_range: [1, 4]
        parameters:
          weight: 0.3
    parameters:
      t: 0.5
merge_method: slerp
base_model: a
parameters:
  t: 0.2
dtype: float32
`;

describe('a slices: recipe imported', () => {
  it('loads a passthrough stack into the editor, and the lab hands the same recipe back', () => {
    onMine();
    const { recipe, out } = imported(PLAIN);
    expect(out.notApplied).toEqual([]);
    expect(out.applied).toContain('the layer stack on: 2 slices');
    expect(st().stack).toEqual({
      enabled: true,
      slices: [
        { model: 'a', start: 0, end: 3 },
        { model: 'b', start: 1, end: 4 },
      ],
    });
    expect(stackProblems(st().stack.slices, st().dropped)).toEqual([]);
    expect(recipeToYaml(handedOutRecipe(st()))).toBe(recipeToYaml(recipe));
  });

  it('keeps a slice that merges two sources whole, merged with the recipe’s method and settings, and hands it back as it was', () => {
    onMine();
    const { recipe, out } = imported(MERGED);
    expect(out.notApplied).toEqual([]);
    expect(out.applied).toContain('slice 2: "a" [1, 4] and "b" [1, 4] (kept whole in the layer stack, merged with slerp)');
    const [first, second] = st().stack.slices;
    expect(first!.model).toBe('a');
    expect(second).toMatchObject({ model: 'a', start: 1, end: 4, imported: { method: 'slerp', baseModel: 'a', parameters: { t: 0.2 } } });
    const back = currentRecipe(st());
    expect([back.mergeMethod, back.baseModel, back.parameters, back.slices]).toEqual([recipe.mergeMethod, recipe.baseModel, recipe.parameters, recipe.slices]);
    expect(parseRecipe(recipeToYaml(handedOutRecipe(st())), 'back.yml')).toEqual(recipe);
    // The strip shows the merged slice's layers with both sources.
    expect(stackStrip(st().stack.slices)[3]).toEqual({ layer: 3, model: 'a', from: 2, slice: 1, sources: [{ model: 'a', from: 2 }, { model: 'b', from: 2 }] });
  });

  it('does not edit a slice kept whole; the slices left keep the recipe’s merge, and a stack of plain slices is passthrough', () => {
    onMine();
    imported(MERGED);
    st().setStackSlice(1, { model: 'b', start: 0 });
    expect(st().stack.slices[1]).toMatchObject({ model: 'a', start: 1, end: 4 });
    st().removeStackSlice(1);
    // mergekit merges every slice with the top-level method, so the one left still says slerp.
    expect([currentRecipe(st()).mergeMethod, currentRecipe(st()).slices]).toEqual(['slerp', [{ sources: [{ model: 'a', layerRange: [0, 2] }] }]]);
    st().removeStackSlice(0);
    st().addStackSlice();
    expect([currentRecipe(st()).mergeMethod, currentRecipe(st()).slices]).toEqual(['passthrough', [{ sources: [{ model: 'a', layerRange: [0, 4] }] }]]);
  });

  it('names a slice whose model is not loaded, and the stack names the problem', () => {
    onMine();
    const { out } = imported(PLAIN.replace('model: b', 'model: c'));
    expect(out.notApplied).toEqual(['model "c" is not loaded (add it under Models)', expect.stringMatching(/^slice 2: "c" \[1, 4\]: "c" not loaded/)]);
    expect(stackProblems(st().stack.slices, st().dropped)).toEqual(['Slice 2 takes layers of "c", which is not among your checkpoints: choose another model.']);
    expect(() => currentRecipe(st())).toThrow(/Slice 2 takes layers of "c"/);
  });

  it('names sources of one slice that give different numbers of layers', () => {
    const stack = stackFromRecipe(parseRecipe(MERGED, 'r.yml'));
    const uneven = stack.map((s, i) => (i === 1 && s.imported ? { ...s, imported: { ...s.imported, slice: { ...s.imported.slice, sources: [s.imported.slice.sources[0]!, { model: 'b', layerRange: [0, 4] as const }] } } } : s));
    expect(stackProblems(uneven, [model('a', 4), model('b', 4)])).toEqual(['Slice 2: its sources give 3 and 4 layers; every source of a slice must give as many.']);
  });

  it('names a modules: recipe’s modules as not read, and leaves the stack off', () => {
    onMine();
    const out = applyRecipe(parseRecipe('modules:\n  text_decoder:\n    slices:\n      - sources: [{model: b, layer_range: [2, 3]}]\nmerge_method: passthrough\n', 'm.yml'), st());
    expect(out.notApplied).toContain("module text_decoder: the lab's layer stack holds the slices of one model; a modules: recipe runs in merge-lab merge");
    expect(st().stack.enabled).toBe(false);
  });

  it('on the demo, says the layer stack is for your own checkpoints', () => {
    useLabStore.setState({ source: 'demo' });
    const out = applyRecipe(parseRecipe(PLAIN, 'r.yml'), st());
    expect(out.notApplied.filter((t) => t.startsWith('slice '))).toEqual([
      "slice 1: the layer stack is for your own checkpoints (the demo's models have no layers to stack)",
      "slice 2: the layer stack is for your own checkpoints (the demo's models have no layers to stack)",
    ]);
    expect(st().stack.enabled).toBe(false);
  });
});
