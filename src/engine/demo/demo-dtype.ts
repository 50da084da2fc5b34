/**
 * The demo's checkpoints are stored in float16, and mergekit computes a recipe without `dtype` in
 * the stored dtype. The demo's recipes say `dtype: float32` instead: its reference accuracies were
 * measured in float32, its sliders use the float32 path (kept sort orders), and the recipe it
 * exports then gives mergekit the same numbers. `out_dtype: float16` keeps the written file in
 * the demo's own dtype.
 */
import type { RecipeDtype } from '../recipe/types.js';

export const DEMO_DTYPES: { readonly dtype: RecipeDtype; readonly outDtype: RecipeDtype } = { dtype: 'float32', outDtype: 'float16' };
