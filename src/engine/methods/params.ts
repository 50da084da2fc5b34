/**
 * Parameter specs shared by several methods, with mergekit's names, defaults and meanings.
 * Ranges are what makes sense for the math; the UI's slider ranges come from `ui`.
 */
import type { ParamSpec } from './types.js';

export const WEIGHT: ParamSpec = {
  name: 'weight',
  scope: 'model',
  type: 'number',
  required: true,
  ui: { min: -1, max: 2, step: 0.05 },
  help: "How much of this model's task vector (or of the model itself, for linear) goes into the merge.",
};

export const DENSITY: ParamSpec = {
  name: 'density',
  scope: 'model',
  type: 'number',
  default: 1,
  min: 0,
  max: 1,
  ui: { min: 0, max: 1, step: 0.01 },
  help: 'Fraction of task-vector entries kept before combining (1 keeps all).',
};

export const GAMMA: ParamSpec = {
  name: 'gamma',
  scope: 'model',
  type: 'number',
  default: 0.01,
  min: 0,
  max: 1,
  ui: { min: 0, max: 0.2, step: 0.005 },
  help: 'Fraction of the largest-magnitude entries dropped as outliers (breadcrumbs).',
};

export const EPSILON: ParamSpec = {
  name: 'epsilon',
  scope: 'model',
  type: 'number',
  default: 0.15,
  min: 0,
  max: 0.5,
  maxExclusive: true,
  ui: { min: 0, max: 0.45, step: 0.01 },
  help: 'Spread of keep probabilities around density, from low- to high-magnitude entries (DELLA).',
};

export const LAMBDA: ParamSpec = {
  name: 'lambda',
  scope: 'global',
  type: 'number',
  default: 1,
  ui: { min: 0, max: 2, step: 0.05 },
  help: 'Scales the combined task vector before it is added to the base (λ).',
};

export function normalizeParam(defaultValue: boolean, help: string): ParamSpec {
  return { name: 'normalize', scope: 'global', type: 'boolean', default: defaultValue, help };
}

export function rescaleParam(defaultValue: boolean): ParamSpec {
  return {
    name: 'rescale',
    scope: 'global',
    type: 'boolean',
    default: defaultValue,
    help: 'After sparsifying, scale each task vector back to its original L1 norm.',
  };
}

export const INT8_MASK: ParamSpec = {
  name: 'int8_mask',
  scope: 'global',
  type: 'boolean',
  default: false,
  help: "Accepted for mergekit compatibility (a memory saving there); it does not change the result.",
};

/** A resolved parameter as a number (a boolean as 0/1), or `fallback` when it is unset. */
export function numberParam(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : fallback;
}
