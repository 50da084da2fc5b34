/**
 * The lab's zustand store, built from slices (models, recipe, engine, ui) with each action beside its
 * state. Components select narrowly: `useLabStore(useShallow((s) => ({ a: s.a, b: s.b })))`.
 */
import { create } from 'zustand';
import { createChartsSlice } from './charts-slice.js';
import { createDroppedSlice } from './dropped-slice.js';
import { createEngineSlice } from './engine-slice.js';
import { createLmDemoSlice } from './lm-demo-slice.js';
import { createLmLabSlice } from './lm-lab-slice.js';
import { createModelsSlice } from './models-slice.js';
import { createRecipeSlice } from './recipe-slice.js';
import { createRoutedSlice } from './routed-slice.js';
import type { LabState } from './types.js';
import { createStackSlice } from './stack-slice.js';
import { createUiSlice } from './ui-slice.js';

export const useLabStore = create<LabState>()((...a) => ({
  ...createModelsSlice(...a),
  ...createRecipeSlice(...a),
  ...createEngineSlice(...a),
  ...createUiSlice(...a),
  ...createStackSlice(...a),
  ...createDroppedSlice(...a),
  ...createChartsSlice(...a),
  ...createRoutedSlice(...a),
  ...createLmLabSlice(...a),
  ...createLmDemoSlice(...a),
}));

export type * from './types.js';
