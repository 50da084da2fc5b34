/**
 * The Merge panel's job is the answer to one recipe (src/app/store/job-shown.ts): a finished merge,
 * failure or cancellation is shown only while the lab's recipe and models are the ones merged;
 * another slider value, method or source shows "Merge" again and names what the last merge was
 * for, and setting the values back shows that merge again. A running merge is always shown.
 */
import { describe, expect, it } from 'vitest';
import { jobRecipeOf } from '../../src/app/store/engine-slice.js';
import { useLabStore } from '../../src/app/store/index.js';
import { overBudgetShown, shownJob } from '../../src/app/store/job-shown.js';
import type { DroppedModel, JobState, LabState } from '../../src/app/store/types.js';

const model = (id: string, role: DroppedModel['role']): DroppedModel => ({ id, name: `${id}.safetensors`, files: 1, role, status: 'ready' });

/**
 * The user's checkpoints, TIES at density 0.3, λ 1 (a state, not the store: nothing is asked of an
 * engine). The store's other settings are whatever earlier files in this worker left (isolate: false):
 * those the recipe reads are set here.
 */
const mine = (patch: Partial<LabState> = {}): LabState => ({
  ...useLabStore.getState(),
  stack: { ...useLabStore.getState().stack, enabled: false },
  perModel: {},
  globals: {},
  source: 'mine',
  dropped: [model('job-base', 'base'), model('job-a', 'expert'), model('job-b', 'expert')],
  method: 'ties',
  density: 0.3,
  lambda: 1,
  ...patch,
});

/** `s` with a job of `status` made for its own recipe. */
const withJob = (s: LabState, status: JobState['status'], extra: Partial<JobState> = {}): LabState => ({ ...s, job: { id: 'merge-1', status, made: jobRecipeOf(s), ...extra } });

describe('the job the Merge panel shows', () => {
  it('a finished merge is shown for its own recipe, and no longer once λ, the method or the source changed; setting λ back shows it again', () => {
    const done = withJob(mine(), 'done');
    expect(done.job.made!.key, 'the recipe is made').not.toMatch(/^error/);
    expect(shownJob(done)).toBe(done.job);
    const moved = shownJob({ ...done, lambda: 0.9 });
    expect(moved.status).toBe('idle');
    expect(moved.earlier).toMatchObject({ method: 'ties', source: 'mine' });
    expect(shownJob({ ...done, lambda: 0.9, method: 'task_arithmetic' }).status).toBe('idle');
    expect(shownJob({ ...done, method: 'task_arithmetic' }).earlier?.method).toBe('ties');
    const elsewhere = shownJob({ ...done, source: 'demo' });
    expect(elsewhere.status).toBe('idle');
    expect(elsewhere.earlier?.source).toBe('mine');
    // Another model set under the same names is another recipe too.
    expect(shownJob({ ...done, dropped: done.dropped.slice(0, 2) }).status).toBe('idle');
    expect(shownJob({ ...done, lambda: 1 })).toBe(done.job);
  });

  it('a failure or cancellation goes with its recipe; a running merge stays whatever moves', () => {
    const cancelled = withJob(mine(), 'cancelled');
    expect(shownJob(cancelled).status).toBe('cancelled');
    expect(shownJob({ ...cancelled, density: 0.5 }).status).toBe('idle');
    const over = withJob(mine(), 'failed', { error: { code: 'BUDGET_EXCEEDED', message: 'over' } });
    expect(overBudgetShown(over)).toBe(true);
    expect(overBudgetShown({ ...over, method: 'dare_ties' })).toBe(false);
    const running = withJob(mine(), 'running');
    expect(shownJob({ ...running, method: 'linear', source: 'demo' })).toBe(running.job);
  });

  it('a merge refused before it started (no recipe) is shown while the recipe is still refused, not once it is fixed', () => {
    const refused = withJob(mine({ dropped: [model('job-a', 'expert'), model('job-b', 'expert')] }), 'failed', { error: { code: 'RECIPE_PROBLEMS', message: 'no base' } });
    expect(refused.job.made?.key).toMatch(/^error/);
    expect(shownJob(refused).status).toBe('failed');
    expect(shownJob({ ...refused, dropped: [model('job-base', 'base'), ...refused.dropped] }).status).toBe('idle');
  });
});
