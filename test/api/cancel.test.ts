/**
 * The engine's one cancellation primitive (src/engine/api/services/cancel.ts): lanes, where the
 * newest request wins and lanes never cancel one another, and jobs, stopped by name.
 */
import { describe, expect, it } from 'vitest';
import { createJobs, createLane, createLanes } from '../../src/engine/api/services/cancel.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { throwIfCancelled, type CancelToken } from '../../src/engine/merge/progress.js';

const tick = () => new Promise((r) => setTimeout(r, 1));
/** Work of `steps` ticks that stops (as the tensor loops do) once its token is cancelled. */
const steps =
  (n: number, log: string[], name: string) =>
  async (cancel: CancelToken): Promise<string> => {
    log.push(`start ${name}`);
    for (let i = 0; i < n; i++) {
      await tick();
      if (cancel.cancelled) {
        log.push(`stop ${name}`);
        throwIfCancelled(cancel);
      }
    }
    return name;
  };
const code = (s: PromiseSettledResult<unknown>) => (s.status === 'rejected' ? (isMergeLabError(s.reason) ? s.reason.code : String(s.reason)) : 'fulfilled');

describe('lanes', () => {
  it('latest wins: a queued call overtaken before it starts never runs, the running one stops at its next check, the newest answers', async () => {
    const lane = createLane('sweep');
    const log: string[] = [];
    const first = lane.latest(steps(5, log, 'a'));
    await tick(); // `a` runs
    const second = lane.latest(steps(5, log, 'b'));
    const third = lane.latest(steps(2, log, 'c'));
    const settled = await Promise.allSettled([first, second, third]);
    expect(settled.map(code)).toEqual(['CANCELLED', 'CANCELLED', 'fulfilled']);
    expect(log).toEqual(['start a', 'stop a', 'start c']);
    const overtaken = settled[1] as PromiseRejectedResult;
    expect((overtaken.reason as Error).message).toBe('Superseded by a newer sweep.');
    expect(lane.generation).toBe(3);
  });
  it('a call waits for the one running to stop before it starts (they share the backend)', async () => {
    const lane = createLane('request');
    const log: string[] = [];
    const first = lane.latest(steps(3, log, 'a')).catch(() => undefined);
    await tick();
    await lane.latest(async () => void log.push('b runs'));
    await first;
    expect(log).toEqual(['start a', 'stop a', 'b runs']);
  });
  it('lanes are independent: a request on one cancels nothing on another', async () => {
    const lanes = createLanes({ live: 'request', sweep: 'sweep' });
    const log: string[] = [];
    const sweep = lanes.sweep.latest(steps(3, log, 'sweep'));
    await tick();
    const live = lanes.live.latest(steps(1, log, 'live'));
    expect(await Promise.all([sweep, live])).toEqual(['sweep', 'live']);
    expect(log).not.toContain('stop sweep');
  });
  it('ask() cancels every token handed out before; renew() makes one wanted by the newest request again; token() asks nothing', () => {
    const lane = createLane('request');
    const old = lane.ask();
    const guess = lane.token();
    expect([old.cancelled, guess.cancelled]).toEqual([false, false]);
    lane.ask();
    expect([old.cancelled, guess.cancelled]).toEqual([true, true]);
    old.renew();
    expect(old.cancelled).toBe(false);
    expect(guess.cancelled).toBe(true);
  });
});

describe('jobs', () => {
  it('cancel(jobId) stops that job, which rejects with CANCELLED; the others run on', async () => {
    const jobs = createJobs();
    const log: string[] = [];
    const a = jobs.run('a', steps(4, log, 'a'));
    const b = jobs.run('b', steps(4, log, 'b'));
    await tick();
    jobs.cancel('a');
    const settled = await Promise.allSettled([a, b]);
    expect(settled.map(code)).toEqual(['CANCELLED', 'fulfilled']);
    expect(log).toContain('stop a');
    expect(log).not.toContain('stop b');
  });
  it('cancelling a job that is not running does nothing, and a finished job\'s id may run again', async () => {
    const jobs = createJobs();
    jobs.cancel('nope');
    const log: string[] = [];
    expect(await jobs.run('x', steps(1, log, 'x'))).toBe('x');
    jobs.cancel('x');
    expect(await jobs.run('x', steps(1, log, 'x'))).toBe('x');
  });
});
