/** The ranks the lab works on ahead of Twin-Merging's rank slider. */
import { describe, expect, it } from 'vitest';
import { TWIN_RANK_MAX, ranksAhead } from '../../src/app/routed/ranks-ahead.js';

describe('ranksAhead', () => {
  it('after a step or two, the next two the same way', () => {
    expect(ranksAhead(4, 5)).toEqual([6, 7]);
    expect(ranksAhead(5, 4)).toEqual([3, 2]);
    expect(ranksAhead(4, 6)).toEqual([8, 10]);
  });
  it('with no move, both neighbours; after a jump, nothing', () => {
    expect(ranksAhead(undefined, 4)).toEqual([5, 3]);
    expect(ranksAhead(4, 12)).toEqual([]);
  });
  it('stays on the slider', () => {
    expect(ranksAhead(3, 2)).toEqual([1]);
    expect(ranksAhead(undefined, 1)).toEqual([2]);
    expect(ranksAhead(TWIN_RANK_MAX - 1, TWIN_RANK_MAX)).toEqual([]);
  });
});
