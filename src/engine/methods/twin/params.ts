/**
 * Twin-Merging's settings in the registry's parameter schema: what the lab's sliders, the recipe
 * reader and --help show. Kept apart from the method's code so the app's main thread can read
 * them without loading it.
 */
import type { ParamSpec } from '../types.js';

export const TWIN_PARAMS: readonly ParamSpec[] = [
  { name: 'lambda', scope: 'global', type: 'number', default: 0.3, min: 0, ui: { min: 0, max: 1.5, step: 0.05 }, help: "Scale of the shared expert's combined task vector (task arithmetic's or TIES' λ; the demo table chooses it on validation)." },
  { name: 'rank', scope: 'global', type: 'integer', default: 4, min: 1, ui: { min: 1, max: 64, step: 1 }, help: 'Rank r each expert − shared difference is truncated to: r·(m + n) values per matrix instead of m·n.' },
  { name: 'energy', scope: 'global', type: 'number', min: 0, max: 1, minExclusive: true, ui: { min: 0.5, max: 1, step: 0.01 }, help: 'Instead of a fixed rank: per matrix, the smallest rank holding this share of the difference’s energy Σσ².' },
  { name: 'hidden', scope: 'global', type: 'integer', default: 32, min: 1, ui: { min: 4, max: 256, step: 4 }, help: "Hidden units of the router MLP on the shared model's features." },
  { name: 'epochs', scope: 'global', type: 'integer', default: 6, min: 1, ui: { min: 1, max: 50, step: 1 }, help: 'Router training epochs over the validation split.' },
  { name: 'learningRate', scope: 'global', type: 'number', default: 0.005, min: 0, minExclusive: true, ui: { min: 0.0005, max: 0.05, step: 0.0005 }, help: "Router training's Adam step size." },
  { name: 'temperature', scope: 'global', type: 'number', default: 1, min: 0, minExclusive: true, ui: { min: 0.05, max: 5, step: 0.05 }, help: 'softmax(logits / temperature): lower picks one expert, higher blends them.' },
  { name: 'topK', scope: 'global', type: 'integer', min: 1, ui: { min: 1, max: 8, step: 1 }, help: 'Keep only the k largest routing weights per input (renormalised); empty keeps all.' },
  { name: 'seed', scope: 'global', type: 'integer', default: 0, min: 0, ui: { min: 0, max: 100, step: 1 }, help: "Seeds the router's initial weights and batch order." },
];
