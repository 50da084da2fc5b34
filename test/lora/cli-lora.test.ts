/**
 * LoRA adapters through the real `merge-lab merge`: a recipe naming `base+adapter` (mergekit's
 * syntax), or the adapter folder alone (its base from adapter_config.json), merges exactly as the
 * same recipe naming the model that peft's merge_and_unload would have written
 * (test/fixtures/lora/expected/, from scripts/lora-fixture.py); `--lora-merge-dtype` changes the
 * dtype the adapter is applied in; `--random-seed` overrides the recipe's random_seed. Broken
 * LoRA references fail cleanly, on one line naming the model and file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/engine/errors.js';
import { REPO, TINY_CONFIG, Workspace, failureProblems, memo, mergeArgs, runCliAsync, withCheckpoint, type CliResult } from '../cli/helpers.js';

const FIX = path.join(REPO, 'test/fixtures/lora');
const MODELS = path.join(REPO, 'test/fixtures/mergekit-recipes/models');
const BASE = path.join(MODELS, 'base');
const BASE_BF16 = path.join(FIX, 'base-bf16');
const ADAPTER = path.join(FIX, 'adapter');
const EXPECTED = (name: string) => path.join(FIX, 'expected', name);

let ws: Workspace;

/** TIES over ft1 and the LoRA model (any per-tensor method would do; TIES also sorts). */
const ties = (base: string, lora: string, extra: object = {}) => ({
  merge_method: 'ties',
  base_model: base,
  models: [
    { model: path.join(MODELS, 'ft1'), parameters: { weight: 0.5, density: 0.6 } },
    { model: lora, parameters: { weight: 0.7, density: 0.6 } },
  ],
  parameters: { normalize: true },
  ...extra,
});
const dare = (extra: object = {}) => ({
  merge_method: 'dare_ties',
  base_model: BASE,
  models: [
    { model: path.join(MODELS, 'ft1'), parameters: { weight: 0.5, density: 0.5 } },
    { model: path.join(MODELS, 'ft2'), parameters: { weight: 0.5, density: 0.5 } },
  ],
  ...extra,
});

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-lora-');
  await ws.recipe('plus.yaml', ties(BASE, `${BASE}+${ADAPTER}`));
  await ws.recipe('premerged.yaml', ties(BASE, EXPECTED('f32-adapter')));
  await ws.recipe('alone.yaml', ties(BASE, ADAPTER));
  await ws.recipe('bf16-plus.yaml', ties(BASE_BF16, `${BASE_BF16}+${ADAPTER}`));
  await ws.recipe('bf16-premerged.yaml', ties(BASE_BF16, EXPECTED('bf16-adapter')));
  await ws.recipe('premerged-f16.yaml', ties(BASE, EXPECTED('f32-adapter-f16')));
  await ws.recipe('dare.yaml', dare());
  await ws.recipe('dare-seed7.yaml', dare({ random_seed: 7 }));
  // Broken references.
  await ws.recipe('three-parts.yaml', ties(BASE, `${BASE}+${ADAPTER}+${ADAPTER}`));
  await ws.recipe('missing-adapter.yaml', ties(BASE, `${BASE}+nowhere/adapter`));
  await ws.file('no-weights/adapter_config.json', readFileSync(path.join(ADAPTER, 'adapter_config.json')));
  await ws.recipe('no-weights.yaml', ties(BASE, `${BASE}+${ws.path('no-weights')}`));
  await ws.recipe('not-adapter.yaml', ties(BASE, `${BASE}+${path.join(MODELS, 'ft2')}`));
  await ws.model('tiny', 3, { config: TINY_CONFIG });
  await ws.recipe('wrong-base.yaml', { merge_method: 'task_arithmetic', base_model: ws.path('tiny'), models: [{ model: `${ws.path('tiny')}+${ADAPTER}`, parameters: { weight: 1 } }] });
});

afterAll(async () => {
  await ws?.dispose();
});

const run = (recipe: string, out: string, options: { cwd?: string; extra?: string[] } = {}) =>
  memo(() => runCliAsync(mergeArgs(ws.path(recipe), ws.path(out), ...(options.extra ?? [])), options.cwd ? { cwd: options.cwd } : {}));

function ok(r: CliResult): void {
  expect(r.status, r.stderr).toBe(0);
}

/** Both outputs hold the same tensors, dtypes and bytes (the recipes, which name other models, differ). */
async function expectSameModel(a: string, b: string): Promise<void> {
  await withCheckpoint(a, (x) =>
    withCheckpoint(b, async (y) => {
      expect([...x.tensorNames].sort()).toEqual([...y.tensorNames].sort());
      for (const n of x.tensorNames) {
        expect(x.info(n)!.dtype, n).toBe(y.info(n)!.dtype);
        expect(Buffer.from(await x.readRaw(n)).equals(Buffer.from(await y.readRaw(n))), n).toBe(true);
      }
    }),
  );
}

