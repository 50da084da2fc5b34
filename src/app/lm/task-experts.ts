/**
 * Which expert a task's text belongs to, for the normalized gain: by name (the text's file name
 * without its extension against the experts' ids, ignoring case and punctuation: "code.txt" →
 * "code", then an expert whose id contains the name or is contained in it, when exactly one does),
 * else none until the user picks one.
 */

const plain = (s: string) => s.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');

/** The text file's name without its last extension. */
export const textStem = (name: string) => name.replace(/\.[^.]+$/, '');

/** The expert whose id matches the text's name, if one does (see the file's header). */
export function matchExpert(textName: string, experts: readonly string[]): string | undefined {
  const stem = plain(textStem(textName));
  if (!stem) return undefined;
  const exact = experts.filter((e) => plain(e) === stem);
  if (exact.length === 1) return exact[0];
  if (exact.length > 1) return undefined;
  const near = experts.filter((e) => {
    const id = plain(e);
    return id.length >= 2 && (id.includes(stem) || stem.includes(id));
  });
  return near.length === 1 ? near[0] : undefined;
}

/**
 * The expert of each text: the user's choice (an expert id; null: none) while that expert is
 * still among `experts`, else the name match.
 */
export function taskExpert(textName: string, chosen: string | null | undefined, experts: readonly string[]): { readonly expert: string | undefined; readonly how: 'chosen' | 'name' | 'none' } {
  if (chosen === null) return { expert: undefined, how: 'chosen' };
  if (chosen !== undefined && experts.includes(chosen)) return { expert: chosen, how: 'chosen' };
  const matched = matchExpert(textName, experts);
  return matched ? { expert: matched, how: 'name' } : { expert: undefined, how: 'none' };
}
