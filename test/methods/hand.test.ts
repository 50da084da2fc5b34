/**
 * Every method against values worked out by hand on tiny tensors (tolerance 1e-6 relative: the
 * inputs are exact in float32 and the arithmetic is a few operations deep).
 */
import { describe, expect, it } from 'vitest';
import { expectClose, runMethod } from './helpers.js';

const base = { isBase: true, values: [1, 1, 1, 1] };

describe('task_arithmetic', () => {
  it('adds λ · Σ w·τ to the base', () => {
    // τa = [1, -1, 2, 0], τb = [-2, 2, 2, 4]; 0.5·τa + 0.25·τb = [0, 0, 1.5, 1]; λ = 2.
    const { values } = runMethod('task_arithmetic', {
      shape: [2, 2],
      models: [base, { values: [2, 0, 3, 1], params: { weight: 0.5 } }, { values: [-1, 3, 3, 5], params: { weight: 0.25 } }],
      global: { lambda: 2 },
    });
    expectClose(values, [1, 1, 4, 3]);
  });
  it('normalize divides by Σ w', () => {
    const { values } = runMethod('task_arithmetic', {
      shape: [4],
      models: [base, { values: [2, 0, 3, 1], params: { weight: 0.5 } }, { values: [-1, 3, 3, 5], params: { weight: 0.25 } }],
      global: { normalize: true },
    });
    // [0, 0, 1.5, 1] / 0.75
    expectClose(values, [1, 1, 3, 1 + 4 / 3]);
  });
});

describe('ties', () => {
  it('trims, elects by summed mass and averages the agreeing entries', () => {
    // τa = [3, -1, 0.5, -2], density 0.5 keeps the two largest |τ|: [3, 0, 0, -2]
    // τb = [-1, -2, 1, 1], density 0.5 keeps [0, -2, 0, 0]... ties between |1| entries: 3 entries
    // of |1| compete for one slot after -2; torch's stable order keeps the lowest index (0).
    // So τb' = [-1, -2, 0, 0]. Weights 1, 1. Sum = [2, -2, 0, -2]: signs + - + -.
    // Entry 0: a (+3) agrees, b (-1) does not → 3 / 1. Entry 1: b → -2 / 1. Entry 2: nothing
    // nonzero → 0 (divisor 0 → 1). Entry 3: a (-2) agrees → -2.
    const { values } = runMethod('ties', {
      shape: [4],
      models: [
        { isBase: true, values: [0, 0, 0, 0] },
        { values: [3, -1, 0.5, -2], params: { weight: 1, density: 0.5 } },
        { values: [-1, -2, 1, 1], params: { weight: 1, density: 0.5 } },
      ],
    });
    expectClose(values, [3, -2, 0, -2]);
  });
  it('divides by the weights of the agreeing models only', () => {
    const { values } = runMethod('ties', {
      shape: [2],
      models: [
        { isBase: true, values: [1, 1] },
        { values: [2, 3], params: { weight: 2 } },
        { values: [3, 0], params: { weight: 1 } },
      ],
    });
    // u_a = [2, 4], u_b = [2, -1]; sums [4, 3] → +, +. Entry 0: (2+2)/(2+1); entry 1: 4/2.
    expectClose(values, [1 + 4 / 3, 3]);
  });
  it('with density 1 and one model equals task arithmetic (normalize off)', () => {
    const models = [base, { values: [2, -3, 0.5, 7], params: { weight: 0.8 } }];
    const t = runMethod('ties', { shape: [4], models, global: { normalize: false, lambda: 0.7 } }).values;
    const ta = runMethod('task_arithmetic', { shape: [4], models, global: { lambda: 0.7 } }).values;
    expectClose(t, ta);
  });
});

