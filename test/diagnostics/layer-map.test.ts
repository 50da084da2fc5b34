/**
 * The per-layer map (layer-map.ts): element-count-weighted means per cell, the mean pairwise cosine
 * over experts that changed something, the marking rule, and diagnose() on tiny GPT-2 and Llama
 * checkpoints whose task vectors are written out by hand, so every cell's value is worked by hand.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/engine/diagnostics/diagnose.js';
import { cellValues, layerMap, markLayers, meanPairwiseCosine, type TensorStats } from '../../src/engine/diagnostics/layer-map.js';
import type { Checkpoint } from '../../src/engine/io/index.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { toyCheckpoint } from '../merge/helpers.js';

const MODELS = path.resolve(import.meta.dirname, '../fixtures/mergekit-recipes/models');

const C2 = (c: number) => [
  [1, c],
  [c, 1],
];

describe('meanPairwiseCosine', () => {
  it('averages the pairs of different experts', () => {
    expect(meanPairwiseCosine([[1, 0.5, -0.25], [0.5, 1, 0], [-0.25, 0, 1]])).toBeCloseTo(0.25 / 3, 15);
  });
  it('leaves out an expert whose task vector is zero (0 on its diagonal), and gives null without a pair', () => {
    expect(meanPairwiseCosine([[1, 0.5, 0], [0.5, 1, 0], [0, 0, 0]])).toBe(0.5);
    expect(meanPairwiseCosine([[1, 0], [0, 0]])).toBeNull();
    expect(meanPairwiseCosine([[1]])).toBeNull();
  });
});

describe('cellValues', () => {
  it('weights each tensor by its element count; cosine only over tensors with a pair', () => {
    const v = cellValues([
      { label: 'w', size: 16, conflictRate: 0.5, cosine: C2(0.25) },
      { label: 'b', size: 4, conflictRate: 0, cosine: C2(1) },
      { label: 'untouched', size: 20, conflictRate: 0, cosine: [[1, 0], [0, 0]] },
    ]);
    expect(v.size).toBe(40);
    expect(v.conflictRate).toBeCloseTo((16 * 0.5) / 40, 15);
    expect(v.cosine).toBeCloseTo((16 * 0.25 + 4 * 1) / 20, 15);
    expect(v.tensors).toEqual(['w', 'b', 'untouched']);
  });
});

describe('markLayers', () => {
  const row = (layer: number, conflictRate: number, cosine: number | null = 0) => ({ layer, conflictRate, cosine });
  it('marks the 3 highest conflict rates, ties to the lower cosine, then the lower layer', () => {
    const rows = [row(0, 0.1), row(1, 0.4, 0.2), row(2, 0.4, -0.1), row(3, 0.2), row(4, 0.3), row(5, 0.3), row(6, 0), row(7, 0.05)];
    expect(markLayers(rows)).toEqual([2, 1, 4]);
  });
  it('never more than half the layers, and never a layer without conflicts', () => {
    expect(markLayers([row(0, 0.1), row(1, 0.3), row(2, 0.2), row(3, 0)])).toEqual([1, 2]);
    expect(markLayers([row(0, 0.1), row(1, 0.3)])).toEqual([1]);
    expect(markLayers([row(0, 0.2)])).toEqual([]);
    expect(markLayers([row(0, 0), row(1, 0), row(2, 0), row(3, 0)])).toEqual([]);
  });
});

describe('layerMap', () => {
  const t = (name: string, size: number, conflictRate: number, cos: number | null): TensorStats => ({ name, size, conflictRate, cosine: cos === null ? [[1, 0], [0, 0]] : C2(cos) });
  it('places Llama tensors by layer and module; embeddings, head and unknown names apart', () => {
    const map = layerMap([
      t('model.embed_tokens.weight', 32, 0.25, 0.5),
      t('model.layers.0.self_attn.q_proj.weight', 16, 0.5, 0.25),
      t('model.layers.0.self_attn.q_proj.bias', 4, 0, 1),
      t('model.layers.0.mlp.down_proj.weight', 20, 0.1, -0.5),
      t('model.layers.1.self_attn.q_proj.weight', 16, 0.125, 0.75),
      t('model.layers.1.input_layernorm.weight', 4, 0, null),
      t('model.layers.1.self_attn.rotary_emb.inv_freq', 2, 0, null),
      t('model.norm.weight', 4, 0.75, 0),
      t('lm_head.weight', 32, 0.375, 0.125),
    ])!;
    expect(map.family).toBe('llama');
    expect(map.modules).toEqual(['q', 'down', 'attn_norm']);
    expect(map.cells.map((c) => [c.layer, c.module, c.size, c.tensors.length])).toEqual([
      [0, 'q', 20, 2],
      [0, 'down', 20, 1],
      [1, 'q', 16, 1],
      [1, 'attn_norm', 4, 1],
    ]);
    const q0 = map.cells[0]!;
    expect(q0.conflictRate).toBeCloseTo(0.4, 15);
    expect(q0.cosine).toBeCloseTo((16 * 0.25 + 4) / 20, 15);
    expect(map.cells[3]!.cosine).toBeNull();
    // Layer 0: (16·0.5 + 4·0 + 20·0.1) / 40; layer 1: 16·0.125 / 20.
    expect(map.layers.map((l) => [l.layer, l.size])).toEqual([
      [0, 40],
      [1, 20],
    ]);
    expect(map.layers[0]!.conflictRate).toBeCloseTo(10 / 40, 15);
    expect(map.layers[1]!.conflictRate).toBeCloseTo(2 / 20, 15);
    expect(map.marked).toEqual([0]);
    expect(map.layers.map((l) => l.marked)).toEqual([true, false]);
    expect(map.marking).toEqual({ by: 'conflictRate', count: 1 });
    expect(map.apart.map((a) => [a.part, a.tensors])).toEqual([
      ['embeddings', ['model.embed_tokens.weight']],
      ['final_norm', ['model.norm.weight']],
      ['lm_head', ['lm_head.weight']],
      ['other', ['model.layers.1.self_attn.rotary_emb.inv_freq']],
    ]);
  });

  it('is absent for checkpoints without a transformer layer (the digits demo)', () => {
    expect(layerMap([t('hidden.weight', 8, 0.5, 0), t('head.weight', 4, 0.5, 0)])).toBeUndefined();
    expect(layerMap([t('model.embed_tokens.weight', 8, 0.5, 0)])).toBeUndefined();
  });

  it('puts a fused c_attn reported without its parts (columns not in thirds) under "other"', () => {
    const map = layerMap([t('h.0.attn.c_attn.weight', 20, 0.5, 0), t('h.0.ln_1.weight', 4, 0, 1)])!;
    expect(map.family).toBe('gpt2');
    expect(map.apart.map((a) => a.part)).toEqual(['other']);
    expect(map.modules).toEqual(['attn_norm']);
  });
});

// ---- diagnose on hand-made checkpoints: base 0, so each expert's weights are its task vector ----

type Tensors = Record<string, { shape: number[]; data: number[] }>;
const toCheckpoint = (id: string, t: Tensors) => toyCheckpoint(id, Object.entries(t).map(([name, v]) => ({ name, shape: v.shape, data: Float32Array.from(v.data) })));
const zeros = (t: Tensors): Tensors => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { shape: v.shape, data: v.data.map(() => 0) }]));
const ones = (n: number) => Array.from({ length: n }, () => 1);

/**
 * GPT-2, n_embd 2: c_attn.weight is [2, 6], its columns q | k | v two by two. Expert b agrees with
 * a on q, disagrees on half of k and on all of v; layer 1 agrees everywhere.
 */
