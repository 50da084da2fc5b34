/**
 * A recipe as the engine keys and reads it: its mergekit YAML. The lab sends recipe objects (the
 * page's main thread holds no YAML library), the command line and tests may send the text itself;
 * either way the engine parses the same text the downloaded recipe holds, so a recipe object is
 * checked exactly as a file would be.
 *
 * With a short memory: one slider move asks for the same few recipes many times over (the live
 * score, the charts, the sweep's points), and the yaml writer costs about half a millisecond a
 * call where a JSON key (recipeKey) costs microseconds.
 */
import { RecentMap } from '../recent.js';
import { recipeKey } from './recipe-key.js';
import type { Recipe } from './types.js';
import { recipeToYaml } from './write.js';

/** A recipe object, or its YAML text. */
export type RecipeInput = Recipe | string;

/** Enough for a sweep's points plus the recipes a move needs, for both sweepable parameters. */
const kept = new RecentMap<string, string>(64);

export function recipeText(input: RecipeInput): string {
  if (typeof input === 'string') return input;
  const key = recipeKey(input);
  let yaml = kept.get(key);
  if (yaml === undefined) kept.set(key, (yaml = recipeToYaml(input)));
  return yaml;
}
