/**
 * Twin-Merging without data, on checkpoints built in the test: the shared expert equals the
 * recipe's merge (task arithmetic or TIES), the factors equal decomposing the in-memory deltas,
 * reconstruction error falls with rank to 0 at full rank, and storage follows its formula.
 */
import { describe, expect, it } from 'vitest';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { buildTwinPackage, compressCheckpoints, compressExclusive, readTwinPackage, taskArithmeticRecipe } from '../../src/engine/methods/twin/index.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { expectCode } from '../io/helpers.js';
import { toyCheckpoint, type ToyTensor } from '../merge/helpers.js';

const LAYOUT: ToyTensor[] = [
  { name: 'model.layers.0.mlp.up_proj.weight', shape: [12, 6] },
  { name: 'model.layers.0.mlp.up_proj.bias', shape: [12] },
  { name: 'lm_head.weight', shape: [5, 12] },
];

async function setup() {
  const checkpoints = new Map([
    ['base', await toyCheckpoint('base', LAYOUT, 0)],
    ['ft1', await toyCheckpoint('ft1', LAYOUT, 1)],
    ['ft2', await toyCheckpoint('ft2', LAYOUT, 2)],
    ['ft3', await toyCheckpoint('ft3', LAYOUT, 3)],
  ]);
  const read = async (model: string) => Object.fromEntries(await Promise.all(LAYOUT.map(async (t) => [t.name, await checkpoints.get(model)!.readFloat32(t.name)] as const)));
  return { checkpoints, experts: { ft1: await read('ft1'), ft2: await read('ft2'), ft3: await read('ft3') } };
}

describe('Twin-Merging without data', () => {
  it('builds θ* from the recipe and the same factors as decomposing in memory; errors fall with rank', async () => {
    const { checkpoints, experts } = await setup();
    const recipe = taskArithmeticRecipe('base', ['ft1', 'ft2', 'ft3'], 0.3);
    const progress: string[] = [];
    const out = await compressCheckpoints({ recipe, checkpoints, choice: { rank: 2 }, ranks: [1, 2, 4, 6], onProgress: (i, n, name) => progress.push(`${i}/${n} ${name}`) });
    expect(out.tasks).toEqual(['ft1', 'ft2', 'ft3']);
    expect(progress).toEqual(['1/3 model.layers.0.mlp.up_proj.weight', '2/3 model.layers.0.mlp.up_proj.bias', '3/3 lm_head.weight']);
    expect(out.shared).toEqual(await mergeToMemory({ recipe, methods: METHODS, checkpoints }));
    const inMemory = compressExclusive(out.shared, experts, out.tensors, { rank: 2 });
    expect(out.exclusive.parts).toEqual(inMemory.parts);

    const up = out.report.tensors[0]!;
    expect(up).toMatchObject({ kind: 'lowrank', shape: [12, 6], chosenRanks: [2, 2, 2] });
    for (const errs of up.errors!) {
      for (let i = 1; i < errs.length; i++) expect(errs[i]!).toBeLessThanOrEqual(errs[i - 1]! + 1e-12);
      expect(errs.at(-1)!).toBeLessThan(1e-6); // rank 6 = min(12, 6): exact
    }
    expect(out.report.tensors[1]).toEqual({ name: 'model.layers.0.mlp.up_proj.bias', shape: [12], kind: 'dense' });
    // A matrix costs min(r·(m + n), m·n) per task: up_proj (12 × 6) is whole from rank 4, lm_head (5 × 12) from rank 4.
    const model = 72 + 12 + 60;
    expect(out.report.storage.map((s) => s.values)).toEqual([1, 2, 4, 6].map((r) => model + 3 * (Math.min(r * 18, 72) + 12 + Math.min(r * 17, 60))));
    expect(out.report.storage[0]).toMatchObject({ rank: 1, experts: 3 * model, bytes: 4 * (model + 3 * (18 + 12 + 17)) });

    // It packages without a router, and reads back.
    const pkg = buildTwinPackage({ tasks: out.tasks, hardTasks: [], tensors: out.tensors, shared: out.shared, exclusive: out.exclusive, temperature: 1, topK: 3, sharedRecipe: recipe });
    expect((await readTwinPackage(pkg.files)).exclusive.parts).toEqual(out.exclusive.parts);
  });

  it('any engine method makes the shared expert (TIES here), and ranks can follow an energy share', async () => {
    const { checkpoints } = await setup();
    const recipe: Recipe = { mergeMethod: 'ties', baseModel: 'base', models: ['ft1', 'ft2', 'ft3'].map((model) => ({ model, parameters: { weight: 1, density: 0.5 } })), parameters: { lambda: 1 } };
    const out = await compressCheckpoints({ recipe, checkpoints, choice: { energy: 0.9 }, ranks: [1, 2] });
    expect(out.shared).toEqual(await mergeToMemory({ recipe, methods: METHODS, checkpoints }));
    for (const [ti] of out.tasks.entries()) {
      const p = out.exclusive.parts[ti]![0]!;
      expect(p.kind === 'lowrank' && p.energy).toBeGreaterThanOrEqual(0.9 - 1e-12);
    }
  });

  it('keeps excluded tensors out of θ* and the factors: each task stores its own, rebuilt exactly', async () => {
    const { checkpoints, experts } = await setup();
    const recipe = taskArithmeticRecipe('base', ['ft1', 'ft2', 'ft3'], 0.3);
    const out = await compressCheckpoints({ recipe, checkpoints, choice: { rankRatio: 0.5 }, ranks: [1], exclude: ['lm_head', 'bias'] });
    expect(Object.keys(out.shared)).toEqual(['model.layers.0.mlp.up_proj.weight']);
    expect(out.exclusive.excluded).toEqual(['model.layers.0.mlp.up_proj.bias', 'lm_head.weight']);
    expect(out.report.tensors.map((t) => t.kind)).toEqual(['lowrank', 'own', 'own']);
    // rank_ratio 0.5 of min(12, 6) = 3.
    expect(out.report.tensors[0]!.chosenRanks).toEqual([3, 3, 3]);
    out.tasks.forEach((task, ti) => {
      for (const j of [1, 2]) {
        const p = out.exclusive.parts[ti]![j]!;
        expect(p.kind === 'own' && Array.from(p.values)).toEqual(Array.from(experts[task as 'ft1'][out.tensors[j]!.name]!));
      }
    });
    // Storage: θ*'s up_proj + 3 × (3 · 18 factors + 12 + 60 own values).
    expect(out.report.storage[0]!.values).toBe(72 + 3 * (18 + 12 + 60));
  });

  it('says which expert or tensor is missing', async () => {
    const { checkpoints } = await setup();
    await expectCode(compressCheckpoints({ recipe: taskArithmeticRecipe('base', ['ft1', 'ft2']), checkpoints, tasks: ['ft9'] }), 'PATH_NOT_FOUND', 'ft9');
    const short = new Map(checkpoints);
    short.set('ft3', await toyCheckpoint('ft3', LAYOUT.slice(0, 2), 3));
    await expectCode(compressCheckpoints({ recipe: taskArithmeticRecipe('base', ['ft1', 'ft2']), checkpoints: short, tasks: ['ft1', 'ft3'] }), 'TENSOR_MISSING', 'Expert "ft3"', 'lm_head.weight');
    await expectCode(compressCheckpoints({ recipe: taskArithmeticRecipe('base', ['ft1']), checkpoints, ranks: [0] }), 'PARAMETER_OUT_OF_RANGE', 'ranks');
  });
});
