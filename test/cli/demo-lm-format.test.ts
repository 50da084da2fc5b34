/**
 * `merge-lab demo --suite lm`'s text (and demo-lm's, the same command): the rows' gains and bits per
 * byte with what validation chose, DARE's sd over drop seeds, Twin-Merging's λ choice, router and
 * mixed windows, Channel Merging's router and K sweep; and the suite's argument errors.
 */
import { describe, expect, it } from 'vitest';
import { formatLmDemo, formatLmTwin } from '../../src/cli/commands/demo-lm.js';
import type { LmDemoTable } from '../../src/engine/demo/lm-table.js';
import type { LmChannelResult } from '../../src/engine/routed/lm-channel.js';
import type { LmTwinDemoResult, LmLoss } from '../../src/engine/routed/lm-twin-demo.js';
import { runCliAsync } from './helpers.js';

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

const one = (mean: number) => ({ mean, sd: 0 });
const channel: LmChannelResult = {
  domains: ['a', 'b'],
  router: { architecture: 'small', reads: "the mean of the base's final hidden states", params: 99, epochs: 7, bestEpoch: 5, samples: { training: 6, heldOut: 2 }, heldOutAccuracy: 0.5, testAccuracy: 0.9, meanWeights: [[0.9, 0.1], [0.25, 0.75]] },
  mixed: { ids: ['m1', 'm2'], weights: [[0.6, 0.4], [0.5, 0.5]], meanLargestWeight: 0.55, base: loss(3.2), experts: { a: loss(3.4), b: loss(3.3) } },
  clusterings: [
    {
      clustering: 'kmeans',
      K: 1,
      kTarget: 95,
      groupMethod: 'ties',
      params: { density: 0.4, lambda: 1 },
      kSweep: [
        { K: 1, groupMethod: 'ties', similarity: 'raw', params: { density: 0.4, lambda: 1 }, validation: 96.25, bytes: 2048, ratio: 0.5 },
        { K: 2, groupMethod: 'average', similarity: 'raw', params: {}, validation: 100, bytes: 4096, ratio: 1 },
      ],
      oracle: { perDomain: [], normalized: 97 },
      router: { perDomain: [], normalized: 95 },
      mixed: loss(3.05),
    },
  ],
  rows: [],
};
const row = (method: string, perTask: number[], bits: number[], extra: Partial<LmDemoTable['rows'][number]> = {}, params: Record<string, number> = {}): LmDemoTable['rows'][number] => ({
  method,
  setting: {},
  normalized: one((perTask[0]! + perTask[1]!) / 2),
  perTask: perTask.map(one),
  bitsPerByte: bits.map(one),
  seeds: [{ seed: 1, params, normalized: (perTask[0]! + perTask[1]!) / 2, perTask, bitsPerByte: bits }],
  ...extra,
});
const lmTable: LmDemoTable = {
  suite: 'lm',
  seeds: [1],
  note: 'One trained seed.',
  tasks: ['a', 'b'],
  context: 128,
  windows: { validation: { a: 2, b: 3 }, router: { a: 8, b: 9 }, test: { a: 4, b: 5 }, mixed: 2 },
  rows: [
    row('base', [0, 0], [3, 3]),
    row('ties', [41.25, 50], [2.6, 2.75], {}, { lambda: 1, density: 0.2 }),
    row('dare_ties', [30, 40], [2.7, 2.8], { normalized: { mean: 35, sd: 2.5 }, sdOver: 'drop seeds 1, 2, 3', bitsPerByte: [{ mean: 2.7, sd: 0.0125 }, one(2.8)] }, { lambda: 0.6, density: 0.4 }),
    row('channel_merging', [95, 95], [2.1, 2.5], { setting: { kTarget: 95 }, clustering: 'kmeans' }, { K: 1, kTarget: 95, density: 0.4, lambda: 1 }),
  ],
  mixed: {
    twin: { setting: { rank: 16 }, meanLargestWeight: one(0.6543), soft: one(2.9), hard: one(3.1) },
    channel: { meanLargestWeight: one(0.55), routed: [{ clustering: 'kmeans', K: 1, bitsPerByte: one(3.05) }] },
    base: one(3.2),
    bestExpert: one(3.3),
    bestExpertDomain: 'b',
  },
  perSeed: [{ seed: 1, rows: [], grid: [], crossTask: { a: { a: 2, b: 3.5 }, b: { a: 3.25, b: 2.5 } }, twin: result, channel }],
};

describe('formatLmDemo', () => {
  it('prints the rows with what validation chose, bits per byte, DARE\'s sd, both routed reports and the mixed windows', () => {
    const text = formatLmDemo(lmTable, 'public/demo/lm');
    expect(text).toContain('seed 1: normalized gain');
    expect(text).toContain('(4/5 windows of 128 bytes); settings chosen on 2/3 validation windows. One trained seed.');
    expect(text).toMatch(/\| ties +\| +\| lambda 1 density 0\.2 +\| +41\.3 \| +50\.0 \| +45\.6 \|/);
    expect(text).toMatch(/\| dare_ties +\| +\| lambda 0\.6 density 0\.4 +\| +30\.0 \| +40\.0 \| 35\.0 ± 2\.5 \|/);
    // K is chosen per row; kTarget identifies the row and is not repeated among the chosen values.
    expect(text).toMatch(/\| channel_merging +\| kTarget 95, kmeans \| K 1 density 0\.4 lambda 1 \| +95\.0 \| +95\.0 \| +95\.0 \|/);
    expect(text).toContain('dare_ties: mean ± sd over its drop seeds 1, 2, 3');
    expect(text).toMatch(/\| dare_ties +\| +\| 2\.700 ± 0\.013 \| +2\.800 \|/);
    expect(text).toContain('λ 0.5 chosen on validation');
    expect(text).toContain('trained on 6 validation windows, 2 held out (accuracy 50.0 % at epoch 5 of 7); it sends 90.0 % of the test domain windows to their own domain');
    expect(text).toMatch(/\| b +\| +0\.250 \| +0\.750 \|/);
    expect(text).toMatch(/\| 1 \| ties +\| density 0\.4, lambda 1 \| +96\.3 \| .*\| +50\.0 % \|/);
    expect(text).toContain("the rows' K 1, the smallest K whose validation gain reaches 95 % of the best K's");
    expect(text).toContain('Twin-Merging (rank 16) mean largest weight 0.654, soft 2.900 against hard 3.100 bits per byte');
    expect(text).toContain("Channel Merging's router mean largest weight 0.550, looked up kmeans (K 1) 3.050 bits per byte; the base 3.200, the best single expert (b) 3.300");
    expect(text).toMatch(/\| b +\| +3\.250 \| +2\.500 \|/);
  });
});

describe('merge-lab demo --suite', () => {
  it('names what is wrong with the suite and its options before loading anything', async () => {
    const seeds = await runCliAsync(['demo', '--suite', 'lm', '--seeds', '1,2']);
    expect(seeds.status).not.toBe(0);
    expect(seeds.stderr).toContain('The LM demo is one trained seed: --seeds is for the digits suite');
    const suite = await runCliAsync(['demo', '--suite', 'text']);
    expect(suite.stderr).toContain('--suite must be digits or lm, got "text"');
    const temperature = await runCliAsync(['demo', '--temperature', '2']);
    expect(temperature.stderr).toContain('--temperature is for --suite lm');
    const router = await runCliAsync(['demo-lm', '--router', 'big']);
    expect(router.stderr).toContain('--router must be paper or small, got "big"');
  });
});
