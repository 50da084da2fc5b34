/**
 * Checkpoints with very many tensors (MoE layouts have 10^4–10^5): planning and inspect stay
 * linear and never overflow the stack. 150,000 tensors are planned and inspected here; a merge
 * of that size takes about a minute on this machine, so it is measured by hand, not tested.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planMerge } from '../../src/engine/merge/plan-merge.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/safetensors-writer.js';
import { parseRecipe } from '../../src/engine/recipe/parse.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { Workspace, runCliAsync } from './helpers.js';

const N = 150_000;
let ws: Workspace;
beforeAll(async () => {
  ws = await Workspace.create('merge-lab-many-');
  // One file written twice: planning reads headers, not values, so the models may be alike.
  const tensors = Array.from({ length: N }, (_, i) => ({ name: `model.layers.${i % 64}.experts.${Math.floor(i / 64)}.w`, dtype: 'F32' as const, shape: [2], data: Float32Array.of(1, i) }));
  const bytes = await writeSafetensorsToMemory(tensors);
  for (const name of ['base', 'a']) await ws.file(`${name}/model.safetensors`, bytes);
}, 120_000);
afterAll(() => ws?.dispose());

describe(`${N.toLocaleString('en-US')} tensors`, () => {
  it('are planned (TIES over two models) without a stack overflow', { timeout: 120_000 }, async () => {
    const checkpoints = new Map<string, Checkpoint>([
      ['base', await openCheckpointPath(ws.path('base'))],
      ['a', await openCheckpointPath(ws.path('a'))],
    ]);
    try {
      const t0 = Date.now();
      const { plan, problems } = planMerge({ recipe: parseRecipe('merge_method: ties\nbase_model: base\nmodels:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n'), methods: METHODS, checkpoints });
      console.log(`[many] planned ${N} tensors in ${Date.now() - t0} ms`);
      expect(problems).toEqual([]);
      expect(plan!.tensors).toHaveLength(N);
    } finally {
      for (const c of checkpoints.values()) await c.close();
    }
  });

  it('are listed by inspect', { timeout: 120_000 }, async () => {
    const r = await runCliAsync(['inspect', ws.path('base/model.safetensors')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('model.layers.47.experts.2343.w');
  });
});
