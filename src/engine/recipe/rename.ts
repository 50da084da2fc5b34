/**
 * A recipe with its models renamed: the lab opens checkpoints under short ids (the demo's task
 * names, a dropped file's name made unique), while the recipe it hands out must name the files as
 * they sit on disk, so `merge-lab merge` (or mergekit) runs it unchanged beside them.
 */
import type { Recipe, RecipeSlice } from './types.js';

export function renameModels(recipe: Recipe, names: Readonly<Record<string, string>>): Recipe {
  const to = (m: string) => (Object.hasOwn(names, m) ? names[m]! : m);
  return {
    ...recipe,
    models: recipe.models.map((m) => ({ ...m, model: to(m.model) })),
    ...(recipe.slices ? { slices: renameSlices(recipe.slices, to) } : {}),
    ...(recipe.modules
      ? { modules: Object.fromEntries(Object.entries(recipe.modules).map(([k, m]) => [k, { ...m, ...(m.slices ? { slices: renameSlices(m.slices, to) } : {}), ...(m.models ? { models: m.models.map((x) => ({ ...x, model: to(x.model) })) } : {}) }])) }
      : {}),
    ...(recipe.baseModel !== undefined ? { baseModel: to(recipe.baseModel) } : {}),
    // 'base' and 'union' are keywords there, not model names (unless a model is named so).
    ...(recipe.tokenizerSource !== undefined ? { tokenizerSource: to(recipe.tokenizerSource) } : {}),
    ...(recipe.tokenizerTokens ? { tokenizerTokens: recipe.tokenizerTokens.map((t) => ({ ...t, model: to(t.model) })) } : {}),
  };
}

function renameSlices(slices: readonly RecipeSlice[], to: (m: string) => string): RecipeSlice[] {
  return slices.map((s) => ({ ...s, sources: s.sources.map((x) => ({ ...x, model: to(x.model) })), ...(s.baseModel !== undefined ? { baseModel: to(s.baseModel) } : {}) }));
}
