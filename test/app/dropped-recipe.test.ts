/**
 * The recipe for one's own checkpoints: a per-model parameter that leaves each tensor as it is when
 * unset (passthrough's scale) starts there — its slider at 1 and the recipe without it — not at its
 * range's middle (scale 0, which merged every tensor to zeros).
 */
import { describe, expect, it } from 'vitest';
import { PASSTHROUGH } from '../../src/engine/methods/catalog.js';
import { droppedRecipe, perModelDefault } from '../../src/app/recipe/dropped-recipe.js';
import type { DroppedModel } from '../../src/app/store/types.js';

const controls = { density: 0.3, lambda: 1 };
const model = (id: string, role: DroppedModel['role']): DroppedModel => ({ id, name: `${id}.safetensors`, files: 1, role, status: 'ready' });
const scale = PASSTHROUGH.params.find((p) => p.name === 'scale')!;

describe('droppedRecipe: passthrough', () => {
  it("the scale slider starts at 1, the tensor as it is", () => {
    expect(perModelDefault(scale, controls)).toBe(1);
  });

  it('leaves scale out until it is moved, then writes the value moved to', () => {
    const models = [model('base', 'base'), model('expert-a', 'expert')];
    expect(droppedRecipe('passthrough', models, {}, controls).models).toEqual([{ model: 'expert-a' }]);
    expect(droppedRecipe('passthrough', models, { 'expert-a': { scale: 0.5 } }, controls).models).toEqual([{ model: 'expert-a', parameters: { scale: 0.5 } }]);
  });
});
