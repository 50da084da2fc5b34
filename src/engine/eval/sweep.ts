/**
 * Sweeping one merge parameter (λ, density, ...) and choosing it on validation, reporting test:
 * choosing on the test split would overstate every method (the TIES paper tunes on validation
 * too). The merge itself comes in as a callback, so this knows nothing about methods.
 */
import type { Weights } from '../demo/load.js';
import { MergeLabError } from '../errors.js';
import type { DemoScorer, SplitScore } from './score.js';

export interface SweepPoint {
  readonly value: number;
  readonly validation: SplitScore;
  readonly test: SplitScore;
}

export interface SweepResult {
  readonly points: readonly SweepPoint[];
  /** Highest validation score; on a tie, the earliest value in the list. */
  readonly best: SweepPoint;
}

export interface SweepOptions {
  /** Called after each value, e.g. to draw the curve as it grows. */
  onPoint?: (point: SweepPoint, index: number) => void;
  /** Stops between values with CANCELLED. */
  signal?: AbortSignal;
}

/** Merges at each of `values` and scores each merge on validation and test. */
export async function sweep(
  values: readonly number[],
  mergeAt: (value: number) => Weights | Promise<Weights>,
  scorer: Pick<DemoScorer, 'score'>,
  options: SweepOptions = {},
): Promise<SweepResult> {
  if (values.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'A sweep needs at least one value.');
  const points: SweepPoint[] = [];
  for (const [i, value] of values.entries()) {
    if (options.signal?.aborted) throw new MergeLabError('CANCELLED', `Sweep cancelled after ${points.length} of ${values.length} values.`);
    const weights = await mergeAt(value);
    const point = { value, validation: await scorer.score(weights, 'validation'), test: await scorer.score(weights, 'test') };
    points.push(point);
    options.onPoint?.(point, i);
  }
  const best = points.reduce((a, b) => (b.validation.normalized > a.validation.normalized ? b : a));
  return { points, best };
}

/** from, from + step, ... up to `to` inclusive, rounded so 0.1 steps print as 0.3, not 0.30000000000000004. */
export function sweepValues(from: number, to: number, step: number): number[] {
  if (!(step > 0) || !(to >= from)) throw new MergeLabError('PARAMETER_INVALID', `Cannot sweep from ${from} to ${to} in steps of ${step}.`);
  const n = Math.floor((to - from) / step + 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Math.round((from + i * step) * 1e9) / 1e9);
}
