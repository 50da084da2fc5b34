/** Display names for models in charts: a demo task's label, else the model's id. */
import { useLabStore } from '../store/index.js';

export function useModelLabel(): (id: string) => string {
  const tasks = useLabStore((s) => s.tasks);
  return (id) => tasks.find((t) => t.id === id)?.label ?? id;
}

/** Percent with one decimal. */
export const pct = (v: number) => `${v.toFixed(1)}%`;
