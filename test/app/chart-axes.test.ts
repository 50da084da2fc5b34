/**
 * The charts' axes at presentation size (issue 16 audit): log ticks in powers of ten and one
 * notation, category names laid out for the room they have (straight, broken after their dots,
 * slanted), the broken lines joining back into the name.
 */
import { describe, expect, it } from 'vitest';
import { layCategories } from '../../src/app/charts/category-axis.js';
import { decadeTicks } from '../../src/app/charts/log-ticks.js';

describe('decadeTicks', () => {
  it('spans the values with powers of ten, written out from 0.001 to 1000', () => {
    const t = decadeTicks(0.0023, 0.6);
    expect(t.ticks).toEqual([0.001, 0.01, 0.1, 1]);
    expect(t.domain).toEqual([0.001, 1]);
    expect(t.ticks.map(t.format)).toEqual(['0.001', '0.01', '0.1', '1']);
  });

  it('writes every tick as a power of ten once one is beyond that, never "0.0090" beside "9.0e-5"', () => {
    const t = decadeTicks(5e-5, 1.5);
    expect(t.ticks.map(t.format)).toEqual(['10⁻⁵', '10⁻⁴', '10⁻³', '10⁻²', '10⁻¹', '10⁰', '10¹']);
  });

  it('skips decades to keep at most seven ticks', () => {
    const t = decadeTicks(1e-12, 1);
    expect(t.ticks.length).toBeLessThanOrEqual(7);
    expect(t.ticks[0]).toBeLessThanOrEqual(1e-12);
    expect(t.ticks.at(-1)).toBeGreaterThanOrEqual(1);
  });
});

describe('layCategories', () => {
  const names = ['hidden.weight', 'hidden.bias', 'head.weight', 'head.bias'];

  it('keeps names straight where they fit', () => {
    expect(layCategories(names, 1200, 12).kind).toBe('straight');
  });

  it('breaks names after their dots where they do not fit, the parts joining back into the name', () => {
    const l = layCategories(names, 340, 16);
    expect(l.kind).toBe('wrapped');
    if (l.kind !== 'wrapped') return;
    expect(l.lines.get('hidden.weight')).toEqual(['hidden.', 'weight']);
    for (const n of names) expect(l.lines.get(n)!.join('')).toBe(n);
  });

  it('slants names with a word too wide for its slot', () => {
    expect(layCategories(['romance', 'germanic', 'slavic', 'uralic', 'code', 'mixed'], 250, 16).kind).toBe('slanted');
  });
});
