/**
 * The text of `merge-lab demo` from its JSON (formatDemo), without running the demo: the rows over
 * the seeds (mean ± sd, each seed's choices), the rank sweep and the K sweeps with storage and
 * conflicts against random groupings, routing on mixed inputs, the cross-task matrix.
 * (test/demo/method-table.test.ts runs `demo --quick --json` once for the numbers.)
 */
import { describe, expect, it } from 'vitest';
import { formatDemo, type DemoOutput } from '../../src/cli/commands/demo.js';
import type { ChannelClusteringTables } from '../../src/engine/routed/demo.js';

const tasks = ['invert', 'permute'];
const st = (mean: number, sd = 0) => ({ mean, sd });
const row = (method: string, setting: Record<string, number>, params: Record<string, number>[], perTask: number[], normalized: [number, number], clustering?: string) => ({
  method,
  setting,
  ...(clustering ? { clustering } : {}),
  normalized: st(...normalized),
  perTask: perTask.map((a) => st(a)),
  seeds: params.map((p, i) => ({ seed: i + 1, params: { ...setting, ...p }, normalized: normalized[0], perTask })),
});
const sweep = (clustering: 'kmeans' | 'average_linkage'): ChannelClusteringTables => ({
  clustering,
  K: 2,
  groupMethod: 'ties',
  similarity: 'raw' as const,
  kSweep: [
    { K: 1, groupMethod: 'ties', similarity: 'raw' as const, params: { lambda: 1, density: 0.3 }, validation: 79, oracle: 77.9, router: 77.9, bytes: 312400, expertBytes: 1536200, ratio: 0.203, conflicts: { within: 0.482, across: null, random: { within: 0.482, across: null } } },
    { K: 2, groupMethod: 'average', similarity: 'trimmed' as const, params: {}, validation: 100, oracle: 100, bytes: 619700, expertBytes: 1536200, ratio: 0.403, conflicts: { within: null, across: 0.483, random: { within: null, across: 0.483 } } },
  ],
});
const mixed = { pairs: [], meanLargestWeight: 0.861, weightOnPair: 0.821, soft: 51.1, hard: 49.2, even: 57.1, bestExpert: 59.1 };
const router = { architecture: 'paper', hidden: 2048, params: 6_313_989, epochs: 5, bestEpoch: 2, curve: [] };
const demo: DemoOutput = {
  seeds: [1, 2],
  tasks,
  rows: [
    row('expert', {}, [{}, {}], [93.1, 92.5], [100, 0]),
    row('ties', {}, [{ lambda: 1, density: 0.3 }, { lambda: 0.9, density: 0.3 }], [54.2, 87.2], [77.9, 1.234]),
    row('twin_merging', { rank: 4 }, [{ lambda: 0.2 }, { lambda: 0.3 }], [90.8, 90.6], [97.4, 0.3]),
    row('twin_merging_oracle', { rank: 4 }, [{ lambda: 0.2 }, { lambda: 0.3 }], [90.8, 90.6], [97.45, 0.3]),
    row('channel_merging', { kTarget: 95 }, [{ K: 2, lambda: 1, density: 0.3 }, { K: 3, lambda: 1, density: 0.3 }], [88.9, 90.8], [94.5, 0.5], 'kmeans'),
  ],
  mixed: { meanLargestWeight: st(0.861, 0.01), weightOnPair: st(0.821, 0.02), soft: st(51.1, 0.4), hard: st(49.2, 0.6), even: st(57.1, 0.1), bestExpert: st(59.1, 0.2) },
  conflicts: [{ clustering: 'kmeans', Ks: [2, 3], within: st(0.295, 0.01), across: st(0.642, 0.02), randomWithin: st(0.478, 0.003), randomAcross: st(0.485, 0.002) }],
  perSeed: [
    {
      seed: 1,
      rows: [],
      crossTask: { invert: { invert: 93.1, permute: 6.7 }, permute: { invert: 15.6, permute: 92.5 } },
      twin: {
        lambda: 0.2,
        lambdaSweep: [{ lambda: 0.2, validation: 98 }],
        rankSweep: [
          { rank: 1, router: 86.6, oracle: 86.61, values: 127603, bytes: 510412, expertBytes: 1536200, ratio: 0.3322 },
          { rank: 16, router: 99.8, oracle: 99.8, values: 255733, bytes: 1022932, expertBytes: 1536200, ratio: 0.6659 },
        ],
        routingAccuracy: 1,
        routingPerTask: [1, 1],
        routerParams: 34000,
        router,
        storage: [],
        mixed,
      },
      channel: { clusterings: [sweep('kmeans'), sweep('average_linkage')], routingAccuracy: 0.99, routerParams: 34000, router },
    },
  ],
};

