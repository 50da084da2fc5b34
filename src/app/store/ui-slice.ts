/** The ui slice: view state that is not part of the recipe (the open tab, presentation mode, hidden parts, the preset shown). */
import type { SliceCreator, UiSlice } from './types.js';

export const createUiSlice: SliceCreator<UiSlice> = (set) => ({
  tab: 'models',
  present: false,
  hidden: [],
  preset: undefined,
  setTab(tab) {
    set({ tab });
  },
  setPresentation(present, hidden) {
    set({ present, hidden: [...new Set(hidden)] });
  },
  setPreset(id) {
    set({ preset: id });
  },
});
