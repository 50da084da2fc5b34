/**
 * The spectrum and sweep requests behind the lab's charts (c) and (e), through the EngineApi on
 * the embedded demo: singular values equal an independent SVD of the same task vector, the energy
 * curve ends at 1, the overlap matrix has a unit diagonal, the rank is clamped and remembered, bad
 * tensors get named errors, and a sweep point scores exactly as a live request at that value.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DemoSummary, EngineApi } from '../../src/engine/api/engine-api.js';
import { memorySource, openSafetensors } from '../../src/engine/io/index.js';
import { exactSvd } from '../../src/engine/linalg/svd.js';
import { DEMO_DIR, openDemoEngine, tiesRecipe as recipe } from '../helpers/demo-engine.js';

let engine: EngineApi;
let summary: DemoSummary;

async function tensorOf(file: string, name: string): Promise<Float32Array> {
  const c = await openSafetensors(memorySource(file, new Uint8Array(await readFile(path.join(DEMO_DIR, file)))));
  return c.readFloat32(name);
}

beforeAll(async () => {
  ({ engine, summary } = await openDemoEngine());
}, 120_000);

describe('spectrum on the demo', () => {
  it('gives each task vector its singular values, energy, ranks and overlaps', async () => {
    const s = await engine.diagnostics.spectrum(recipe(summary.tasks, 0.3));
    expect(s.tensor).toBe('hidden.weight');
    expect(s.shape).toEqual([1024, 64]);
    expect(s.truncated).toBe(false);
    expect(s.tensors.map((t) => t.name)).toEqual(['hidden.weight', 'head.weight']);
    expect(s.models.map((m) => m.model)).toEqual([...summary.tasks]);

    // Against an SVD of the task vector computed here from the files.
    const base = await tensorOf('base.safetensors', 'hidden.weight');
    const expert = await tensorOf('expert-invert.safetensors', 'hidden.weight');
    const tau = Float64Array.from(expert, (v, i) => v - base[i]!);
    const ref = exactSvd(tau, 1024, 64);
    const invert = s.models[0]!;
    expect(invert.singularValues).toHaveLength(64);
    invert.singularValues.forEach((v, k) => expect(v).toBeCloseTo(ref.s[k]!, 6));

    for (const m of s.models) {
      expect(m.energy.at(-1)).toBeCloseTo(1, 9);
      for (let k = 1; k < m.energy.length; k++) expect(m.energy[k]!).toBeGreaterThanOrEqual(m.energy[k - 1]!);
      expect(m.energy[m.rank90 - 1]!).toBeGreaterThanOrEqual(0.9);
      if (m.rank90 > 1) expect(m.energy[m.rank90 - 2]!).toBeLessThan(0.9);
      expect(m.effectiveRank).toBeGreaterThanOrEqual(1);
      expect(m.effectiveRank).toBeLessThanOrEqual(64);
      // The error left at the rank is what the energy curve says.
      expect(m.relativeError).toBeCloseTo(Math.sqrt(1 - m.energy[s.rank - 1]!), 6);
    }
    s.interference.forEach((row, i) => {
      expect(row[i]).toBeCloseTo(1, 9);
      row.forEach((x, j) => {
        expect(x).toBeCloseTo(s.interference[j]![i]!, 9);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1 + 1e-9);
      });
    });
  });

  it('measures at the asked rank (clamped to what exists), and a slider value does not change the spectrum', async () => {
    const a = await engine.diagnostics.spectrum(recipe(summary.tasks, 0.3), { tensor: 'head.weight', rank: 4 });
    expect(a.shape).toEqual([10, 1024]);
    expect(a.rank).toBe(4);
    const b = await engine.diagnostics.spectrum(recipe(summary.tasks, 0.9, 0.5), { tensor: 'head.weight', rank: 50 });
    expect(b.rank).toBe(10);
    expect(b.models.map((m) => m.singularValues)).toEqual(a.models.map((m) => m.singularValues));
    for (const m of b.models) expect(m.relativeError).toBeLessThan(1e-6);
  });

  it('names the tensor and says what to do for a 1-D or unknown tensor and a bad rank', async () => {
    await expect(engine.diagnostics.spectrum(recipe(summary.tasks, 0.3), { tensor: 'hidden.bias' })).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', message: expect.stringMatching(/"hidden\.bias" has shape \[1024\].*2-D/) });
    await expect(engine.diagnostics.spectrum(recipe(summary.tasks, 0.3), { tensor: 'nope' })).rejects.toMatchObject({ code: 'TENSOR_NOT_FOUND', message: expect.stringContaining('hidden.weight, head.weight') });
    await expect(engine.diagnostics.spectrum(recipe(summary.tasks, 0.3), { rank: 0 })).rejects.toMatchObject({ code: 'PARAMETER_OUT_OF_RANGE' });
  });

  it('latest wins: an overtaken request is cancelled, the newest answers', async () => {
    const first = engine.diagnostics.spectrum(recipe(summary.tasks, 0.3), { rank: 2 });
    const second = engine.diagnostics.spectrum(recipe(summary.tasks, 0.3), { rank: 3 });
    const results = await Promise.allSettled([first, second]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'CANCELLED' } });
    expect(results[1]).toMatchObject({ status: 'fulfilled', value: { rank: 3 } });
  });
});

describe('sweepDemo', () => {
  it('scores each point exactly as a live request at that value, without cancelling live requests', async () => {
    const values = [0.1, 0.3, 0.7];
    const [sweep, live] = await Promise.all([engine.demo.sweepDemo(values.map((value) => ({ value, recipe: recipe(summary.tasks, value) }))), engine.demo.liveDemo(recipe(summary.tasks, 0.3))]);
    expect(sweep.map((p) => p.value)).toEqual(values);
    expect(sweep[1]!.normalized).toBe(live.normalized);
    expect(sweep[1]!.perTask).toEqual(live.perTask);
    expect(new Set(sweep.map((p) => p.normalized)).size).toBe(3);
    // A newer sweep cancels an older one.
    const older = engine.demo.sweepDemo(values.map((value) => ({ value, recipe: recipe(summary.tasks, value, 0.5) })));
    const newer = engine.demo.sweepDemo([{ value: 0.5, recipe: recipe(summary.tasks, 0.5) }]);
    const r = await Promise.allSettled([older, newer]);
    expect(r[0]).toMatchObject({ status: 'rejected', reason: { code: 'CANCELLED' } });
    expect(r[1]).toMatchObject({ status: 'fulfilled' });
  });
  it('lets a timer in between its points, as a worker lets a slider\'s next request in', async () => {
    let timerRan = false;
    setTimeout(() => void (timerRan = true), 0);
    const order: string[] = [];
    await engine.demo.sweepDemo([0.21, 0.41, 0.61].map((value) => ({ value, recipe: recipe(summary.tasks, value, 0.9) }))).then(() => order.push(`sweep done, timer ${timerRan ? 'ran' : 'waiting'}`));
    expect(order).toEqual(['sweep done, timer ran']);
  });
});
