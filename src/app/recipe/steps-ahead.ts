/**
 * Where a slider most likely goes next, for the engine to work on ahead: the same guess for every
 * slider (density, λ, Twin-Merging's rank). Values are rounded so that 0.31 + 0.01 is the 0.32 the
 * slider sends.
 */

const rounded = (v: number) => Number(v.toFixed(10));

/**
 * After a move from `before` to `now` of a step or two (keys, a slow drag): two more the same way,
 * so that while the next one is asked for (and drawn) the one after is already under way. After a
 * jump, or no move, nothing: the next value is anyone's guess, and guessing wrong costs the engine
 * time the next real request needs.
 */
export function nextSteps(before: number, now: number, step: number | undefined): number[] {
  if (before === now || Math.abs(now - before) > 2 * (step ?? 0) + 1e-9) return [];
  return [1, 2].map((k) => rounded(now + k * (now - before)));
}

/** One step either way of where a slider rests (up first). */
export function stepsEitherWay(now: number, step: number | undefined): number[] {
  return [1, -1].map((k) => rounded(now + k * (step ?? 0)));
}
