/** Evaluating demo models: forward pass, per-task and normalized accuracy, cross-task matrix, parameter sweeps. */
export { accuracy, forward, fractionCorrect, predict, predictSets } from './forward.js';
export {
  createDemoScorer,
  crossTaskMatrix,
  normalizedScore,
  ownTaskAccuracies,
  taskAccuracies,
  type CrossTaskMatrix,
  type DemoScorer,
  type SplitScore,
  type TaskAccuracies,
} from './score.js';
export { sweep, sweepValues, type SweepOptions, type SweepPoint, type SweepResult } from './sweep.js';
export type { Weights } from '../demo/load.js';
