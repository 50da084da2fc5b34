/**
 * Whether a finished merge belongs on screen: the Merge panel shows a job's result, failure or
 * cancellation only while the lab's recipe and source are the ones it merged. Moving a slider or
 * switching method or models puts the panel back to "Merge" (saying what the last merge was for),
 * and moving back shows that merge again: its files are kept until the next merge.
 */
import { jobRecipeOf } from './engine-slice.js';
import type { JobRecipe, JobState, LabState } from './types.js';

/** The job as the panel shows it: a finished one for other settings or models is shown as idle, with `earlier` naming what it merged. */
export function shownJob(s: LabState): JobState & { readonly earlier?: JobRecipe } {
  const j = s.job;
  if (j.status === 'idle' || j.status === 'running' || j.status === 'cancelling' || !j.made) return j;
  const now = jobRecipeOf(s);
  return now.key === j.made.key && now.source === j.made.source ? j : { status: 'idle', earlier: j.made };
}

/** The shown job failed over the memory budget (the Merge panel then points at merging to disk). */
export function overBudgetShown(s: LabState): boolean {
  const j = shownJob(s);
  return j.status === 'failed' && j.error?.code === 'BUDGET_EXCEEDED';
}
