/** The recipe slice: which merge method is chosen (TIES by default, as the lab opens). */
import { findMethod } from '../../engine/methods/registry.js';
import type { RecipeSlice, SliceCreator } from './types.js';

export const DEFAULT_METHOD = 'ties';

export const createRecipeSlice: SliceCreator<RecipeSlice> = (set) => ({
  method: DEFAULT_METHOD,
  setMethod(id) {
    // Only ids from the registry: a stale URL or preset must not leave an unknown method selected.
    if (findMethod(id)) set({ method: id });
  },
});
