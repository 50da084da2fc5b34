/**
 * The demo's method table: every merge method run on the five experts through the real engine
 * (planner, methods, runner), λ and density chosen on the validation split, scored on test. The
 * numbers a lecturer shows first: task arithmetic < TIES < the routed methods.
 */
import type { Checkpoint } from '../io/types.js';
import { mergeToMemory } from '../merge/merge-to-memory.js';
import { METHODS } from '../methods/registry.js';
import type { Recipe } from '../recipe/types.js';
import { DEMO_DTYPES } from './demo-dtype.js';
import { crossTaskMatrix, normalizedScore, type CrossTaskMatrix, type DemoScorer } from '../eval/score.js';
import { sweep } from '../eval/sweep.js';
import type { TaskSets, Weights } from './load.js';
import type { DemoManifest } from './manifest.js';

export interface MethodRow {
  readonly method: string;
  /** The chosen λ / density (empty for rows without a choice). */
  readonly params: Readonly<Record<string, number>>;
  /** Test accuracy per task, percent, in the table's task order. */
  readonly perTask: readonly number[];
  /** Normalized accuracy, percent: mean over tasks of merged / expert. */
  readonly normalized: number;
  /** Channel Merging's rows: how rows were grouped. */
  readonly clustering?: string;
}

export interface MethodTable {
  readonly tasks: readonly string[];
  readonly rows: readonly MethodRow[];
  /** Each expert (row) on each task (column), test accuracy in percent. */
  readonly crossTask: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** Everything the table needs, loaded once: opened checkpoints (the base as "base", experts by task id). */
export interface DemoSession {
  readonly manifest: DemoManifest;
  readonly tasks: readonly string[];
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly weights: Readonly<Record<string, Weights>>;
  readonly sets: { readonly validation: TaskSets; readonly test: TaskSets };
  readonly scorer: DemoScorer;
}

/** The values each sweep tries; `quick` is a coarse grid for tests. */
export interface SweepGrid {
  readonly lambda: readonly number[];
  readonly density: readonly number[];
}

export const FULL_GRID: SweepGrid = {
  lambda: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5],
  density: [0.1, 0.2, 0.3, 0.5, 0.7],
};
export const QUICK_GRID: SweepGrid = { lambda: [0.4, 1.0], density: [0.3, 0.7] };

type RecipeAt = (lambda: number, density: number) => Recipe;

/** The merge rows: each method's recipe over the experts, as a user would write it in YAML. */
function methodRecipes(tasks: readonly string[]): { method: string; sweeps: ('lambda' | 'density')[]; recipe: RecipeAt }[] {
  const experts = (params: (t: string) => Record<string, number>) => tasks.map((t) => ({ model: t, parameters: params(t) }));
  return [
    { method: 'average', sweeps: [], recipe: () => ({ mergeMethod: 'linear', models: experts(() => ({ weight: 1 })), ...DEMO_DTYPES }) },
    {
      method: 'task_arithmetic',
      sweeps: ['lambda'],
      recipe: (lambda) => ({ mergeMethod: 'task_arithmetic', baseModel: 'base', models: experts(() => ({ weight: 1 })), parameters: { lambda }, ...DEMO_DTYPES }),
    },
    ...(['ties', 'dare_ties', 'breadcrumbs'] as const).map((m) => ({
      method: m,
      sweeps: ['lambda', 'density'] as ('lambda' | 'density')[],
      recipe: (lambda: number, density: number): Recipe => ({ mergeMethod: m, baseModel: 'base', models: experts(() => ({ weight: 1, density })), parameters: { lambda }, ...DEMO_DTYPES }),
    })),
    { method: 'model_stock', sweeps: [], recipe: () => ({ mergeMethod: 'model_stock', baseModel: 'base', models: experts(() => ({})), ...DEMO_DTYPES }) },
  ];
}

export async function methodTable(s: DemoSession, grid: SweepGrid = FULL_GRID, onRow?: (row: MethodRow) => void): Promise<MethodTable> {
  const tasks = s.tasks;
  const rows: MethodRow[] = [];
  const add = (row: MethodRow) => {
    rows.push(row);
    onRow?.(row);
  };
  const pct = (accs: Readonly<Record<string, number>>) => tasks.map((t) => 100 * accs[t]!);

  const base = await s.scorer.score(s.weights.base!, 'test');
  add({ method: 'base', params: {}, perTask: pct(base.accuracies), normalized: base.normalized });
  // Each expert through the same path as every other row: a recipe (linear, the expert alone)
  // merged by the planner and runner, then scored. Its own-task accuracies are measured, not
  // copied from the scorer's normalizers (the test checks them against the trainer's record).
  const own: Record<string, number> = {};
  for (const t of tasks) {
    const merged = await mergeToMemory({ recipe: { mergeMethod: 'linear', models: [{ model: t, parameters: { weight: 1 } }], ...DEMO_DTYPES }, methods: METHODS, checkpoints: s.checkpoints });
    own[t] = (await s.scorer.score(merged, 'test')).accuracies[t]!;
  }
  add({ method: 'expert', params: {}, perTask: pct(own), normalized: normalizedScore(own, s.scorer.expertAccuracies.test, tasks) });

  for (const m of methodRecipes(tasks)) {
    const lambdas = m.sweeps.includes('lambda') ? grid.lambda : [1];
    const densities = m.sweeps.includes('density') ? grid.density : [1];
    const points: { lambda: number; density: number }[] = densities.flatMap((density) => lambdas.map((lambda) => ({ lambda, density })));
    const merge = async (i: number) => mergeToMemory({ recipe: m.recipe(points[i]!.lambda, points[i]!.density), methods: METHODS, checkpoints: s.checkpoints });
    const result = await sweep(points.map((_, i) => i), merge, s.scorer);
    const chosen = points[result.best.value]!;
    const params: Record<string, number> = {};
    if (m.sweeps.includes('lambda')) params.lambda = chosen.lambda;
    if (m.sweeps.includes('density')) params.density = chosen.density;
    add({ method: m.method, params, perTask: pct(result.best.test.accuracies), normalized: result.best.test.normalized });
  }
  const matrix: CrossTaskMatrix = await crossTaskMatrix(s.manifest.architecture, Object.fromEntries(tasks.map((t) => [t, s.weights[t]!])), s.sets.test);
  const crossTask = Object.fromEntries(Object.entries(matrix).map(([e, row]) => [e, Object.fromEntries(Object.entries(row).map(([t, a]) => [t, 100 * a]))]));
  return { tasks, rows, crossTask };
}
