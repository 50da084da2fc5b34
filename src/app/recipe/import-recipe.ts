/**
 * Importing a mergekit YAML recipe into the lab's controls: parsed with the engine's parseRecipe
 * (a pure function), then the method, λ, the other global parameters and density set from it,
 * and per-model values and the base for the user's checkpoints whose ids the recipe names.
 * Settings the controls cannot show (gradients, filter lists) are reported, not applied.
 */
import { parseRecipe } from '../../engine/recipe/parse.js';
import type { ParameterSetting } from '../../engine/recipe/types.js';
import type { LabState } from '../store/types.js';

export interface ImportOutcome {
  readonly method: string;
  /** What was applied, for the status line. */
  readonly applied: readonly string[];
  /** What the recipe says that the controls cannot show (and the parser's warnings). */
  readonly notes: readonly string[];
}

/** Parses `text` and applies it to the store. Throws the parser's MergeLabError (every problem at once); nothing changes then. */
export function importRecipe(text: string, fileName: string, st: LabState): ImportOutcome {
  const recipe = parseRecipe(text, fileName);
  const applied: string[] = [`method ${recipe.mergeMethod}`];
  const notes: string[] = [...(recipe.warnings ?? [])];
  st.setMethod(recipe.mergeMethod);
  const scalar = (where: string, name: string, v: ParameterSetting): v is number | boolean => {
    if (typeof v === 'number' || typeof v === 'boolean') return true;
    notes.push(`${where} ${name} is a gradient or filter list; the controls keep their value.`);
    return false;
  };
  for (const [name, v] of Object.entries(recipe.parameters ?? {})) {
    if (!scalar('the global', name, v)) continue;
    if (name === 'lambda' && typeof v === 'number') st.setLambda(v);
    else if (name === 'density' && typeof v === 'number') st.setDensity(v);
    else st.setGlobal(name, v);
    applied.push(`${name} ${v}`);
  }
  // Density is per model in mergekit; the lab's Density control sets every expert's: take the first model's.
  const firstDensity = recipe.models.map((m) => m.parameters?.['density']).find((v) => v !== undefined);
  if (recipe.parameters?.['density'] === undefined && firstDensity !== undefined && scalar('density of', recipe.models[0]!.model, firstDensity) && typeof firstDensity === 'number') {
    st.setDensity(firstDensity);
    applied.push(`density ${firstDensity}`);
  }
  const ids = new Set(st.dropped.map((m) => m.id));
  for (const m of recipe.models) {
    if (!ids.has(m.model)) continue;
    st.setRole(m.model, 'expert');
    for (const [name, v] of Object.entries(m.parameters ?? {})) if (scalar(`${m.model}'s`, name, v) && typeof v === 'number') st.setModelParam(m.model, name, v);
  }
  if (recipe.baseModel && ids.has(recipe.baseModel)) st.setRole(recipe.baseModel, 'base');
  if (recipe.tokenizerSource !== undefined || recipe.chatTemplate !== undefined) {
    notes.push("tokenizer_source and chat_template have no controls here: the lab's merged model gets the base's tokenizer files as they are (merge-lab merge applies them).");
  }
  return { method: recipe.mergeMethod, applied, notes };
}
