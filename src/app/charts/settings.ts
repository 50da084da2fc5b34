/**
 * The settings that made a chart, in words, for its exports: a PNG on a slide or a CSV in a
 * notebook says which method and parameters drew it ("ties on the demo: lambda 1, density 0.3").
 * Written from the recipe the charts ask about (chart-recipes.ts), so every setting the recipe
 * carries is named; routed methods from their controls.
 */
import { useRef } from 'react';
import { chartRecipe } from '../recipe/chart-recipes.js';
import type { ParameterSetting, Recipe } from '../../engine/recipe/types.js';
import { useLabStore } from '../store/index.js';
import type { LabState } from '../store/types.js';
import { tidyTick } from './chart-props.js';

/** What a chart's exports say made it. */
export interface MadeBy {
  /** The method's id as recipes name it (ties, twin_merging, …). */
  readonly method: string;
  /** Its settings, e.g. "lambda 1, density 0.3 (every model), on the demo". */
  readonly settings: string;
}

function value(v: ParameterSetting): string {
  if (typeof v === 'number') return tidyTick(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const items = v as readonly unknown[];
    // A gradient (numbers) or conditionals ({ filter, value }).
    return `[${items.map((x) => (typeof x === 'number' ? tidyTick(x) : typeof x === 'object' && x ? `${String((x as { filter?: unknown }).filter ?? '*')}: ${value((x as { value: ParameterSetting }).value)}` : String(x))).join('; ')}]`;
  }
  return String(v);
}

/** A recipe's method settings: top-level parameters, then per-model ones (once when every model has the same). */
export function recipeSettings(r: Recipe): string {
  const parts = Object.entries(r.parameters ?? {}).map(([k, v]) => `${k} ${value(v)}`);
  for (const [k, v] of Object.entries(r.options ?? {})) parts.push(`${k} ${v}`);
  const experts = r.models.filter((m) => m.model !== r.baseModel);
  const names = [...new Set(experts.flatMap((m) => Object.keys(m.parameters ?? {})))];
  for (const name of names) {
    const each = experts.map((m) => (m.parameters?.[name] === undefined ? undefined : value(m.parameters[name])));
    if (each.every((x) => x === each[0])) {
      if (each[0] !== undefined) parts.push(`${name} ${each[0]} (every model)`);
    } else parts.push(`${name} ${experts.map((m, i) => `${m.model} ${each[i] ?? '—'}`).join(', ')}`);
  }
  if (r.randomSeed !== undefined) parts.push(`random_seed ${r.randomSeed}`);
  if (r.dtype) parts.push(`dtype ${r.dtype}`);
  return parts.join(', ');
}

/** The current recipe's method and settings, as the charts ask about it. */
export function describeSettings(s: LabState): MadeBy {
  const where = s.source === 'mine' ? 'on your checkpoints' : 'on the demo';
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
