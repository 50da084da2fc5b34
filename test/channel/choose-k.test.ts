/**
 * The table's K chosen on validation: more groups never score lower on validation (K = T is the
 * experts), so the rule is the smallest K reaching kTarget % of the best K's score, never simply
 * the best K.
 */
import { describe, expect, it } from 'vitest';
import { chooseK } from '../../src/engine/methods/channel/demo.js';

const sweep = (...validation: number[]) => validation.map((v, i) => ({ K: i + 1, validation: v }));

describe('chooseK', () => {
  it('takes the smallest K within the target share of the best validation score', () => {
    expect(chooseK(sweep(79, 96.4, 99.2, 99.9, 100), 95)).toBe(2);
    expect(chooseK(sweep(79, 94.9, 99.2, 99.9, 100), 95)).toBe(3);
    expect(chooseK(sweep(79, 96.4, 99.2, 99.9, 100), 99)).toBe(3);
    expect(chooseK(sweep(79, 96.4, 99.2, 99.9, 100), 100)).toBe(5);
  });
  it('measures the target against the best K, not the last, and reads the sweep in any order', () => {
    expect(chooseK(sweep(50, 90, 80), 95)).toBe(2);
    expect(chooseK([{ K: 3, validation: 99 }, { K: 1, validation: 98 }, { K: 2, validation: 70 }], 95)).toBe(1);
  });
});
