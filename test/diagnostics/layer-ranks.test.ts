/**
 * Effective ranks for the per-layer map (layer-ranks.ts): task vectors written by hand whose
 * singular values are known (the identity: all equal, so rank n; an outer product: rank 1; zero:
 * none), GPT-2's fused c_attn per third, the experts' mean per cell weighted by element count,
 * the same number the spectrum chart gives, and the caches (no tensor read twice; the spectrum
 * chart's factorisations read).
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/api/engine.js';
import { factorCost, layerRanks, rankCells, type MatrixRanks, type RankCache } from '../../src/engine/diagnostics/layer-ranks.js';
import { taskVectorSpectra, type SpectrumCache } from '../../src/engine/diagnostics/spectrum.js';
import { writeSafetensorsToMemory, type Checkpoint } from '../../src/engine/io/index.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { toyCheckpoint } from '../merge/helpers.js';

type Tensors = Record<string, { shape: number[]; data: number[] }>;
const zerosOf = (t: Tensors): Tensors => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { shape: v.shape, data: v.data.map(() => 0) }]));
const identity = (n: number) => Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
/** 3·e1·e1ᵀ: one nonzero singular value. */
const rankOne = (n: number) => Array.from({ length: n * n }, (_, i) => (i === 0 ? 3 : 0));

/** Counts the tensors read, to show a cached call reads none. */
function counting(c: Checkpoint, reads: string[]): Checkpoint {
  return {
    name: c.name,
    tensorNames: c.tensorNames,
    metadata: c.metadata,
    info: (n) => c.info(n),
    readFloat32: (n) => (reads.push(`${c.name}:${n}`), c.readFloat32(n)),
    readRaw: (n) => c.readRaw(n),
    close: () => c.close(),
  };
}

async function checkpoints(models: Record<string, Tensors>, reads: string[] = []): Promise<Map<string, Checkpoint>> {
  const out = new Map<string, Checkpoint>();
  for (const [id, t] of Object.entries(models)) {
    out.set(id, counting(await toyCheckpoint(id, Object.entries(t).map(([name, v]) => ({ name, shape: v.shape, data: Float32Array.from(v.data) }))), reads));
  }
  return out;
}

const LLAMA_A: Tensors = {
  'model.embed_tokens.weight': { shape: [4, 2], data: [1, 0, 0, 1, 0, 0, 0, 0] },
  'model.layers.0.self_attn.q_proj.weight': { shape: [4, 4], data: identity(4) },
  'model.layers.0.input_layernorm.weight': { shape: [4], data: [1, 2, 3, 4] },
  'model.layers.1.self_attn.q_proj.weight': { shape: [4, 4], data: rankOne(4) },
};
const LLAMA_B: Tensors = {
  ...LLAMA_A,
  'model.embed_tokens.weight': { shape: [4, 2], data: [0, 0, 0, 0, 0, 0, 0, 0] },
  'model.layers.0.self_attn.q_proj.weight': { shape: [4, 4], data: rankOne(4) },
};
const RECIPE = parseRecipe('merge_method: task_arithmetic\nbase_model: base\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: b\n');

describe('rankCells', () => {
  it('averages the experts, then weights the cell’s matrices by element count; zero task vectors count nowhere', () => {
    const m = (name: string, size: number, ranks: (number | null)[]): MatrixRanks => ({ name, size, ranks });
    const { cells, apart } = rankCells([
      m('model.layers.0.self_attn.q_proj.weight', 16, [4, 1]),
      m('model.layers.0.mlp.up_proj.weight', 32, [null, 3]),
      m('model.layers.0.mlp.down_proj.weight', 32, [null, null]),
      m('model.embed_tokens.weight', 8, [2, 1]),
      { name: 'h.1.attn.c_attn.weight', size: 48, ranks: [], parts: [{ module: 'q', size: 16, ranks: [4, 2] }, { module: 'k', size: 16, ranks: [1, 1] }, { module: 'v', size: 16, ranks: [null, 2] }] },
      m('some.adapter.weight', 6, [1, 1]),
    ]);
    expect(cells.map((c) => [c.layer, c.module, c.size, c.effectiveRank])).toEqual([
      [0, 'q', 16, 2.5],
      [0, 'up', 32, 3],
      [0, 'down', 32, null],
      [1, 'q', 16, 3],
      [1, 'k', 16, 1],
      [1, 'v', 16, 2],
    ]);
    expect(cells[3]!.tensors).toEqual(['h.1.attn.c_attn.weight [q]']);
    expect(apart.map((a) => [a.part, a.effectiveRank])).toEqual([
      ['embeddings', 1.5],
      ['other', 1],
    ]);
  });
});

