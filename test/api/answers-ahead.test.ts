/** answersAhead: kept answers, work taken over, stale work stopped, guesses worked on between requests. */
import { describe, expect, it } from 'vitest';
import { answersAhead } from '../../src/engine/api/answers-ahead.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { RecentMap } from '../../src/engine/recent.js';

/** Work that takes `steps` ticks, checking stale() between them, and records what it did. */
function fakeWork(steps = 3) {
  const started: string[] = [];
  const stopped: string[] = [];
  const work = async (yaml: string, stale: () => boolean) => {
    started.push(yaml);
    for (let i = 0; i < steps; i++) {
      await new Promise((r) => setTimeout(r, 1));
      if (stale()) {
        stopped.push(yaml);
        throw new Error(`stopped ${yaml}`);
      }
    }
    return `answer ${yaml}`;
  };
  return { work, started, stopped };
}
const cancelled = (e: unknown) => isMergeLabError(e) && e.code === 'CANCELLED';

describe('answersAhead', () => {
  it('answers a kept recipe at once, without work', async () => {
    const f = fakeWork();
    const kept = new RecentMap<string, string>(8);
    let onKept = 0;
    const a = answersAhead({ kept, work: f.work, onKept: () => onKept++ });
    expect(await a.answer('x')).toBe('answer x');
    expect(await a.answer('x')).toBe('answer x');
    expect(f.started).toEqual(['x']);
    expect(onKept).toBe(1);
  });
  it('kept answers are frozen all the way down: a caller changing its copy cannot change the next caller\'s', async () => {
    const kept = new RecentMap<string, { perTask: number[]; nested: { rows: number[][] } }>(8);
    const a = answersAhead({ kept, work: async () => ({ perTask: [1, 2], nested: { rows: [[3]] } }) });
    const first = await a.answer('x');
    expect(() => first.perTask.push(9)).toThrow(TypeError);
    expect(() => (first.nested.rows[0]![0] = 7)).toThrow(TypeError);
    expect(() => ((first as { perTask: number[] }).perTask = [])).toThrow(TypeError);
    expect(await a.answer('x')).toEqual({ perTask: [1, 2], nested: { rows: [[3]] } });
  });
  it('a newer request makes the older one stale: it stops and rejects with CANCELLED', async () => {
    const f = fakeWork();
    const a = answersAhead({ kept: new RecentMap(8), work: f.work });
    const first = a.answer('x');
    const second = a.answer('y');
    await expect(first).rejects.toSatisfy(cancelled);
    expect(await second).toBe('answer y');
    expect(f.stopped).toEqual(['x']);
  });
  it('a request for the recipe being worked on takes that work over', async () => {
    const f = fakeWork();
    const a = answersAhead({ kept: new RecentMap(8), work: f.work });
    const first = a.answer('x');
    const same = a.answer('x');
    expect(await first).toBe('answer x');
    expect(await same).toBe('answer x');
    expect(f.started).toEqual(['x']);
  });
  it('guesses start a macrotask after they are named, so the answer just given goes out first', async () => {
    const f = fakeWork(1);
    const a = answersAhead({ kept: new RecentMap(8), work: f.work });
    await a.answer('x');
    a.ahead(['y']);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(f.started, 'no guess work among the microtasks that deliver the answer').toEqual(['x']);
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(f.started).toEqual(['x', 'y']);
  });
  it('guesses are worked on between requests; asked for, they are answered from that work', async () => {
    const f = fakeWork();
    const kept = new RecentMap<string, string>(8);
    const a = answersAhead({ kept, work: f.work });
    await a.answer('1');
    a.ahead(['2', '3']);
    expect(await a.answer('2')).toBe('answer 2');
    await new Promise((r) => setTimeout(r, 30));
    // The request cleared the rest of the guesses: '3' was not started after it.
    expect(f.started).toEqual(['1', '2']);
    a.ahead(['3']);
    await new Promise((r) => setTimeout(r, 30));
    expect(kept.get('3')).toBe('answer 3');
    expect(await a.answer('3')).toBe('answer 3');
    expect(f.started).toEqual(['1', '2', '3']);
  });
  it('a guess overtaken by a request for something else stops; a finished stale answer is still kept', async () => {
    const f = fakeWork();
    const kept = new RecentMap<string, string>(8);
    const a = answersAhead({ kept, work: f.work });
    await a.answer('1');
    a.ahead(['2']);
    await new Promise((r) => setTimeout(r, 0));
    expect(await a.answer('9')).toBe('answer 9');
    expect(f.stopped).toEqual(['2']);
    expect(kept.get('2')).toBeUndefined();
    // Work with no steps left to check finishes even when stale; it is kept, its asker hears CANCELLED.
    const quick = answersAhead({ kept, work: async (y) => `quick ${y}` });
    const p = quick.answer('q');
    quick.answer('r').catch(() => undefined);
    await expect(p).rejects.toSatisfy(cancelled);
    expect(kept.get('q')).toBe('quick q');
  });
});
