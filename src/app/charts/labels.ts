/** Display names for models in charts: a demo task's label (the digits demo's, or the LM demo's domain's), else the model's id. */
import { useCallback } from 'react';
import { useLabStore } from '../store/index.js';

/** Stable while the task list is, so memoised drawings that use it are not redrawn needlessly. */
export function useModelLabel(): (id: string) => string {
  const tasks = useLabStore((s) => s.tasks);
  const domains = useLabStore((s) => s.lmDemo.domains);
  return useCallback((id: string) => tasks.find((t) => t.id === id)?.label ?? domains.find((d) => d.id === id)?.label ?? id, [tasks, domains]);
}

/** Percent with one decimal. */
export const pct = (v: number) => `${v.toFixed(1)}%`;