const GPT2_A: Tensors = {
  'transformer.wte.weight': { shape: [4, 2], data: ones(8) },
  'transformer.wpe.weight': { shape: [3, 2], data: ones(6) },
  'transformer.h.0.attn.c_attn.weight': { shape: [2, 6], data: ones(12) },
  'transformer.h.0.attn.c_attn.bias': { shape: [6], data: ones(6) },
  'transformer.h.0.attn.c_proj.weight': { shape: [2, 2], data: [1, 1, 1, 1] },
  'transformer.h.0.attn.bias': { shape: [1, 1, 2, 2], data: [1, 0, 1, 1] },
  'transformer.h.1.attn.c_attn.weight': { shape: [2, 6], data: ones(12) },
  'transformer.h.1.ln_1.weight': { shape: [2], data: [1, -1] },
  'transformer.ln_f.weight': { shape: [2], data: [1, 1] },
};
const GPT2_B: Tensors = {
  ...GPT2_A,
  'transformer.wte.weight': { shape: [4, 2], data: [1, 1, 1, 1, -1, -1, -1, -1] },
  // q: [1 1 | 1 1] agree; k: [−1 1 | 1 −1] half; v: [−1 −1 | −1 −1] all.
  'transformer.h.0.attn.c_attn.weight': { shape: [2, 6], data: [1, 1, -1, 1, -1, -1, 1, 1, 1, -1, -1, -1] },
  'transformer.h.0.attn.c_attn.bias': { shape: [6], data: [2, 2, 2, 2, 2, 2] },
  'transformer.h.0.attn.c_proj.weight': { shape: [2, 2], data: [1, -1, 1, 1] },
};

