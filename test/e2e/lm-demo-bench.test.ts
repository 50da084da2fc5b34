/**
 * Benchmark, not a check (skipped unless MERGE_LAB_BENCH=1): the LM demo in Chromium on wasm, from
 * #demo=lm to the first probe and to all the windows, then (once the sweep is in, and the per-layer
 * map's effective ranks if asked) 21 λ moves, each waited out (probe, then all the windows) so none is
 * queued behind another; prints the worker's time per probe and the page's slider-to-lm measure
 * (input → the probe's numbers on screen), p50 and p95. With MERGE_LAB_BENCH_TRACE=file it also
 * records a Chromium trace of the moves and prints each one's breakdown (lm-demo-trace.ts).
 *
 *   MERGE_LAB_BENCH=1 [MERGE_LAB_BENCH_TRACE=/tmp/lm-trace.json] npx vitest run --project e2e test/e2e/lm-demo-bench.test.ts
 */
import { describe, expect } from 'vitest';
import { e2e, test } from './harness.js';
import { breakdown } from './lm-demo-trace.js';

/** A Chromium trace of the 21 moves is written here and broken down per move (optional: tracing costs time). */
const TRACE = process.env['MERGE_LAB_BENCH_TRACE'];

describe.skipIf(e2e.skipReason !== null || !process.env['MERGE_LAB_BENCH'])('LM demo slider bench', () => {
  test('slider moves on the LM demo', async ({ lab, browser }) => {
    const opened = Date.now();
    await lab.open('demo=lm', { backend: 'wasm' });
    await lab.page.locator('[data-lm-demo-state="loaded"]').waitFor({ state: 'attached', timeout: 60_000 });
    const loaded = Date.now() - opened;
    const card = lab.chart('lm-eval');
    const answer = card.locator('[data-lm-answer]');
    await expect.poll(async () => ((await answer.count()) === 1 ? `${await answer.getAttribute('data-mode')}` : ''), { timeout: 60_000 }).toBe('probe');
    const firstProbe = Date.now() - opened;
    await expect.poll(async () => ((await answer.count()) === 1 ? `${await answer.getAttribute('data-mode')} ${await answer.getAttribute('data-fresh')}` : ''), { timeout: 60_000 }).toBe('full true');
    const firstFull = Date.now() - opened;
    // Let the sweep finish so it does not compete, and the per-layer map's effective ranks if they
    // were asked (the diagnostics service's SVDs, one matrix per step of up to a few hundred ms: a
    // probe asked meanwhile waits for the step under way; the map asks for them only once it is
    // coloured by effective rank).
    await expect.poll(async () => await lab.chart('lm-sweep').getAttribute('data-chart-state'), { timeout: 60_000 }).toBe('ready');
    await expect.poll(() => lab.page.evaluate(() => (window.__mergeLab?.store as { getState(): { layerRanks: { status: string } } } | undefined)?.getState().layerRanks.status), { timeout: 120_000 }).not.toBe('computing');
    const values = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.1, 1, 0.9, 0.8, 0.7];
    const worker: string[] = [];
    if (TRACE) await browser.startTracing(lab.page, { path: TRACE, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing', 'toplevel', 'v8.execute', 'disabled-by-default-v8.cpu_profiler'] });
    for (const v of values) {
      await lab.lambdaSlider().fill(String(v));
      await expect.poll(async () => `${await answer.getAttribute('data-fresh')} ${(await answer.textContent()) ?? ''}`, { timeout: 30_000 }).toMatch(new RegExp(`^true .*lambda ${v}[,;]`));
      worker.push(/Took (\d+) ms/.exec((await answer.textContent()) ?? '')?.[1] ?? '?');
      // All the windows drawn before the next move: the probe then waits for nothing.
      await expect.poll(async () => `${await answer.getAttribute('data-mode')} ${await answer.getAttribute('data-fresh')}`, { timeout: 30_000 }).toBe('full true');
    }
    if (TRACE) {
      await browser.stopTracing();
      const moves = breakdown(TRACE, 'slider-to-lm');
      const med = (pick: (m: (typeof moves)[number]) => number) => {
        const xs = moves.map(pick).sort((x, y) => x - y);
        return `${xs[Math.floor(xs.length / 2)]!.toFixed(0)}/${xs[Math.min(xs.length - 1, Math.floor(0.95 * xs.length))]!.toFixed(0)}`;
      };
      for (const m of moves) console.log(`[bench] move ${m.total.toFixed(0)} ms: worker still busy ${m.waited.toFixed(0)}, input handler ${m.input.toFixed(0)}, main thread busy ${m.main.toFixed(0)} (CPU ${m.mainCpu.toFixed(0)}), worker busy ${m.worker.toFixed(0)} (CPU ${m.workerCpu.toFixed(0)}), after the worker ${m.after.toFixed(0)}`);
      console.log(`[bench] trace p50/p95 (ms): move ${med((m) => m.total)}, worker still busy at the input ${med((m) => m.waited)}, input handler ${med((m) => m.input)}, main thread busy ${med((m) => m.main)} (CPU ${med((m) => m.mainCpu)}), worker busy ${med((m) => m.worker)} (CPU ${med((m) => m.workerCpu)}), after the worker ${med((m) => m.after)}`);
    }
    console.log(`[bench] worker ms per probe: ${worker.join(' ')}`);
    const ms = (await lab.measures('slider-to-lm')).sort((a, b) => a - b);
    expect(ms.length).toBe(values.length);
    const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!;
    console.log(`[bench] LM demo: loaded ${loaded} ms, first probe ${firstProbe} ms, first full ${firstFull} ms after opening; slider-to-lm over ${ms.length} moves: p50 ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms, max ${ms.at(-1)!.toFixed(0)} ms (all: ${ms.map((x) => x.toFixed(0)).join(' ')})`);
  }, 300_000);
});
