/**
 * Where a recipe's model name points on disk: like mergekit, absolute or relative to the current
 * directory; failing that, relative to the recipe's own folder (so a recipe and its models can be
 * moved together).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export function resolveModelPath(model: string, recipeDir: string): string | undefined {
  const candidates = path.isAbsolute(model) ? [model] : [path.resolve(model), path.resolve(recipeDir, model)];
  return candidates.find((c) => existsSync(c));
}
