/**
 * The README's LM demo table is docs/lm-demo-table.json (the output of `merge-lab demo --suite lm
 * --json`), row by row: method, setting, what validation chose and every gain to one decimal; and
 * the JSON holds together (each row's normalized gain is the mean of its domains', the expert row is
 * 100 within float16 rounding, one trained seed with sd 0 outside DARE-TIES' drop seeds).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LmDemoTable } from '../../src/engine/demo/lm-table.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const table = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/lm-demo-table.json'), 'utf8')) as LmDemoTable;
const NAMES: Record<string, string> = { base: 'base', expert: 'expert', task_arithmetic: 'task arithmetic', ties: 'TIES', dare_ties: 'DARE-TIES', twin_merging: 'Twin-Merging', twin_merging_oracle: 'Twin-Merging, oracle', channel_merging: 'Channel Merging', channel_merging_oracle: 'Channel Merging, oracle' };
const pm = (s: { mean: number; sd: number }) => (s.sd === 0 ? s.mean.toFixed(1) : `${s.mean.toFixed(1)} ± ${s.sd.toFixed(1)}`);

describe('docs/lm-demo-table.json', () => {
  it('is the README table, row by row', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const from = readme.indexOf(`| method | setting | chosen on validation | ${table.tasks.join(' | ')} | normalized |`);
    expect(from).toBeGreaterThan(0);
    const lines = readme.slice(from).split('\n').slice(2, 2 + table.rows.length);
    for (const [i, r] of table.rows.entries()) {
      const setting = [...Object.entries(r.setting).map(([k, v]) => `${k} ${v}`), ...(r.clustering ? [r.clustering] : [])].join(', ');
      const chosen = Object.entries(r.seeds[0]!.params).filter(([k]) => !(k in r.setting)).map(([k, v]) => `${k} ${v}`).join(', ');
      expect(lines[i], r.method).toBe(`| ${NAMES[r.method]} | ${setting} | ${chosen} | ${r.perTask.map(pm).join(' | ')} | ${pm(r.normalized)} |`);
    }
  });

  it('holds together: one trained seed, means of the domains, the expert row at 100', () => {
    expect(table.suite).toBe('lm');
    expect(table.seeds).toHaveLength(1);
    for (const r of table.rows) {
      expect(r.normalized.mean, r.method).toBeCloseTo(r.perTask.reduce((n, x) => n + x.mean, 0) / r.perTask.length, 6);
      if (r.method !== 'dare_ties') expect([r.normalized, ...r.perTask, ...r.bitsPerByte].every((x) => x.sd === 0), r.method).toBe(true);
    }
    const expert = table.rows.find((r) => r.method === 'expert')!;
    for (const x of expert.perTask) expect(Math.abs(x.mean - 100)).toBeLessThan(0.5);
    expect(table.rows.find((r) => r.method === 'dare_ties')!.sdOver).toBe('drop seeds 1, 2, 3');
  });
});