describe('layerRanks', () => {
  it('Llama: the identity has rank n, an outer product 1, a zero task vector none; vectors are left out', async () => {
    const r = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: await checkpoints({ base: zerosOf(LLAMA_A), a: LLAMA_A, b: LLAMA_B }) });
    expect(r.models).toEqual(['a', 'b']);
    expect(r.matrices.map((x) => x.name)).toEqual(['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.q_proj.weight']);
    const q0 = r.matrices[1]!.ranks;
    expect(q0[0]).toBeCloseTo(4, 12);
    expect(q0[1]).toBeCloseTo(1, 12);
    expect(r.matrices[0]!.ranks[1]).toBeNull();
    expect(r.cells.map((c) => [c.layer, c.module])).toEqual([
      [0, 'q'],
      [1, 'q'],
    ]);
    expect(r.cells[0]!.effectiveRank).toBeCloseTo(2.5, 12);
    expect(r.cells[1]!.effectiveRank).toBeCloseTo(1, 12);
    expect(r.apart.map((a) => a.part)).toEqual(['embeddings']);
    expect(r.apart[0]!.effectiveRank).toBeCloseTo(2, 12);
  });

  it('GPT-2: c_attn is ranked per third (q | k | v columns of each row)', async () => {
    // [4, 12]: q = I₄, k = 3·e1·e1ᵀ, v = 0 for expert a; b changes nothing.
    const row = (i: number) => [...identity(4).slice(4 * i, 4 * i + 4), ...rankOne(4).slice(4 * i, 4 * i + 4), 0, 0, 0, 0];
    const A: Tensors = { 'transformer.h.0.attn.c_attn.weight': { shape: [4, 12], data: [0, 1, 2, 3].flatMap(row) }, 'transformer.h.0.attn.c_attn.bias': { shape: [12], data: Array.from({ length: 12 }, () => 1) } };
    const r = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: await checkpoints({ base: zerosOf(A), a: A, b: zerosOf(A) }) });
    expect(r.matrices[0]!.parts!.map((p) => [p.module, p.size, p.ranks[1]])).toEqual([
      ['q', 16, null],
      ['k', 16, null],
      ['v', 16, null],
    ]);
    const [q, k, v] = r.cells;
    expect([q!.module, k!.module, v!.module]).toEqual(['q', 'k', 'v']);
    expect(q!.effectiveRank).toBeCloseTo(4, 12);
    expect(k!.effectiveRank).toBeCloseTo(1, 12);
    expect(v!.effectiveRank).toBeNull();
  });

  it('gives each matrix the effective rank the spectrum chart gives it', async () => {
    const noise = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * (1 + (i % 3)));
    const A: Tensors = { 'model.layers.0.mlp.up_proj.weight': { shape: [6, 5], data: noise(30, 1) } };
    const B: Tensors = { 'model.layers.0.mlp.up_proj.weight': { shape: [6, 5], data: noise(30, 2) } };
    const ckpts = await checkpoints({ base: zerosOf(A), a: A, b: B });
    const r = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts });
    const s = await taskVectorSpectra({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, tensor: 'model.layers.0.mlp.up_proj.weight' });
    expect(r.matrices[0]!.ranks).toEqual(s.models.map((x) => x.effectiveRank));
    expect(s.models[0]!.effectiveRank).toBeGreaterThan(1);
  });

  it('keeps its numbers (a second call reads no tensor) and reads the spectrum chart’s factorisations', async () => {
    const reads: string[] = [];
    const ckpts = await checkpoints({ base: zerosOf(LLAMA_A), a: LLAMA_A, b: LLAMA_B }, reads);
    const cache: RankCache = new Map();
    const first = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, cache });
    expect(reads.length).toBeGreaterThan(0);
    reads.length = 0;
    expect(await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, cache })).toEqual(first);
    expect(reads).toEqual([]);

    // A factorisation the spectrum chart kept for layer 0's q of expert a is read, not recomputed:
    // this one (made up) has a single nonzero singular value, so rank 1 where the tensor has 4.
    const spectra: SpectrumCache = new Map();
    await taskVectorSpectra({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, tensor: 'model.layers.0.self_attn.q_proj.weight', cache: spectra });
    const key = [...spectra.keys()].find((k) => k.includes('\u0000a\u0000'))!;
    const kept = spectra.get(key)!;
    spectra.set(key, { ...kept, svd: { ...kept.svd, s: Float64Array.from([2, 0, 0, 0]) } });
    const fromSpectra = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, spectra });
    expect(fromSpectra.matrices[1]!.ranks[0]).toBe(1);
    expect(fromSpectra.cells[0]!.effectiveRank).toBe(1);
  });

  it('ranks nothing, reading no tensor, when the factorisations would cost more than the budget', async () => {
    const reads: string[] = [];
    const ckpts = await checkpoints({ base: zerosOf(LLAMA_A), a: LLAMA_A, b: LLAMA_B }, reads);
    // Two experts × (embeddings [4, 2], two [4, 4] q's): exact Jacobi, 8·m·n·min(m, n) each.
    const total = 2 * (factorCost(4, 2) + 2 * factorCost(4, 4));
    expect(total).toBe(2 * (8 * 4 * 2 * 2 + 2 * 8 * 4 * 4 * 4));
    const over = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, budget: { total: total - 1, matrix: 1e9 } });
    expect(over.tooLarge).toEqual({ multiplyAdds: total, largest: factorCost(4, 4), budget: total - 1, matrixBudget: 1e9 });
    expect(over.cells).toEqual([]);
    expect(reads).toEqual([]);
    const oneTooLarge = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, budget: { total, matrix: factorCost(4, 4) - 1 } });
    expect(oneTooLarge.tooLarge?.largest).toBe(factorCost(4, 4));
    const within = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: ckpts, budget: { total, matrix: factorCost(4, 4) } });
    expect(within.tooLarge).toBeUndefined();
    expect(within.cells).toHaveLength(2);
    // A large matrix is costed on the randomized path: ten passes and a QR per pass of the 138-wide
    // sketch, on the SIMD kernels at a sixth of the exact path's cost per multiply-add.
    expect(factorCost(576, 1536)).toBe((10 * 576 * 1536 * 138 + 10 * (576 + 1536) * 138 * 138) / 6);
    expect(factorCost(1536, 576)).toBeLessThan(1e9);
    expect(factorCost(2048, 2048)).toBeGreaterThan(1e9);
  });

  it('by default, ranks no model with a 2048 × 2048 matrix (over the one-matrix budget), reading nothing', async () => {
    const reads: string[] = [];
    // Headers only: a read would throw, and be counted.
    const big = (id: string): Checkpoint => ({
      name: id,
      tensorNames: ['model.layers.0.mlp.up_proj.weight'],
      metadata: {},
      info: (n) => (n === 'model.layers.0.mlp.up_proj.weight' ? { name: n, dtype: 'F32', shape: [2048, 2048], begin: 0, end: 2048 * 2048 * 4 } : undefined),
      readFloat32: async (n) => (reads.push(n), Promise.reject(new Error('read'))),
      readRaw: async (n) => (reads.push(n), Promise.reject(new Error('read'))),
      close: async () => undefined,
    });
    const r = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: new Map(['base', 'a', 'b'].map((id) => [id, big(id)])) });
    expect(r.tooLarge).toEqual({ multiplyAdds: 2 * factorCost(2048, 2048), largest: factorCost(2048, 2048), budget: 1e10, matrixBudget: 1e9 });
    expect(reads).toEqual([]);
  });

  it('by default, ranks a SmolLM-135M-sized MLP matrix (1536 × 576): the randomized path is within the budget', async () => {
    const big: Tensors = { 'model.layers.0.mlp.up_proj.weight': { shape: [1536, 576], data: Array.from({ length: 1536 * 576 }, (_, i) => (i % 7) - 3) } };
    const r = await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: await checkpoints({ base: zerosOf(big), a: big, b: big }) });
    expect(r.tooLarge).toBeUndefined();
    expect(r.matrices[0]!.ranks.every((x) => typeof x === 'number' && x > 1)).toBe(true);
  });

  it('needs a base model', async () => {
    const recipe = parseRecipe('merge_method: task_arithmetic\nparameters: {weight: 1}\nmodels:\n  - model: a\n  - model: b\n');
    await expect(layerRanks({ recipe, methods: METHODS, checkpoints: await checkpoints({ a: LLAMA_A, b: LLAMA_B }) })).rejects.toMatchObject({ code: 'BASE_MODEL_REQUIRED' });
  });

  it('through the engine: the same numbers as plain data, kept until a model is opened again', async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    const open = async (id: string, t: Tensors) => {
      const bytes = await writeSafetensorsToMemory(Object.entries(t).map(([name, v]) => ({ name, dtype: 'F32' as const, shape: v.shape, data: Float32Array.from(v.data) })));
      await engine.models.openModel(id, [{ path: `${id}/model.safetensors`, blob: new Blob([bytes as Uint8Array<ArrayBuffer>]) }]);
    };
    await open('base', zerosOf(LLAMA_A));
    await open('a', LLAMA_A);
    await open('b', LLAMA_B);
    const viaApi = await engine.diagnostics.layerRanks(RECIPE);
    expect(viaApi).toEqual(await layerRanks({ recipe: RECIPE, methods: METHODS, checkpoints: await checkpoints({ base: zerosOf(LLAMA_A), a: LLAMA_A, b: LLAMA_B }) }));
    expect(JSON.parse(JSON.stringify(viaApi))).toEqual(viaApi);
    expect((await engine.diagnostics.diagnose(RECIPE)).layerMap?.cells.map((c) => `${c.layer}/${c.module}`)).toEqual(['0/q', '0/attn_norm', '1/q']);
    // b opened again with other weights (its layer-0 q now the identity): the kept ranks go.
    await open('b', { ...LLAMA_B, 'model.layers.0.self_attn.q_proj.weight': { shape: [4, 4], data: identity(4) } });
    expect((await engine.diagnostics.layerRanks(RECIPE)).cells[0]!.effectiveRank).toBeCloseTo(4, 12);
  });
});
