/**
 * Twin-Merging's settings in the registry's parameter schema: what the lab's sliders, the recipe
 * reader and --help show. Kept apart from the method's code so the app's main thread can read
 * them without loading it.
 */
import type { ParamSpec } from '../types.js';

export const TWIN_PARAMS: readonly ParamSpec[] = [
  { name: 'lambda', scope: 'global', type: 'number', default: 0.3, min: 0, ui: { min: 0, max: 1.5, step: 0.05 }, help: "Scale of the shared expert's combined task vector (task arithmetic's or TIES' λ; the demo table chooses it on validation)." },
  { name: 'rank', scope: 'global', type: 'integer', default: 4, min: 1, ui: { min: 1, max: 64, step: 1 }, help: 'Rank r each expert − shared difference is truncated to: r·(m + n) values per matrix instead of m·n (the matrix itself where that is no more).' },
  {
    name: 'rank_ratio',
    scope: 'global',
    type: 'number',
    min: 0,
    max: 1,
    minExclusive: true,
    ui: { min: 0.01, max: 0.5, step: 0.01 },
    help: "Instead of a fixed rank: per matrix, ⌊rank_ratio · min(m, n)⌋ (at least 1). The paper's code keeps 0.1 (rank 76 of a 768-wide layer).",
  },
  { name: 'energy', scope: 'global', type: 'number', min: 0, max: 1, minExclusive: true, ui: { min: 0.5, max: 1, step: 0.01 }, help: 'Instead of a fixed rank: per matrix, the smallest rank holding this share of the difference’s energy Σσ².' },
  { name: 'hidden', scope: 'global', type: 'integer', min: 1, ui: { min: 4, max: 2048, step: 4 }, help: "Hidden units per layer of the router MLP (default: twice the feature width for the paper's router, 32 for the small one)." },
  { name: 'epochs', scope: 'global', type: 'integer', min: 1, ui: { min: 1, max: 100, step: 1 }, help: 'Router training epochs at most (default 50 for the paper\'s router, 30 for the small one); training stops early when held-out accuracy stops rising.' },
  { name: 'learningRate', scope: 'global', type: 'number', min: 0, minExclusive: true, ui: { min: 0.0001, max: 0.05, step: 0.0001 }, help: "Router training's Adam step size (default 0.0005 for the paper's router, 0.005 for the small one)." },
  { name: 'temperature', scope: 'global', type: 'number', default: 1, min: 0, minExclusive: true, ui: { min: 0.05, max: 5, step: 0.05 }, help: 'softmax(logits / temperature): lower picks one expert, higher blends them.' },
  { name: 'topK', scope: 'global', type: 'integer', min: 1, ui: { min: 1, max: 8, step: 1 }, help: 'Keep only the k largest routing weights per input (renormalised); empty keeps all.' },
  { name: 'seed', scope: 'global', type: 'integer', default: 0, min: 0, ui: { min: 0, max: 100, step: 1 }, help: "Seeds the router's initial weights and batch order." },
];
