/**
 * The names the recipe the lab hands out (the panel's YAML, "Download recipe", the merged file's
 * metadata) gives its models: the files as they sit on disk, where the lab's own ids differ — the
 * demo's task ids become its checkpoint files (`expert-invert.safetensors`), a dropped checkpoint's
 * id its file or folder name. `merge-lab merge` then runs that recipe unchanged in the folder that
 * holds the files. Ids stay where names would collide (two dropped files of one name).
 */
import { renameModels } from '../../engine/recipe/rename.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { demoAssets } from '../demo/assets.js';
import { DEMO_BASE_ID } from './demo-recipe.js';
import { lmPortableNames } from './lm-demo-recipe.js';
import type { LabState } from '../store/types.js';

export function portableNames(s: Pick<LabState, 'source' | 'dropped' | 'lmDemo'>): Record<string, string> {
  const names: Record<string, string> = {};
  if (s.source === 'lm') return lmPortableNames(s);
  if (s.source === 'demo') {
    const m = demoAssets.manifest();
    if (!m) return names;
    names[DEMO_BASE_ID] = m.base;
    for (const t of m.tasks) names[t.id] = t.expert;
    return names;
  }
  const ready = s.dropped.filter((d) => d.status === 'ready');
  const count = new Map<string, number>();
  for (const d of ready) count.set(d.name, (count.get(d.name) ?? 0) + 1);
  for (const d of ready) if (count.get(d.name) === 1) names[d.id] = d.name;
  return names;
}

/** File name → the lab's id, for the demo's files and the dropped checkpoints alike (a recipe read back in). */
export function idsOfFileNames(s: Pick<LabState, 'dropped'>): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const source of ['demo', 'mine'] as const) {
    for (const [id, name] of Object.entries(portableNames({ source, dropped: s.dropped, lmDemo: { status: 'idle', models: [], domains: [], received: 0 } }))) if (name !== id) ids[name] = id;
  }
  return ids;
}

export function portableRecipe(recipe: Recipe, s: Pick<LabState, 'source' | 'dropped' | 'lmDemo'>): Recipe {
  return renameModels(recipe, portableNames(s));
}
