/** Tick labels as people write numbers (issue 16: a sweep's axis read "1.0000000000000107"). */
import { describe, expect, it } from 'vitest';
import { tidyTick } from '../../src/app/charts/chart-props.js';

describe('tidyTick', () => {
  it('prints float sums and shares at four significant digits, integers as integers', () => {
    expect(tidyTick(0.1 + 0.2)).toBe('0.3');
    expect(tidyTick(1.0000000000000107)).toBe('1');
    expect(tidyTick(0.9000000000000001)).toBe('0.9');
    expect(tidyTick(0.000123456)).toBe('0.0001235');
    expect(tidyTick(32)).toBe('32');
    expect(tidyTick('1.5')).toBe('1.5');
  });
});