describe('formatDemo', () => {
  const text = formatDemo(demo);
  const lines = text.split('\n');
  it('prints the rows over the seeds: mean per task, mean ± sd, what each seed chose, columns aligned', () => {
    expect(lines[0]).toMatch(/^seeds 1, 2: /);
    const table = lines.slice(1, lines.indexOf(''));
    expect(table[0]).toMatch(/^\| method +\| setting +\| chosen per seed +\| invert \| permute \| +normalized \|$/);
    expect(new Set(table.map((l) => l.length)).size).toBe(1);
    expect(table.find((l) => l.startsWith('| ties '))).toMatch(/\| ties +\| +\| lambda 1 density 0\.3 \/ lambda 0\.9 density 0\.3 +\| +54\.2 \| +87\.2 \| +77\.9 ± 1\.2 \|$/);
    expect(table.find((l) => l.startsWith('| twin_merging_oracle '))).toMatch(/\| rank 4 +\| lambda 0\.2 \/ lambda 0\.3 +\| +90\.8 \| +90\.6 \| +97\.5 ± 0\.3 \|$/);
    expect(table.find((l) => l.startsWith('| channel_merging '))).toMatch(/\| kTarget 95, kmeans +\| K 2 lambda 1 density 0\.3 \/ K 3 lambda 1 density 0\.3 +\|/);
  });
  it('prints the rank sweep: router and oracle scores, values, bytes and the ratio to the experts', () => {
    const at = lines.findIndex((l) => l.startsWith('rank sweep (twin_merging, seed 1, λ 0.2'));
    expect(lines[at]).toContain('against 1.5 MB for the experts');
    expect(lines[at]).toContain('router routes 100.0 % of test samples to their task, kept at epoch 2 of 5');
    expect(lines[at + 1]).toBe('| rank | router | oracle | values |    bytes |  ratio |');
    expect(lines[at + 3]).toBe('|    1 |   86.6 |   86.6 | 127603 | 510.4 KB | 33.2 % |');
    expect(lines[at + 4]).toBe('|   16 |   99.8 |   99.8 | 255733 |   1.0 MB | 66.6 % |');
  });
  it('prints a K sweep per clustering: the configuration chosen per K, scores, storage, sign conflicts and random groupings (— when none)', () => {
    const at = lines.findIndex((l) => l.startsWith('K sweep (channel_merging, kmeans'));
    expect(lines[at]).toContain('router routes 99.0 % of test samples to their task');
    expect(lines[at]).toContain("the rows' K 2, chosen on validation");
    expect(lines[at + 1]).toMatch(/^\| K \| group method \| clustered on \| params +\| validation \| oracle \| router \| +bytes \| +ratio \| within \| across \| random within \| random across \|$/);
    expect(lines[at + 3]).toMatch(/^\| 1 \| ties +\| raw +\| lambda 1, density 0\.3 \| +79\.0 \| +77\.9 \| +77\.9 \| 312\.4 KB \| 20\.3 % \| +0\.482 \| +— \| +0\.482 \| +— \|$/);
    expect(lines[at + 4]).toMatch(/^\| 2 \| average +\| trimmed +\| +\| +100\.0 \| +100\.0 \| +— \| 619\.7 KB \| 40\.3 % \| +— \| +0\.483 \| +— \| +0\.483 \|$/);
    expect(lines.some((l) => l.startsWith('K sweep (channel_merging, average_linkage'))).toBe(true);
  });
  it('prints routing on mixed inputs and the conflicts against random groupings over the seeds', () => {
    const mixedLine = lines.find((l) => l.startsWith('mixed inputs'))!;
    expect(mixedLine).toContain("the router's largest weight 0.861 ± 0.010 on average");
    expect(mixedLine).toContain('soft routing 51.1 ± 0.4 %, hard routing 49.2 ± 0.6 %');
    expect(lines.find((l) => l.startsWith('| kmeans '))).toMatch(/^\| kmeans +\| 2 \/ 3 +\| 0\.295 ± 0\.010 \| 0\.642 ± 0\.020 \| 0\.478 ± 0\.003 \| 0\.485 ± 0\.002 \|$/);
  });
  it('ends with the cross-task matrix', () => {
    expect(lines.at(-3)).toBe('|---------|-------:|--------:|');
    expect(lines.at(-1)).toBe('| permute |   15.6 |    92.5 |');
  });
});
