/**
 * The per-layer map following a layer stack (layer-stack.ts): rows renumbered as the slices stack
 * them, each with its source's numbers and label, the marked layers chosen again among the stacked
 * rows, merged layers labelled with every source, and a layer the diagnosed models lack left out.
 * Worked by hand on a 4-layer map whose layer L has sign-conflict rate L/10.
 */
import { describe, expect, it } from 'vitest';
import { layerMap, type TensorStats } from '../../src/engine/diagnostics/layer-map.js';
import type { LayerRanks } from '../../src/engine/diagnostics/layer-ranks.js';
import { sourceLabel, stackLayerMap } from '../../src/engine/diagnostics/layer-stack.js';

const C = [
  [1, 0.5],
  [0.5, 1],
];
const tensors: TensorStats[] = [
  { name: 'model.embed_tokens.weight', size: 64, conflictRate: 0.05, cosine: C },
  ...[0, 1, 2, 3].flatMap((l) => [
    { name: `model.layers.${l}.self_attn.q_proj.weight`, size: 16, conflictRate: l / 10, cosine: C },
    { name: `model.layers.${l}.mlp.up_proj.weight`, size: 16, conflictRate: l / 10, cosine: C },
  ]),
];
const map = layerMap(tensors)!;

describe('stackLayerMap', () => {
  it('renumbers the rows as the slices stack them, each with its source layer’s numbers and label', () => {
    // base layers 0-2, then ft1 layers 1-3: six layers.
    const stack = [0, 1, 2].map((k) => ({ layer: k, model: 'base', from: k })).concat([1, 2, 3].map((k, i) => ({ layer: 3 + i, model: 'ft1', from: k })));
    const s = stackLayerMap(map, stack);
    expect(s.map.layers.map((l) => [l.layer, l.conflictRate])).toEqual([
      [0, 0],
      [1, 0.1],
      [2, 0.2],
      [3, 0.1],
      [4, 0.2],
      [5, 0.3],
    ]);
    expect(s.sources).toEqual(['base L0', 'base L1', 'base L2', 'ft1 L1', 'ft1 L2', 'ft1 L3']);
    expect(s.map.cells.filter((c) => c.layer === 5).map((c) => [c.module, c.conflictRate, c.tensors])).toEqual([
      ['q', 0.3, ['model.layers.3.self_attn.q_proj.weight']],
      ['up', 0.3, ['model.layers.3.mlp.up_proj.weight']],
    ]);
    // Three of six marked, the highest rates first, ties to the lower layer.
    expect(s.map.marked).toEqual([5, 2, 4]);
    expect(s.map.layers.filter((l) => l.marked).map((l) => l.layer)).toEqual([2, 4, 5]);
    expect(s.map.apart).toEqual(map.apart);
    expect(s.missing).toEqual([]);
  });

  it('labels a merged layer with every source, and leaves out a layer the diagnosed models lack', () => {
    const merged = { layer: 0, model: 'a', from: 2, sources: [{ model: 'a', from: 2 }, { model: 'b', from: 3 }] };
    expect(sourceLabel(merged)).toBe('a L2 + b L3');
    const s = stackLayerMap(map, [merged, { layer: 1, model: 'c', from: 7 }]);
    expect(s.map.layers.map((l) => l.layer)).toEqual([0]);
    expect(s.missing).toEqual([1]);
    expect(s.map.marked).toEqual([]);
  });

  it('renumbers the effective ranks with the rows', () => {
    const ranks = { models: ['e1', 'e2'], maxRank: 8, cells: [0, 1, 2, 3].map((l) => ({ layer: l, module: 'q' as const, size: 16, effectiveRank: l + 1, tensors: [`model.layers.${l}.self_attn.q_proj.weight`] })), apart: [], matrices: [] } satisfies LayerRanks;
    const s = stackLayerMap(map, [{ layer: 0, model: 'b', from: 3 }, { layer: 1, model: 'b', from: 0 }], ranks);
    expect(s.ranks!.cells.map((c) => [c.layer, c.effectiveRank])).toEqual([
      [0, 4],
      [1, 1],
    ]);
  });
});
