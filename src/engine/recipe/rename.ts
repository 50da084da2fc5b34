/**
 * A recipe with its models renamed: the lab opens checkpoints under short ids (the demo's task
 * names, a dropped file's name made unique), while the recipe it hands out must name the files as
 * they sit on disk, so `merge-lab merge` (or mergekit) runs it unchanged beside them.
 */
import type { Recipe } from './types.js';

export function renameModels(recipe: Recipe, names: Readonly<Record<string, string>>): Recipe {
  const to = (m: string) => (Object.hasOwn(names, m) ? names[m]! : m);
  return {
    ...recipe,
    models: recipe.models.map((m) => ({ ...m, model: to(m.model) })),
    ...(recipe.baseModel !== undefined ? { baseModel: to(recipe.baseModel) } : {}),
    // 'base' and 'union' are keywords there, not model names (unless a model is named so).
    ...(recipe.tokenizerSource !== undefined ? { tokenizerSource: to(recipe.tokenizerSource) } : {}),
    ...(recipe.tokenizerTokens ? { tokenizerTokens: recipe.tokenizerTokens.map((t) => ({ ...t, model: to(t.model) })) } : {}),
  };
}
