/**
 * The handed-out recipe's text, as the engine writes it (the page's main thread holds no YAML
 * library): the store's recipe object goes to the worker, its text comes back. The text shown is
 * always the current recipe's: while a new one is being written, none is shown (it takes a few
 * milliseconds), never the previous recipe's.
 */
import { useEffect, useState } from 'react';
import { MergeLabError } from '../../engine/errors.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { RecentMap } from '../../engine/recent.js';
import { handedOut } from '../store/engine-slice.js';
import { useLabStore } from '../store/index.js';

export type RecipeText = { readonly key: string; readonly text: string } | { readonly key: string; readonly error: string } | { readonly key: string; readonly pending: true };

/** Texts already written, so moving a slider back shows its recipe at once. */
const written = new RecentMap<string, string>(32);

function current(): { key: string; recipe?: Recipe; error?: string } {
  return handedOut(useLabStore.getState());
}

export function useRecipeText(): RecipeText {
  // Re-rendered on every store change; the key decides whether anything is asked.
  const key = useLabStore(() => current().key);
  // The engine client appears once the engine starts: ask again then.
  const engine = useLabStore((s) => s.engine.status);
  const [answer, setAnswer] = useState<RecipeText>({ key, pending: true });
  useEffect(() => {
    const c = current();
    if (c.error !== undefined) return setAnswer({ key: c.key, error: c.error });
    const known = written.get(c.key);
    if (known !== undefined) return setAnswer({ key: c.key, text: known });
    setAnswer({ key: c.key, pending: true });
    const client = useLabStore.getState().engineClient();
    if (!client || !c.recipe) return;
    let live = true;
    const recipe = c.recipe;
    client.call((e) => e.recipes.recipeText(recipe)).then(
      (text) => {
        written.set(c.key, text);
        if (live) setAnswer({ key: c.key, text });
      },
      (e: unknown) => live && setAnswer({ key: c.key, error: e instanceof Error ? e.message : String(e) }),
    );
    return () => void (live = false);
  }, [key, engine]);
  return answer.key === key ? answer : { key, pending: true };
}

/** A recipe file read as `merge-lab merge` reads it, by the engine: the recipe, or every problem at once naming the file. */
export async function readRecipeFile(text: string, fileName: string): Promise<Recipe> {
  const client = useLabStore.getState().engineClient();
  if (!client) throw new MergeLabError('BACKEND_UNAVAILABLE', `${fileName} was not read: the engine is not running. Restart it from the status bar and import the recipe again.`);
  return client.call((e) => e.recipes.readRecipe(text, fileName));
}
