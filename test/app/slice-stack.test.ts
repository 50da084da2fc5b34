/**
 * The layer stack of one's own checkpoints (recipe/slice-stack.ts, store/stack-slice.ts): layer
 * counts from the headers, the strip and merged count, every problem named by slice, the `slices:`
 * recipe the Merge button sends (and the handed-out one, models named by their files), and the
 * store's editing actions. The merge itself is checked in test/e2e/slices.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { layerCount, stackLayers, stackProblems, stackRecipe, stackStrip, initialStack } from '../../src/app/recipe/slice-stack.js';
import { currentRecipe, handedOutRecipe } from '../../src/app/store/engine-slice.js';
import { useLabStore } from '../../src/app/store/index.js';
import type { DroppedModel, TensorHeader } from '../../src/app/store/types.js';

const layers = (n: number): TensorHeader[] => [
  { name: 'model.embed_tokens.weight', shape: [16, 8] },
  ...Array.from({ length: n }, (_, i) => ({ name: `model.layers.${i}.mlp.up_proj.weight`, shape: [12, 8] })),
  { name: 'model.norm.weight', shape: [8] },
];
const model = (id: string, n: number, role: DroppedModel['role'] = 'expert'): DroppedModel => ({ id, name: id, files: 1, role, status: 'ready', tensors: layers(n) });
const MODELS = [model('a', 8, 'base'), model('b', 6)];

describe('the layer stack', () => {
  it('counts a checkpoint’s layers from its tensor names', () => {
    expect(layerCount(layers(8))).toBe(8);
    expect(layerCount([{ name: 'transformer.h.11.attn.c_attn.weight', shape: [1] }, { name: 'transformer.wte.weight', shape: [1] }])).toBe(12);
    expect(layerCount([{ name: 'fc.weight', shape: [1] }])).toBe(0);
  });

  it('draws the merged layers in order, each from its model’s own layer, and counts them', () => {
    const slices = [
      { model: 'a', start: 6, end: 8 },
      { model: 'b', start: 0, end: 1 },
    ];
    expect(stackStrip(slices)).toEqual([
      { layer: 0, model: 'a', from: 6, slice: 0 },
      { layer: 1, model: 'a', from: 7, slice: 0 },
      { layer: 2, model: 'b', from: 0, slice: 1 },
    ]);
    expect(stackLayers(slices)).toBe(3);
  });

  it('names every problem by slice: a range past the model, an empty or reversed range, a model not among the checkpoints', () => {
    const problems = stackProblems(
      [
        { model: 'b', start: 2, end: 7 },
        { model: 'a', start: 4, end: 4 },
        { model: 'gone', start: 0, end: 1 },
      ],
      MODELS,
    );
    expect(problems).toEqual([
      'Slice 1: "b" has 6 layers (0 to 5), so the slice can end at 6 at most, not 7.',
      'Slice 2: its layers run from 4 up to 4; give a first layer from 0 and an end past it.',
      'Slice 3 takes layers of "gone", which is not among your checkpoints: choose another model.',
    ]);
    expect(stackProblems([], MODELS)).toEqual(['The layer stack has no slices: add one.']);
    expect(() => stackRecipe([{ model: 'b', start: 0, end: 9 }], MODELS)).toThrow(/Slice 1: "b" has 6 layers/);
  });

  it('is merged as a slices: recipe with passthrough, one source per slice', () => {
    const r = stackRecipe([{ model: 'a', start: 0, end: 4 }, { model: 'b', start: 2, end: 6 }, { model: 'a', start: 7, end: 8 }], MODELS, { dtype: 'bfloat16' });
    expect(r).toEqual({
      mergeMethod: 'passthrough',
      models: [{ model: 'a' }, { model: 'b' }],
      slices: [
        { sources: [{ model: 'a', layerRange: [0, 4] }] },
        { sources: [{ model: 'b', layerRange: [2, 6] }] },
        { sources: [{ model: 'a', layerRange: [7, 8] }] },
      ],
      dtype: 'bfloat16',
    });
  });

  it('starts from the base’s whole stack', () => {
    expect(initialStack([model('x', 3), model('a', 8, 'base')])).toEqual([{ model: 'a', start: 0, end: 8 }]);
  });
});

describe('the stack in the store', () => {
  const initial = useLabStore.getState();
  beforeEach(() => useLabStore.setState(initial, true));
  const st = () => useLabStore.getState();

  it('turned on, starts from the base and is what Merge merges and the downloaded recipe names by file; off, the method merges the models', () => {
    useLabStore.setState({ source: 'mine', dropped: [{ ...model('a', 8, 'base'), name: 'a-folder' }, model('b', 6)], method: 'ties' });
    expect(currentRecipe(st()).mergeMethod).toBe('ties');
    st().setStackEnabled(true);
    expect(st().stack.slices).toEqual([{ model: 'a', start: 0, end: 8 }]);
    st().setStackSlice(0, { end: 4 });
    st().addStackSlice();
    st().setStackSlice(1, { model: 'b', start: 2, end: 6 });
    expect(currentRecipe(st()).slices).toEqual([{ sources: [{ model: 'a', layerRange: [0, 4] }] }, { sources: [{ model: 'b', layerRange: [2, 6] }] }]);
    expect(handedOutRecipe(st()).slices!.map((s) => s.sources[0]!.model)).toEqual(['a-folder', 'b']);
    st().moveStackSlice(1, -1);
    expect(st().stack.slices.map((s) => s.model)).toEqual(['b', 'a']);
    st().removeStackSlice(0);
    expect(st().stack.slices).toEqual([{ model: 'a', start: 0, end: 4 }]);
    st().setStackEnabled(false);
    expect(currentRecipe(st()).mergeMethod).toBe('ties');
  });

  it('adds a slice of the last slice’s model from where it ends', () => {
    useLabStore.setState({ source: 'mine', dropped: MODELS });
    st().setStackEnabled(true);
    st().setStackSlice(0, { end: 5 });
    st().addStackSlice();
    expect(st().stack.slices).toEqual([
      { model: 'a', start: 0, end: 5 },
      { model: 'a', start: 5, end: 8 },
    ]);
  });
});
