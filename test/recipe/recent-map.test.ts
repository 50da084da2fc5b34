/** RecentMap: keeps the most recently used entries, up to its capacity. */
import { describe, expect, it } from 'vitest';
import { RecentMap } from '../../src/engine/recent.js';

describe('RecentMap', () => {
  it('forgets the least recently used entry beyond its capacity; a read counts as a use', () => {
    const m = new RecentMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    expect(m.get('a')).toBe(1); // a is now the most recent
    m.set('c', 3); // b goes
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBe(1);
    expect(m.get('c')).toBe(3);
    expect(m.size).toBe(2);
    m.set('a', 10); // replacing keeps one entry
    expect(m.size).toBe(2);
    expect(m.get('a')).toBe(10);
    m.clear();
    expect(m.size).toBe(0);
  });
  it('needs a capacity of at least 1', () => {
    expect(() => new RecentMap(0)).toThrow(RangeError);
  });
});
