/**
 * diagnose() on tiny in-memory checkpoints: per-tensor parameters resolved by the planner (filters,
 * gradients), cross-checked against the TIES merge itself (the kept mass is what the merge adds to
 * the base), layers, non-TIES methods, and the EngineApi over opened models.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/api/engine.js';
import { diagnose } from '../../src/engine/diagnostics/diagnose.js';
import { pairwiseCosine } from '../../src/engine/diagnostics/task-similarity.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { writeSafetensorsToMemory, type Checkpoint } from '../../src/engine/io/index.js';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import { LAYOUT, toyCheckpoint } from '../merge/helpers.js';

/** Seeded values in [−1, 1): models share the base plus their own noise (task vectors of mixed sign). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  });
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const model = (seed: number) => LAYOUT.map((t, k) => ({ ...t, data: seed === 0 ? values(size(t.shape), 100 + k) : values(size(t.shape), 100 + k).map((x, i) => x + 0.1 * values(size(t.shape), seed * 31 + k)[i]!) }));
const IDS = ['base', 'a', 'b', 'c'] as const;

async function checkpoints(): Promise<Map<string, Checkpoint>> {
  return new Map(await Promise.all(IDS.map(async (id, seed) => [id, await toyCheckpoint(id, model(seed))] as const)));
}

// Densities per model, through a filter and a gradient: the planner resolves them per tensor.
const ties = (extra = '') => `models:
  - model: a
    parameters: {weight: 1, density: [{filter: mlp, value: 0.3}, {value: 0.6}]}
  - model: b
    parameters: {weight: 0.7, density: [0.3, 0.9]}
  - model: c
    parameters: {weight: 1.3, density: 0.5}
merge_method: ties
base_model: base
parameters: {normalize: false${extra}}
`;

describe('diagnose', () => {
  it('matches the TIES merge: 1 − droppedMass = Σ|merged − base| / Σ|w·τ′| per tensor', async () => {
    const ckpts = await checkpoints();
    const d = await diagnose({ recipe: parseRecipe(ties()), methods: METHODS, checkpoints: ckpts });
    expect(d.models).toEqual(['a', 'b', 'c']);
    expect(d.election).toBe(true);
    const merged = await mergeToMemory({ recipe: parseRecipe(ties()), methods: METHODS, checkpoints: ckpts });
    // Each model alone through the same merge gives its own w·τ′ (nothing to elect against).
    const alone = await Promise.all(
      ['a', 'b', 'c'].map((m) => {
        const only = ties().replace(/ {2}- model: (\w)\n {4}parameters: \{[^\n]*\}\n/g, (all, id) => (id === m ? all : ''));
        return mergeToMemory({ recipe: parseRecipe(only), methods: METHODS, checkpoints: ckpts });
      }),
    );
    for (const t of d.tensors) {
      const base = await ckpts.get('base')!.readFloat32(t.name);
      const l1 = (x: Float32Array) => x.reduce((s, v, i) => s + Math.abs(v - base[i]!), 0);
      const mass = alone.reduce((s, m) => s + l1(m[t.name]!), 0);
      expect(1 - t.droppedMass).toBeCloseTo(l1(merged[t.name]!) / mass, 4);
      expect(t.conflictRate).toBeGreaterThan(0);
      expect(t.conflictRate).toBeLessThanOrEqual(1);
      expect(t.size).toBe(size(LAYOUT.find((x) => x.name === t.name)!.shape));
      // Cosine is of the untrimmed task vectors.
      const taus = await Promise.all(['a', 'b', 'c'].map(async (m) => (await ckpts.get(m)!.readFloat32(t.name)).map((v, i) => v - base[i]!)));
      const want = pairwiseCosine(taus);
      t.cosine.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 6)));
    }
  });
  it('reports layers from the tensor names, pooled; tensors outside the stack have no layer', async () => {
    const d = await diagnose({ recipe: parseRecipe(ties()), methods: METHODS, checkpoints: await checkpoints() });
    expect(d.layers.map((l) => l.layer)).toEqual([0, 1]);
    expect(d.tensors.find((t) => t.name === 'model.embed_tokens.weight')!.layer).toBeUndefined();
    expect(d.tensors.find((t) => t.name === 'model.layers.1.mlp.up_proj.weight')!.layer).toBe(1);
    for (const l of d.layers) {
      const rates = d.tensors.filter((t) => t.layer === l.layer).map((t) => t.conflictRate);
      expect(l.conflictRate).toBeGreaterThanOrEqual(Math.min(...rates) - 1e-12);
      expect(l.conflictRate).toBeLessThanOrEqual(Math.max(...rates) + 1e-12);
    }
    const all = d.tensors.map((t) => t.conflictRate);
    expect(d.overall.conflictRate).toBeGreaterThanOrEqual(Math.min(...all));
    expect(d.overall.conflictRate).toBeLessThanOrEqual(Math.max(...all));
    expect(d.overall.cosine.map((r, i) => r[i])).toEqual([1, 1, 1]);
  });
  it('density 1 vs trimmed; non-TIES methods report untrimmed conflicts and drop nothing', async () => {
    const ckpts = await checkpoints();
    const dense = ties().replace(/density: .*\}$/gm, 'density: 1}');
    const full = await diagnose({ recipe: parseRecipe(dense), methods: METHODS, checkpoints: ckpts });
    const trimmed = await diagnose({ recipe: parseRecipe(ties()), methods: METHODS, checkpoints: ckpts });
    const ta = await diagnose({ recipe: parseRecipe(dense.replace('merge_method: ties', 'merge_method: task_arithmetic').replace('{normalize: false}', '{}')), methods: METHODS, checkpoints: ckpts });
    expect(ta.election).toBe(false);
    expect(ta.overall.droppedMass).toBe(0);
    // With positive weights the signs of w·τ are those of τ: the same conflicts as TIES at density 1.
    expect(ta.overall.conflictRate).toBeCloseTo(full.overall.conflictRate, 12);
    expect(trimmed.overall.conflictRate).not.toBeCloseTo(full.overall.conflictRate, 3);
    expect(trimmed.overall.cosine).toEqual(full.overall.cosine);
    // Three independent noise vectors: about half of all contested entries disagree somewhere.
    expect(full.overall.conflictRate).toBeGreaterThan(0.5);
  });
  it('conflict rate 0 when every task vector has the same signs', async () => {
    const base = LAYOUT.map((t) => ({ ...t, data: values(size(t.shape), 5) }));
    const up = (k: number) => base.map((t, j) => ({ ...t, data: t.data.map((x, i) => x + k * (0.01 + Math.abs(values(size(t.shape), 50 + j)[i]!))) }));
    const ckpts = new Map([
      ['base', await toyCheckpoint('base', base)],
      ['a', await toyCheckpoint('a', up(1))],
      ['b', await toyCheckpoint('b', up(2))],
    ]);
    const d = await diagnose({ recipe: parseRecipe('models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 1, density: 0.5}\nmerge_method: ties\nbase_model: base\n'), methods: METHODS, checkpoints: ckpts });
    expect(d.overall).toMatchObject({ conflictRate: 0, droppedMass: 0 });
    expect(d.overall.cosine[0]![1]).toBeCloseTo(1, 6);
  });
  it('needs a base model, and reports the planner problems', async () => {
    const ckpts = await checkpoints();
    const noBase = 'models:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\nmerge_method: linear\n';
    await expect(diagnose({ recipe: parseRecipe(noBase), methods: METHODS, checkpoints: ckpts })).rejects.toMatchObject({ code: 'BASE_MODEL_REQUIRED' });
    const noWeight = ties().replace('{weight: 1.3, density: 0.5}', '{density: 0.5}');
    await expect(diagnose({ recipe: parseRecipe(noWeight), methods: METHODS, checkpoints: ckpts })).rejects.toMatchObject({ code: 'MISSING_PARAMETER' });
  });
});

describe('EngineApi.diagnose over opened models', () => {
  it('gives the same numbers as diagnose() on the checkpoints, as plain data', async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    for (const [seed, id] of IDS.entries()) {
      const bytes = await writeSafetensorsToMemory(model(seed).map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })));
      await engine.models.openModel(id, [{ path: `${id}/model.safetensors`, blob: new Blob([bytes as Uint8Array<ArrayBuffer>]) }]);
    }
    const viaApi = await engine.diagnostics.diagnose(ties());
    const direct = await diagnose({ recipe: parseRecipe(ties()), methods: METHODS, checkpoints: await checkpoints() });
    expect(viaApi).toEqual(direct);
    expect(JSON.parse(JSON.stringify(viaApi))).toEqual(viaApi);
    const err = await engine.diagnostics.diagnose(ties().replace('model: c', 'model: nope')).catch((e: unknown) => e);
    expect(isMergeLabError(err) && err.code).toBe('PATH_NOT_FOUND');
    expect(String((err as Error).message)).toContain('"nope"');
  });
});
