/**
 * A path the engine gives under a dropped model's id, said with the name the user dropped it as: a
 * folder whose name was taken is opened as "base-2" (the digits demo's base holds "base" in the
 * worker), and "base-2/tokenizer.json" names no file the user has; "base/tokenizer.json" does.
 */
import { useCallback } from 'react';
import { useLabStore } from '../store/index.js';

export function useDroppedPath(): (path: string) => string {
  // A string, not an array of pairs: a selector must return the same value while nothing changed.
  const renamed = useLabStore((s) => s.dropped.filter((m) => m.name !== m.id).map((m) => `${m.id}\u0000${m.name}`).join('\u0001'));
  return useCallback(
    (path: string) => {
      for (const entry of renamed ? renamed.split('\u0001') : []) {
        const [id, name] = entry.split('\u0000') as [string, string];
        if (path.startsWith(`${id}/`)) return `${name}/${path.slice(id.length + 1)}`;
      }
      return path;
    },
    [renamed],
  );
}
