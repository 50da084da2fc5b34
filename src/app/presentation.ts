/**
 * Presentation mode and hidden parts, set from the URL like the TensorFlow Playground's `*_hide`
 * flags: `#present=1` enlarges the type for a projector, `&controls_hide=1` (and the other keys in
 * HIDEABLE) leaves a part out, so a lecturer can share a link that shows just what the class needs.
 */
import { useLabStore } from './store/index.js';

export const HIDEABLE = ['status', 'tabs', 'explain', 'controls', 'recipe', 'job', 'accuracy', 'sweep', 'conflicts', 'cosines', 'spectrum', 'layers', 'storage', 'routing', 'assignment', 'lm'] as const;
export type Hideable = (typeof HIDEABLE)[number];

export function isHideable(key: string): key is Hideable {
  return (HIDEABLE as readonly string[]).includes(key);
}

/** `hide('spectrum')` is true when the URL asked to leave the spectrum out. */
export function useHidden(): (part: Hideable) => boolean {
  const hidden = useLabStore((s) => s.hidden);
  return (part) => hidden.includes(part);
}
