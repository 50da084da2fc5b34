/**
 * Scoring merged models on the demo's tasks: per-task accuracy, the normalized accuracy used in
 * the merging literature (mean over tasks of merged / fine-tuned expert, as in TIES-Merging,
 * Yadav et al. 2023, §5), and the cross-task matrix (each expert on each task).
 */
import type { TaskSets, Weights } from '../demo/load.js';
import type { Architecture } from '../demo/manifest.js';
import { MergeLabError } from '../errors.js';
import { fractionCorrect, predictSets } from './forward.js';

/** Task id → accuracy (0..1). */
export type TaskAccuracies = Readonly<Record<string, number>>;

/** Accuracy of one model on each task in `sets` (one forward pass over all of them). */
export async function taskAccuracies(arch: Architecture, weights: Weights, sets: TaskSets): Promise<TaskAccuracies> {
  const entries = Object.entries(sets);
  const predictions = await predictSets(arch, weights, entries.map(([, s]) => s));
  return Object.fromEntries(entries.map(([id, set], i) => [id, fractionCorrect(predictions[i]!, set.labels)]));
}

/**
 * Normalized accuracy in percent: mean over `tasks` (default: every task in `expertAccuracies`)
 * of accuracies[task] / expertAccuracies[task] × 100.
 */
export function normalizedScore(accuracies: TaskAccuracies, expertAccuracies: TaskAccuracies, tasks: readonly string[] = Object.keys(expertAccuracies)): number {
  if (tasks.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'A normalized score needs at least one task.');
  let sum = 0;
  for (const t of tasks) {
    const a = accuracies[t];
    const e = expertAccuracies[t];
    if (a === undefined || e === undefined) throw new MergeLabError('PARAMETER_INVALID', `No accuracy for task "${t}" to normalize.`);
    if (!(e > 0)) throw new MergeLabError('PARAMETER_INVALID', `The expert for task "${t}" has accuracy 0; its normalized score is undefined.`);
    sum += a / e;
  }
  return (100 * sum) / tasks.length;
}

/** Each expert's accuracy on each task: matrix[expertTaskId][taskId]. The diagonal is "expert on its own task". */
export type CrossTaskMatrix = Readonly<Record<string, TaskAccuracies>>;

export async function crossTaskMatrix(arch: Architecture, experts: Readonly<Record<string, Weights>>, sets: TaskSets): Promise<CrossTaskMatrix> {
  const rows: [string, TaskAccuracies][] = [];
  for (const [id, w] of Object.entries(experts)) rows.push([id, await taskAccuracies(arch, w, sets)]);
  return Object.fromEntries(rows);
}

/** The diagonal of a cross-task matrix: each expert on its own task, the normalizer of {@link normalizedScore}. */
export function ownTaskAccuracies(matrix: CrossTaskMatrix): TaskAccuracies {
  return Object.fromEntries(
    Object.entries(matrix).map(([id, row]) => {
      const own = row[id];
      if (own === undefined) throw new MergeLabError('PARAMETER_INVALID', `The cross-task matrix has no column for expert "${id}"'s own task.`);
      return [id, own];
    }),
  );
}

/** One model scored on one split: per-task accuracy and the normalized score over the scored tasks. */
export interface SplitScore {
  readonly accuracies: TaskAccuracies;
  readonly normalized: number;
}

/**
 * A scorer bound to the demo's tasks and its experts' own-task accuracies on validation and test,
 * so sweeps can pick on validation and report test without re-evaluating the experts each time.
 */
export interface DemoScorer {
  readonly tasks: readonly string[];
  /** Each expert on its own task, per split: the normalizers. */
  readonly expertAccuracies: { readonly validation: TaskAccuracies; readonly test: TaskAccuracies };
  score(weights: Weights, split: 'validation' | 'test'): Promise<SplitScore>;
}

export async function createDemoScorer(
  arch: Architecture,
  sets: { readonly validation: TaskSets; readonly test: TaskSets },
  experts: Readonly<Record<string, Weights>>,
  tasks: readonly string[] = Object.keys(experts),
): Promise<DemoScorer> {
  const only = (s: TaskSets): TaskSets =>
    Object.fromEntries(
      tasks.map((t) => {
        const set = s[t];
        if (!set) throw new MergeLabError('PARAMETER_INVALID', `No data for task "${t}".`);
        return [t, set];
      }),
    );
  const chosen = { validation: only(sets.validation), test: only(sets.test) };
  const own = async (s: TaskSets): Promise<TaskAccuracies> => {
    const out: Record<string, number> = {};
    for (const t of tasks) {
      const w = experts[t];
      if (!w) throw new MergeLabError('PARAMETER_INVALID', `No expert for task "${t}".`);
      out[t] = (await taskAccuracies(arch, w, { [t]: s[t]! }))[t]!;
    }
    return out;
  };
  const expertAccuracies = { validation: await own(chosen.validation), test: await own(chosen.test) };
  return {
    tasks,
    expertAccuracies,
    async score(weights, split) {
      const accuracies = await taskAccuracies(arch, weights, chosen[split]);
      return { accuracies, normalized: normalizedScore(accuracies, expertAccuracies[split], tasks) };
    },
  };
}
