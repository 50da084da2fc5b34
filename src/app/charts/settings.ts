/**
 * The settings that made a chart, in words, for its exports: a PNG on a slide or a CSV in a
 * notebook says which method and parameters drew it ("ties on the demo: lambda 1, density 0.3").
 * Written from the recipe the charts ask about (chart-recipes.ts), so every setting the recipe
 * carries is named; routed methods from their controls.
 */
import { useRef } from 'react';
import { chartRecipe } from '../recipe/chart-recipes.js';
import { useLabStore } from '../store/index.js';
import type { LabState } from '../store/types.js';
import { recipeSettings } from '../recipe/recipe-settings.js';

/** What a chart's exports say made it. */
export interface MadeBy {
  /** The method's id as recipes name it (ties, twin_merging, …). */
  readonly method: string;
  /** Its settings, e.g. "lambda 1, density 0.3 (every model), on the demo". */
  readonly settings: string;
}

/** The current recipe's method and settings, as the charts ask about it. */
export function describeSettings(s: LabState): MadeBy {
  const where = s.source === 'mine' ? 'on your checkpoints' : s.source === 'lm' ? 'on the LM demo' : 'on the demo';
  if (s.method === 'twin_merging') {
    const t = s.twin;
    const shared = t.sharedMethod === 'ties' ? `shared ties (density ${t.sharedDensity})` : 'shared task_arithmetic';
    const cut = t.useEnergy ? `energy ${t.energy}` : `rank ${t.rank}`;
    return { method: s.method, settings: `${shared}, lambda ${t.lambda}, ${cut}, temperature ${t.temperature}, top-k ${t.topK ?? 'all'}${t.hard ? ', hard mode' : ''}, ${where}` };
  }
  if (s.method === 'channel_merging') {
    const c = s.channel;
    return { method: s.method, settings: `K ${c.K}, group method ${c.groupMethod}, lambda ${c.lambda}, density ${c.density}, ${where}` };
  }
  try {
    const text = recipeSettings(chartRecipe(s));
    return { method: s.method, settings: `${text || 'defaults'}, ${where}` };
  } catch {
    // A recipe that cannot be made draws no chart to export; say what is known.
    return { method: s.method, settings: `lambda ${s.lambda}, density ${s.density}, ${where}` };
  }
}

/**
 * The settings of the answer a chart shows: the current ones while the chart is up to date, and
 * the ones it was last up to date with while a newer answer is being computed (the drawing still
 * shows the older answer then).
 */
export function useMadeBy(status: 'idle' | 'computing' | 'ready' | 'error'): MadeBy {
  const method = useLabStore((s) => s.method);
  const settings = useLabStore((s) => describeSettings(s).settings);
  const kept = useRef<MadeBy>({ method, settings });
  if (status !== 'computing') kept.current = { method, settings };
  return kept.current;
}

export { recipeSettings };
