/**
 * A chart's drawing, re-rendered only when what it draws changed. The frame around it re-renders
 * on every status change (computing → ready) and every slider move; redrawing a recharts tree then
 * cost this 2-core machine ~100 ms per chart on the main thread, delaying the answer that did matter.
 */
import { memo, useRef, type ReactNode } from 'react';

export interface DrawnProps {
  /** Everything `draw` reads; compared with Object.is, element by element. */
  readonly deps: readonly unknown[];
  readonly draw: () => ReactNode;
}

export const Drawn = memo(
  function Drawn({ draw }: DrawnProps) {
    return <>{draw()}</>;
  },
  (a, b) => a.deps.length === b.deps.length && a.deps.every((d, i) => Object.is(d, b.deps[i])),
);

/**
 * `value` itself while its content (`key`) is unchanged: an answer recomputed for a slider that does
 * not change it (task-vector cosines under a density move) then keeps its drawing as it is.
 */
export function useStable<T>(value: T, key: string): T {
  const kept = useRef<{ key: string; value: T } | undefined>(undefined);
  if (!kept.current || kept.current.key !== key) kept.current = { key, value };
  return kept.current.value;
}