describe('breadcrumbs', () => {
  it('drops the smallest entries and the top gamma outliers', () => {
    // n = 10, density 0.5, gamma 0.1: nTop = 1, nBot = 10 − 5 − 1 = 4; keep sorted positions [4, 9).
    const tau = [10, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const { values } = runMethod('breadcrumbs', {
      shape: [10],
      models: [{ isBase: true, values: new Array(10).fill(0) }, { values: tau, params: { weight: 1, density: 0.5, gamma: 0.1 } }],
    });
    // sorted |τ| ascending: 1..10; positions 4..8 hold 5, 6, 7, 8, 9.
    expectClose(values, [0, 0, 0, 0, 0, 5, 6, 7, 8, 9]);
  });
  it('reproduces mergekit: gamma·n < 1 drops every entry, with a warning', () => {
    const { values, warnings } = runMethod('breadcrumbs', {
      shape: [4],
      models: [base, { values: [2, 3, 4, 5], params: { weight: 1, density: 0.5 } }],
    });
    expectClose(values, [1, 1, 1, 1]);
    expect(warnings.join(' ')).toMatch(/gamma·n < 1 for tensor model\.layers\.0\.mlp\.weight/);
  });
  it('breadcrumbs_ties elects signs after the trim', () => {
    const zeros = new Array(10).fill(0);
    const { values } = runMethod('breadcrumbs_ties', {
      shape: [10],
      models: [
        { isBase: true, values: zeros },
        { values: [10, 1, 2, 3, 4, 5, 6, 7, 8, 9], params: { weight: 1, density: 0.5, gamma: 0.1 } },
        { values: [-10, -1, -2, -3, -4, -50, -60, -7, -8, -9], params: { weight: 1, density: 0.5, gamma: 0.1 } },
      ],
    });
    // a keeps [_,_,_,_,_,5,6,7,8,9]; b keeps |.| positions 4..8 of sorted [1,2,3,4,7,8,9,10,50,60]:
    // 7, 8, 9, 10, 50 → indices 7, 8, 9, 0, 5. Index 5: 5 − 50 < 0, b wins; indices 7–9 sum to
    // exactly 0, and a zero sum elects "+" (S ≥ 0), so a's entries stay. normalize is off.
    expectClose(values, [-10, 0, 0, 0, 0, -50, 6, 7, 8, 9]);
  });
});

describe('linear', () => {
  it('is the weighted mean of the models, base included when it has a weight', () => {
    const { values } = runMethod('linear', {
      shape: [2],
      models: [
        { isBase: true, values: [0, 4], params: { weight: 1 } },
        { values: [3, 0], params: { weight: 3 } },
      ],
    });
    expectClose(values, [9 / 4, 1]);
  });
  it('without normalize is the weighted sum', () => {
    const { values } = runMethod('linear', {
      shape: [2],
      models: [{ values: [1, 2], params: { weight: 2 } }, { values: [3, 4], params: { weight: -1 } }],
      global: { normalize: false },
    });
    expectClose(values, [-1, 0]);
  });
});

describe('slerp', () => {
  it('follows the great circle between orthogonal vectors', () => {
    const { values } = runMethod('slerp', {
      shape: [2],
      models: [{ isBase: true, values: [1, 0] }, { values: [0, 2] }],
      global: { t: 0.5 },
    });
    // θ = π/2: s0 = s1 = sin(π/4)/1.
    expectClose(values, [Math.SQRT1_2, 2 * Math.SQRT1_2]);
  });
  it('falls back to linear interpolation for nearly parallel vectors', () => {
    const { values } = runMethod('slerp', {
      shape: [2],
      models: [{ isBase: true, values: [1, 0] }, { values: [2, 0.0001] }],
      global: { t: 0.25 },
    });
    expectClose(values, [1.25, 0.000025]);
  });
});

describe('model_stock', () => {
  it('interpolates towards the mean by t = N·cos / (1 + (N−1)·cos)', () => {
    // offsets [1, 0] and [0, 1]: cos = 0 → t = 0 → the base.
    const r0 = runMethod('model_stock', {
      shape: [2],
      models: [{ isBase: true, values: [1, 1] }, { values: [2, 1] }, { values: [1, 2] }],
    }).values;
    expectClose(r0, [1, 1]);
    // offsets [1, 0] and [1, 1]: cos = 1/√2, N = 2 → t = 2c / (1 + c).
    const c = Math.SQRT1_2;
    const t = (2 * c) / (1 + c);
    const r1 = runMethod('model_stock', {
      shape: [2],
      models: [{ isBase: true, values: [0, 0] }, { values: [1, 0] }, { values: [1, 1] }],
    }).values;
    expectClose(r1, [t * 1, t * 0.5]);
  });
  it('filter_wise computes one angle per row', () => {
    // Row 0: offsets [1,0],[0,1] → t 0. Row 1: identical offsets [1,1] → cos 1 → t 1 → mean.
    const { values } = runMethod('model_stock', {
      shape: [2, 2],
      models: [{ isBase: true, values: [0, 0, 0, 0] }, { values: [1, 0, 1, 1] }, { values: [0, 1, 1, 1] }],
      global: { filter_wise: true },
    });
    expectClose(values, [0, 0, 1, 1]);
  });
});
