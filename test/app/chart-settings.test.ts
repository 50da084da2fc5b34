/**
 * What a chart's exports say made it: the recipe's method settings in words (top-level values,
 * per-model values once when every model shares them, each model's when they differ), and the
 * CSV's method and settings columns on every row.
 */
import { describe, expect, it } from 'vitest';
import { withMadeBy } from '../../src/app/charts/export.js';
import { recipeSettings } from '../../src/app/charts/settings.js';

describe('recipeSettings', () => {
  it('names the top-level parameters and a per-model value every model shares once', () => {
    const text = recipeSettings({
      mergeMethod: 'ties',
      baseModel: 'base',
      models: [
        { model: 'base' },
        { model: 'a', parameters: { density: 0.3, weight: 1 } },
        { model: 'b', parameters: { density: 0.3, weight: 1 } },
      ],
      parameters: { lambda: 1, normalize: true },
    });
    expect(text).toBe('lambda 1, normalize true, density 0.3 (every model), weight 1 (every model)');
  });

  it("names each model's value when they differ, a gradient, the seed and the dtype", () => {
    const text = recipeSettings({
      mergeMethod: 'dare_ties',
      baseModel: 'base',
      models: [
        { model: 'a', parameters: { density: 0.1 + 0.2 } },
        { model: 'b', parameters: { density: 0.5 } },
      ],
      parameters: { lambda: [0.5, 1] },
      randomSeed: 7,
      dtype: 'float32',
    });
    expect(text).toBe('lambda [0.5; 1], density a 0.3, b 0.5, random_seed 7, dtype float32');
  });
});

describe('withMadeBy', () => {
  it('adds method and settings columns to the header and every row', () => {
    const t = withMadeBy(['k', 'score_percent'], [[1, 50], [2, 60]], { method: 'ties', settings: 'lambda 1, on the demo' });
    expect(t.header).toEqual(['k', 'score_percent', 'method', 'settings']);
    expect(t.rows).toEqual([
      [1, 50, 'ties', 'lambda 1, on the demo'],
      [2, 60, 'ties', 'lambda 1, on the demo'],
    ]);
  });
});
