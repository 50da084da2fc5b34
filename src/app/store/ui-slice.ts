/** The ui slice: view state that is not part of the recipe (the open tab). */
import type { SliceCreator, UiSlice } from './types.js';

export const createUiSlice: SliceCreator<UiSlice> = (set) => ({
  tab: 'models',
  setTab(tab) {
    set({ tab });
  },
});