const plus = run('plus.yaml', 'out-plus');
const premerged = run('premerged.yaml', 'out-premerged');
const alone = run('alone.yaml', 'out-alone');
const bf16Plus = run('bf16-plus.yaml', 'out-bf16-plus');
const bf16Premerged = run('bf16-premerged.yaml', 'out-bf16-premerged');
const f16Plus = run('plus.yaml', 'out-f16-plus', { extra: ['--lora-merge-dtype', 'float16'] });
const f16Premerged = run('premerged-f16.yaml', 'out-f16-premerged');
const seedInRecipe = run('dare-seed7.yaml', 'out-seed-recipe');
const seedOption = run('dare.yaml', 'out-seed-option', { extra: ['--random-seed', '7'] });
const seedOverride = run('dare-seed7.yaml', 'out-seed-override', { extra: ['--random-seed', '8'] });
const seedOther = run('dare.yaml', 'out-seed-other', { extra: ['--random-seed', '8'] });

describe('merge with LoRA models', () => {
  it('"base+adapter" merges as the model peft merge_and_unload writes (float32 base)', async () => {
    const [a, b] = await Promise.all([plus(), premerged()]);
    ok(a);
    ok(b);
    await expectSameModel(ws.path('out-plus', 'model.safetensors'), ws.path('out-premerged', 'model.safetensors'));
  });

  it('a bfloat16 base: the adapter is applied in bfloat16, as peft does', async () => {
    const [a, b] = await Promise.all([bf16Plus(), bf16Premerged()]);
    ok(a);
    ok(b);
    await expectSameModel(ws.path('out-bf16-plus', 'model.safetensors'), ws.path('out-bf16-premerged', 'model.safetensors'));
  });

  it('--lora-merge-dtype float16 applies it in float16 (mergekit\'s lora_merge_dtype)', async () => {
    const [a, b] = await Promise.all([f16Plus(), f16Premerged()]);
    ok(a);
    ok(b);
    await expectSameModel(ws.path('out-f16-plus', 'model.safetensors'), ws.path('out-f16-premerged', 'model.safetensors'));
  });

  it('an adapter folder alone stands for its base_model_name_or_path with the adapter', async () => {
    const [a, b] = await Promise.all([alone(), plus()]);
    ok(a);
    ok(b);
    await expectSameModel(ws.path('out-alone', 'model.safetensors'), ws.path('out-plus', 'model.safetensors'));
  });
});

describe('--random-seed', () => {
  it('overrides the recipe\'s random_seed', async () => {
    const [recipe7, option7, override8, option8] = await Promise.all([seedInRecipe(), seedOption(), seedOverride(), seedOther()]);
    for (const r of [recipe7, option7, override8, option8]) ok(r);
    await expectSameModel(ws.path('out-seed-recipe', 'model.safetensors'), ws.path('out-seed-option', 'model.safetensors'));
    await expectSameModel(ws.path('out-seed-override', 'model.safetensors'), ws.path('out-seed-other', 'model.safetensors'));
    const q = 'model.layers.0.self_attn.q_proj.weight';
    const [x, y] = await Promise.all([
      withCheckpoint(ws.path('out-seed-recipe', 'model.safetensors'), (c) => c.readFloat32(q)),
      withCheckpoint(ws.path('out-seed-other', 'model.safetensors'), (c) => c.readFloat32(q)),
    ]);
    expect(Array.from(x)).not.toEqual(Array.from(y));
  });
});

describe('broken LoRA references fail cleanly', () => {
  const cases: readonly { name: string; recipe: string; code: ErrorCode; culprits: () => string[]; mentions?: string[]; cwd?: () => string; extra?: string[] }[] = [
    { name: 'more than one "+"', recipe: 'three-parts.yaml', code: 'RECIPE_INVALID', culprits: () => ['<model>+<lora adapter>'] },
    { name: 'an adapter that is not there', recipe: 'missing-adapter.yaml', code: 'PATH_NOT_FOUND', culprits: () => ['the LoRA adapter "nowhere/adapter"'] },
    { name: 'an adapter folder without adapter_model.safetensors', recipe: 'no-weights.yaml', code: 'LORA_INVALID', culprits: () => [ws.path('no-weights'), 'adapter_model.safetensors'] },
    { name: 'a model after "+" instead of an adapter', recipe: 'not-adapter.yaml', code: 'LORA_INVALID', culprits: () => ['ft2', 'adapter_config.json'] },
    {
      name: 'an adapter for another model',
      recipe: 'wrong-base.yaml',
      code: 'LORA_INVALID',
      culprits: () => [path.join(ADAPTER, 'adapter_model.safetensors'), 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'],
    },
    {
      name: 'an adapter alone whose base is not found',
      recipe: 'alone.yaml',
      code: 'LORA_NEEDS_BASE',
      culprits: () => [ADAPTER, 'test/fixtures/mergekit-recipes/models/base'],
      mentions: [`+${ADAPTER}`],
      cwd: () => ws.root,
    },
    { name: 'a bad --random-seed', recipe: 'dare.yaml', code: 'PARAMETER_INVALID', culprits: () => ['--random-seed', '-3'], extra: ['--random-seed=-3'] },
    { name: 'a bad --lora-merge-dtype', recipe: 'plus.yaml', code: 'PARAMETER_INVALID', culprits: () => ['--lora-merge-dtype', 'int8'], extra: ['--lora-merge-dtype', 'int8'] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const out = ws.path(`out-fail-${c.recipe}-${c.code}`);
      const r = await runCliAsync(mergeArgs(ws.path(c.recipe), out, ...(c.extra ?? [])), c.cwd ? { cwd: c.cwd() } : {});
      expect(failureProblems(r, { code: c.code, culprits: c.culprits(), mentions: c.mentions ?? [], out }).join('\n')).toBe('');
    });
  }
});
