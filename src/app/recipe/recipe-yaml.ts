/**
 * recipeToYaml with a short memory. One slider move asks for the YAML of the same few recipes many
 * times over (the live score, the charts, the recipe view, the sweep's key and its ten points), and
 * the yaml library's writer costs about half a millisecond a call on this machine's main thread,
 * where a JSON key costs microseconds. Equal keys mean equal recipes: numbers and strings are
 * tagged, so 0 and −0, NaN and "NaN" stay apart.
 */
import { RecentMap } from '../../engine/recent.js';
import { recipeToYaml } from '../../engine/recipe/write.js';
import type { Recipe } from '../../engine/recipe/types.js';

/** Enough for a sweep's points plus the recipes a move needs, for both sweepable parameters. */
const kept = new RecentMap<string, string>(64);

const exact = (_key: string, v: unknown) => (typeof v === 'number' ? `n${Object.is(v, -0) ? '-0' : String(v)}` : typeof v === 'string' ? `s${v}` : v);

export function recipeYaml(r: Recipe): string {
  const key = JSON.stringify(r, exact);
  let yaml = kept.get(key);
  if (yaml === undefined) kept.set(key, (yaml = recipeToYaml(r)));
  return yaml;
}
