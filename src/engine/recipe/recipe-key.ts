/**
 * A recipe object's identity as a string, for request keys and caches: equal keys mean equal
 * recipes (numbers and strings are tagged, so 0 and −0, NaN and "NaN" stay apart). Plain JSON, no
 * YAML: the lab's main thread keys its requests with it.
 */
import type { Recipe } from './types.js';

const exact = (_key: string, v: unknown) => (typeof v === 'number' ? `n${Object.is(v, -0) ? '-0' : String(v)}` : typeof v === 'string' ? `s${v}` : v);

export function recipeKey(r: Recipe): string {
  return JSON.stringify(r, exact);
}
