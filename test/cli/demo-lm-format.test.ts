/** `merge-lab demo-lm`'s text: the λ choice, each row's gains per domain (router / oracle), the router and the mixed windows' numbers, from the result it prints. */
import { describe, expect, it } from 'vitest';
import { formatLmTwin } from '../../src/cli/commands/demo-lm.js';
import type { LmTwinDemoResult, LmLoss } from '../../src/engine/routed/lm-twin-demo.js';

const loss = (bitsPerByte: number): LmLoss => ({ tokens: 10, nll: bitsPerByte * 10 * Math.LN2, loss: bitsPerByte * Math.LN2, bitsPerByte });

const result: LmTwinDemoResult = {
  domains: ['a', 'b'],
  context: 128,
  split: 'test',
  windows: { validation: { a: 8, b: 9 }, test: { a: 4, b: 5 }, mixed: 2 },
  lambda: 0.5,
  lambdaSweep: [{ lambda: 0.3, validation: 80.25 }, { lambda: 0.5, validation: 90.5 }],
  router: { architecture: 'paper', reads: 'the mean', epochs: 12, bestEpoch: 9, samples: { training: 13, heldOut: 4 }, heldOutAccuracy: 0.75, testAccuracy: 0.875 },
  references: { a: { base: loss(3), expert: loss(2) }, b: { base: loss(3), expert: loss(2.5) } },
  rows: [
    {
      method: 'twin_merging',
      setting: { rank: 16 },
      lambda: 0.5,
      perDomain: [
        { domain: 'a', router: loss(2.2), oracle: loss(2.1), gainRouter: 0.8, gainOracle: 0.9 },
        { domain: 'b', router: loss(2.6), oracle: loss(2.55), gainRouter: 0.812, gainOracle: 0.9 },
      ],
      normalized: { router: 80.6, oracle: 90 },
      mixed: { windows: 2, meanLargestWeight: 0.6543, weights: [[0.6, 0.4], [0.3, 0.7]], ids: ['m1', 'm2'], soft: loss(2.9), hard: loss(3.1), base: loss(3.2), experts: { a: loss(3.4), b: loss(3.3) } },
    },
  ],
};

describe('formatLmTwin', () => {
  it('prints the rows, the λ choice, the router and the mixed windows', () => {
    const text = formatLmTwin(result, 'public/demo/lm');
    expect(text).toContain('λ 0.5 chosen on validation');
    expect(text).toContain('λ 0.3: 80.3, λ 0.5: 90.5');
    expect(text).toMatch(/\| rank 16 \| +80\.0 \/ 90\.0 \| +81\.2 \/ 90\.0 \| +80\.6 \| +90\.0 \|/);
    expect(text).toContain('accuracy 75.0 % at epoch 9 of 12');
    expect(text).toContain('routes 87.5 % of the test domain windows');
    expect(text).toMatch(/\| rank 16 \| +0\.654 \| +2\.900 \| +3\.100 \| +3\.200 \| +3\.300 \(b\) \|/);
  });
});
