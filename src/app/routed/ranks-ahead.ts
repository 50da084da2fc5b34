/** Twin-Merging's rank slider: its range and the ranks worked on ahead of it. */
import { nextSteps, stepsEitherWay } from '../recipe/steps-ahead.js';

/** The rank slider's top: past it the demo's deltas hold little energy (the engine caps a rank at each matrix's own). */
export const TWIN_RANK_MAX = 32;

/**
 * Where the rank slider most likely goes next, for the engine to work on ahead (a new rank costs
 * two forwards, ~40–60 ms here): after a move of a step or two, two more the same way; with no
 * move (`before` undefined: the first view on a new shared expert), both neighbours; after a jump,
 * nothing (a wrong guess still running when the next request comes delays it by up to a stage).
 */
export function ranksAhead(before: number | undefined, now: number): number[] {
  const out = before === undefined || before === now ? stepsEitherWay(now, 1) : nextSteps(before, now, 1);
  return out.filter((r) => Number.isInteger(r) && r >= 1 && r <= TWIN_RANK_MAX);
}
