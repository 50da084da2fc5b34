/**
 * diagnose() on the embedded demo through the EngineApi, as the lab's charts call it: conflict
 * rates in [0, 1], a symmetric cosine matrix with a unit diagonal, conflicts among trimmed vectors
 * that move with density, and live merges still correct beside it. Timings are printed, not asserted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { openDemoEngine, tiesRecipe as recipe } from '../helpers/demo-engine.js';
import type { DemoSummary, Diagnostics, EngineApi } from '../../src/engine/api/engine-api.js';

let engine: EngineApi;
let summary: DemoSummary;

beforeAll(async () => {
  ({ engine, summary } = await openDemoEngine());
}, 120_000);

function expectWellFormed(d: Diagnostics, tasks: readonly string[]): void {
  expect(d.models).toEqual([...tasks]);
  const rates = [d.overall, ...d.tensors, ...d.layers];
  for (const r of rates) {
    expect(r.conflictRate).toBeGreaterThanOrEqual(0);
    expect(r.conflictRate).toBeLessThanOrEqual(1);
    expect(r.droppedMass).toBeGreaterThanOrEqual(0);
    expect(r.droppedMass).toBeLessThanOrEqual(1);
  }
  for (const c of [d.overall.cosine, ...d.tensors.map((t) => t.cosine)]) {
    expect(c).toHaveLength(tasks.length);
    c.forEach((row, i) => {
      expect(row[i]).toBe(1);
      row.forEach((x, j) => {
        expect(x).toBe(c[j]![i]);
        expect(Math.abs(x)).toBeLessThanOrEqual(1);
      });
    });
  }
}

describe('diagnose on the demo', () => {
  it('gives well-formed series that move with density', async () => {
    const at: Record<number, Diagnostics> = {};
    const timings: string[] = [];
    for (const density of [0.1, 0.3, 0.5, 0.9, 1]) {
      const t0 = performance.now();
      at[density] = await engine.diagnostics.diagnose(recipe(summary.tasks, density));
      const cold = performance.now() - t0;
      const t1 = performance.now();
      await engine.diagnostics.diagnose(recipe(summary.tasks, density));
      timings.push(`density ${density}: first ${cold.toFixed(1)} ms, repeat ${(performance.now() - t1).toFixed(1)} ms`);
      expectWellFormed(at[density]!, summary.tasks);
      expect(at[density]!.election).toBe(true);
    }
    expect(at[0.3]!.tensors.map((t) => t.name).sort()).toEqual(['head.bias', 'head.weight', 'hidden.bias', 'hidden.weight']);
    expect(at[0.3]!.overall.conflictRate).not.toBeCloseTo(at[0.9]!.overall.conflictRate, 3);
    expect(at[0.3]!.overall.droppedMass).not.toBeCloseTo(at[0.9]!.overall.droppedMass, 3);
    // Cosine is of the untrimmed task vectors: density does not move it.
    expect(at[0.3]!.overall.cosine).toEqual(at[0.9]!.overall.cosine);
    // Task arithmetic: the untrimmed vectors' conflicts (those of TIES at density 1), nothing dropped.
    const ta = await engine.diagnostics.diagnose(recipe(summary.tasks, 1, 1, 'task_arithmetic'));
    expect(ta.election).toBe(false);
    expect(ta.overall.droppedMass).toBe(0);
    expect(ta.overall.conflictRate).toBeCloseTo(at[1]!.overall.conflictRate, 12);

    const line = (d: number) => `density ${d}: conflictRate ${at[d]!.overall.conflictRate.toFixed(4)}, droppedMass ${at[d]!.overall.droppedMass.toFixed(4)}`;
    console.log(
      [
        'demo diagnostics (TIES, weight 1 each):',
        ...[0.1, 0.3, 0.5, 0.9, 1].map(line),
        `per tensor at 0.3: ${at[0.3]!.tensors.map((t) => `${t.name} (${t.size}) ${t.conflictRate.toFixed(4)}/${t.droppedMass.toFixed(4)}`).join('; ')}`,
        `cosine (${at[0.3]!.models.join(', ')}):`,
        ...at[0.3]!.overall.cosine.map((r) => r.map((x) => x.toFixed(4).padStart(8)).join(' ')),
        'time per diagnose call:',
        ...timings,
      ].join('\n'),
    );
  }, 60_000);
  it('runs beside live merges, latest-wins, leaving no tensors behind', async () => {
    const before = await engine.system.memory();
    const sent = [0.2, 0.4, 0.6].map((d) => engine.diagnostics.diagnose(recipe(summary.tasks, d)));
    const live = engine.demo.liveDemo(recipe(summary.tasks, 0.3));
    const settled = await Promise.allSettled(sent);
    expect(settled.slice(0, 2).every((s) => s.status === 'rejected' && (s.reason as { code?: string }).code === 'CANCELLED')).toBe(true);
    expect(settled[2]!.status).toBe('fulfilled');
    expect((await live).perTask).toHaveLength(summary.tasks.length);
    const after = await engine.system.memory();
    expect(after.numTensors).toBe(before.numTensors);
    const t0 = performance.now();
    const n = 20;
    for (let i = 0; i < n; i++) await engine.diagnostics.diagnose(recipe(summary.tasks, 0.1 + (i % 9) * 0.1));
    console.log(`demo: ${n} diagnose calls at varying density, ${((performance.now() - t0) / n).toFixed(1)} ms per call`);
  }, 60_000);
});
