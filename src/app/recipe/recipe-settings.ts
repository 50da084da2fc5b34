/**
 * A recipe's settings in words ("lambda 1, density 0.3 (every model), dtype float32"): what the
 * live score, the charts' exports and their captions say made them. Pure text, no chart code, so
 * the store can name the recipe an answer came from.
 */
import type { ParameterSetting, Recipe } from '../../engine/recipe/types.js';
import { tidyNumber } from '../format.js';

function value(v: ParameterSetting): string {
  if (typeof v === 'number') return tidyNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    const items = v as readonly unknown[];
    // A gradient (numbers) or conditionals ({ filter, value }).
    return `[${items.map((x) => (typeof x === 'number' ? tidyNumber(x) : typeof x === 'object' && x ? `${String((x as { filter?: unknown }).filter ?? '*')}: ${value((x as { value: ParameterSetting }).value)}` : String(x))).join('; ')}]`;
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
