/**
 * The embedded teaching demo: its manifest, the digits data and the task transforms. Browser-safe;
 * the host supplies bytes (fetch, or fs in Node). Evaluation lives in ../eval.
 */
export {
  ACTIVATIONS,
  DEMO_FORMAT,
  DEMO_VERSION,
  architectureTensors,
  parseManifest,
  scoredTasks,
  type Activation,
  type Architecture,
  type DemoDataset,
  type DemoManifest,
  type DemoSplit,
  type DemoTask,
  type DenseLayer,
  type MeasuredAccuracy,
} from './manifest.js';
export { TRANSFORM_TYPES, applyTransform, describeTransform, type ImageShape, type Transform, type TransformType } from './transforms.js';
export { decodeDigitsCsv, gunzip, parseDigitsCsv, selectRows, taskSet, type Digits, type LabeledSet, type TaskDefinition } from './dataset.js';
export { buildTaskSets, checkWeights, readDemoWeights, type SplitName, type TaskSets, type Weights } from './load.js';
export { createRandom, randomInt, shuffleInPlace } from '../random.js';
