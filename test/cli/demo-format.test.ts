/**
 * The text of `merge-lab demo` from its JSON (formatDemo), without running the demo: the method
 * table with the routed rows, the rank sweep and the K sweep with storage, the cross-task matrix.
 * (test/demo/method-table.test.ts runs `demo --quick --json` once for the numbers.)
 */
import { describe, expect, it } from 'vitest';
import { formatDemo, type DemoOutput } from '../../src/cli/commands/demo.js';

const tasks = ['invert', 'permute'];
const row = (method: string, params: Record<string, number>, perTask: number[], normalized: number) => ({ method, params, perTask, normalized });
const demo: DemoOutput = {
  tasks,
  rows: [
    row('expert', {}, [93.1, 92.5], 100),
    row('ties', { lambda: 1, density: 0.3 }, [54.2, 87.2], 77.9),
    row('twin_merging', { lambda: 0.2, rank: 4 }, [90.8, 90.6], 97.4),
    row('twin_merging_oracle', { lambda: 0.2, rank: 4 }, [90.8, 90.6], 97.45),
    row('channel_merging', { K: 2, lambda: 1, density: 0.3 }, [88.9, 90.8], 94.5),
    row('channel_merging_oracle', { K: 2, lambda: 1, density: 0.3 }, [88.9, 90.8], 94.5),
  ],
  crossTask: { invert: { invert: 93.1, permute: 6.7 }, permute: { invert: 15.6, permute: 92.5 } },
  twin: {
    lambda: 0.2,
    rank: 4,
    lambdaSweep: [{ lambda: 0.2, validation: 98 }],
    rankSweep: [
      { rank: 1, router: 86.6, oracle: 86.61, values: 127603, bytes: 510412, expertBytes: 1536200, ratio: 0.3322 },
      { rank: 16, router: 99.8, oracle: 99.8, values: 255733, bytes: 1022932, expertBytes: 1536200, ratio: 0.6659 },
    ],
    routingAccuracy: 1,
    routingPerTask: [1, 1],
    routerParams: 34000,
  },
  channel: {
    K: 2,
    groupMethod: 'ties',
    similarity: 'raw',
    kSweep: [
      { K: 1, groupMethod: 'ties', similarity: 'raw', params: { lambda: 1, density: 0.3 }, validation: 79, oracle: 77.9, router: 77.9, bytes: 312400, expertBytes: 1536200, ratio: 0.203, conflicts: { within: 0.482, across: null } },
      { K: 2, groupMethod: 'average', similarity: 'trimmed', params: {}, validation: 100, oracle: 100, bytes: 619700, expertBytes: 1536200, ratio: 0.403, conflicts: { within: null, across: 0.483 } },
    ],
    routingAccuracy: 0.99,
  },
};

describe('formatDemo', () => {
  const text = formatDemo(demo);
  const lines = text.split('\n');
  it('prints the method table with the routed rows and their parameters, columns aligned', () => {
    const table = lines.slice(0, lines.indexOf(''));
    expect(table[0]).toMatch(/^\| method +\| params +\| invert \| permute \| normalized \|$/);
    expect(new Set(table.map((l) => l.length)).size).toBe(1);
    expect(table).toContain('| twin_merging_oracle    | lambda 0.2, rank 4         |   90.8 |    90.6 |       97.5 |');
    expect(table).toContain('| channel_merging        | K 2, lambda 1, density 0.3 |   88.9 |    90.8 |       94.5 |');
  });
  it('prints the rank sweep: router and oracle scores, values, bytes and the ratio to the experts', () => {
    const at = lines.findIndex((l) => l.startsWith('rank sweep (twin_merging, λ 0.2'));
    expect(lines[at]).toContain('against 1.5 MB for the experts');
    expect(lines[at]).toContain('router routes 100.0 % of test samples to their task');
    expect(lines[at + 1]).toBe('| rank | router | oracle | values |    bytes |  ratio |');
    expect(lines[at + 3]).toBe('|    1 |   86.6 |   86.6 | 127603 | 510.4 KB | 33.2 % |');
    expect(lines[at + 4]).toBe('|   16 |   99.8 |   99.8 | 255733 |   1.0 MB | 66.6 % |');
  });
  it('prints the K sweep: the configuration chosen per K, scores, storage and sign conflicts (— when none)', () => {
    const at = lines.findIndex((l) => l.startsWith('K sweep (channel_merging'));
    expect(lines[at]).toContain('router routes 99.0 % of test samples to their task');
    expect(lines[at + 1]).toMatch(/^\| K \| group method \| clustered on \| params +\| validation \| oracle \| router \| +bytes \| +ratio \| conflicts within \| across \|$/);
    expect(lines[at + 3]).toMatch(/^\| 1 \| ties +\| raw +\| lambda 1, density 0\.3 \| +79\.0 \| +77\.9 \| +77\.9 \| 312\.4 KB \| 20\.3 % \| +0\.482 \| +— \|$/);
    expect(lines[at + 4]).toMatch(/^\| 2 \| average +\| trimmed +\| +\| +100\.0 \| +100\.0 \| +— \| 619\.7 KB \| 40\.3 % \| +— \| +0\.483 \|$/);
  });
  it('ends with the cross-task matrix', () => {
    expect(lines.at(-3)).toBe('|---------|-------:|--------:|');
    expect(lines.at(-1)).toBe('| permute |   15.6 |    92.5 |');
  });
});