async function gpt2(): Promise<Map<string, Checkpoint>> {
  return new Map([
    ['base', await toCheckpoint('base', { ...zeros(GPT2_A), 'transformer.h.0.attn.bias': GPT2_A['transformer.h.0.attn.bias']! })],
    ['a', await toCheckpoint('a', GPT2_A)],
    ['b', await toCheckpoint('b', GPT2_B)],
  ]);
}

const TA = 'merge_method: task_arithmetic\nbase_model: base\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: b\n';

describe('diagnose → layerMap', () => {
  it('GPT-2: c_attn split into q, k, v by its column thirds, biases folded in, worked by hand', async () => {
    const d = await diagnose({ recipe: parseRecipe(TA), methods: METHODS, checkpoints: await gpt2() });
    const fused = d.tensors.find((x) => x.name === 'transformer.h.0.attn.c_attn.weight')!;
    // The whole tensor: 6 of 12 entries conflict; cosine (4 + 0 − 4) / 12.
    expect(fused.conflictRate).toBe(0.5);
    expect(fused.cosine[0]![1]).toBeCloseTo(0, 15);
    expect(fused.parts!.map((p) => [p.module, p.size, p.conflictRate])).toEqual([
      ['q', 4, 0],
      ['k', 4, 0.5],
      ['v', 4, 1],
    ]);
    expect(fused.parts!.map((p) => p.cosine[0]![1])).toEqual([1, 0, -1]);
    const map = d.layerMap!;
    expect(map.family).toBe('gpt2');
    expect(map.modules).toEqual(['q', 'k', 'v', 'o', 'attn_norm']);
    const cell = (layer: number, module: string) => map.cells.find((c) => c.layer === layer && c.module === module)!;
    // Weight (4 entries) and its bias third (2 entries, all agreeing, cosine 1).
    expect(cell(0, 'q')).toMatchObject({ size: 6, conflictRate: 0, tensors: ['transformer.h.0.attn.c_attn.weight [q]', 'transformer.h.0.attn.c_attn.bias [q]'] });
    expect(cell(0, 'q').cosine).toBeCloseTo(1, 15);
    expect(cell(0, 'k').conflictRate).toBeCloseTo(2 / 6, 15);
    expect(cell(0, 'k').cosine).toBeCloseTo(2 / 6, 15);
    expect(cell(0, 'v').conflictRate).toBeCloseTo(4 / 6, 15);
    expect(cell(0, 'v').cosine).toBeCloseTo(-2 / 6, 15);
    // c_proj: one of four entries conflicts; cos = (1 − 1 + 1 + 1) / 4.
    expect(cell(0, 'o')).toMatchObject({ size: 4, conflictRate: 0.25, cosine: 0.5 });
    expect(cell(1, 'q')).toMatchObject({ conflictRate: 0, cosine: 1 });
    // Layer 0 (c_attn weight and bias, c_proj): (12·0.5 + 6·0 + 4·0.25) / 22. Layer 1 agrees: layer 0 is marked.
    expect(map.layers[0]!.conflictRate).toBeCloseTo(7 / 22, 15);
    expect(map.layers[1]!.conflictRate).toBe(0);
    expect(map.marked).toEqual([0]);
    expect(map.apart.map((a) => [a.part, a.conflictRate, a.cosine])).toEqual([
      ['embeddings', 0.5, 0],
      ['positions', 0, 1],
      ['final_norm', 0, 1],
      // The causal-mask buffer: the same in every model, so no task vector and no cosine.
      ['other', 0, null],
    ]);
  });

  it('TIES: each part counts the fused tensor trimmed as one (mergekit trims c_attn whole), worked by hand', async () => {
    // Density 0.5 keeps 6 of 12 entries per expert: a keeps row 0 (12 … 7), b keeps −12, −11, 10, 9 of
    // row 0 and −7, −8 of row 1. Contested: row 0's q (12/−12, 11/−11: both conflict) and k (both agree).
    const a = { ...GPT2_A, 'transformer.h.0.attn.c_attn.weight': { shape: [2, 6], data: [12, 11, 10, 9, 8, 7, 1, 2, 3, 4, 5, 6] } };
    const b = { ...GPT2_A, 'transformer.h.0.attn.c_attn.weight': { shape: [2, 6], data: [-12, -11, 10, 9, 1, 2, 3, 4, 5, 6, -7, -8] } };
    const ckpts = new Map([
      ['base', await toCheckpoint('base', zeros(GPT2_A))],
      ['a', await toCheckpoint('a', a)],
      ['b', await toCheckpoint('b', b)],
    ]);
    const recipe = parseRecipe('merge_method: ties\nbase_model: base\nparameters: {density: 0.5}\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n');
    const d = await diagnose({ recipe, methods: METHODS, checkpoints: ckpts });
    const fused = d.tensors.find((x) => x.name === 'transformer.h.0.attn.c_attn.weight')!;
    expect(d.election).toBe(true);
    expect(fused.conflictRate).toBe(0.5);
    // The votes at the two conflicts are 0, so + wins and b's 12 and 11 are dropped: 23 of 114 (q: of 46).
    expect(fused.droppedMass).toBeCloseTo(23 / 114, 12);
    expect(fused.parts!.map((p) => [p.module, p.conflictRate, p.droppedMass])).toEqual([
      ['q', 1, 0.5],
      ['k', 0, 0],
      ['v', 0, 0],
    ]);
    // The cosines are of the untrimmed task vectors, per third.
    const cos = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0) / Math.hypot(...x) / Math.hypot(...y);
    expect(fused.parts![0]!.cosine[0]![1]).toBeCloseTo(cos([12, 11, 1, 2], [-12, -11, 3, 4]), 6);
    expect(fused.parts![2]!.cosine[0]![1]).toBeCloseTo(cos([8, 7, 5, 6], [1, 2, -7, -8]), 6);
  });

  it('Llama: every module of the mergekit fixture, embeddings, final norm and head apart', async () => {
    const ckpts = new Map(await Promise.all(['base', 'ft1', 'ft2'].map(async (id) => [id, await openCheckpointPath(path.join(MODELS, id))] as const)));
    const d = await diagnose({ recipe: parseRecipe('merge_method: ties\nbase_model: base\nparameters: {density: 0.5, weight: 1}\nmodels:\n  - model: ft1\n  - model: ft2\n'), methods: METHODS, checkpoints: ckpts });
    const map = d.layerMap!;
    expect(map.modules).toEqual(['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'attn_norm', 'mlp_norm']);
    expect(map.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3]);
    expect(map.cells).toHaveLength(36);
    expect(map.apart.map((a) => a.part)).toEqual(['embeddings', 'final_norm', 'lm_head']);
    // Each cell holds one tensor here: its values are the tensor's own.
    for (const c of map.cells) {
      const t = d.tensors.find((x) => x.name === c.tensors[0])!;
      expect(c.conflictRate).toBe(t.conflictRate);
      expect(c.cosine).toBe(t.cosine[0]![1]);
    }
    expect(map.marked).toHaveLength(2);
  });
});
