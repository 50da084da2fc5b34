/**
 * The engine's services (src/engine/api/services/) in process, where a test of their own is what
 * shows their cancellation and caches: diagnose over opened models is latest-wins and forgets its
 * caches when a model is opened again under the same id; a merge is a job cancel() stops by its
 * name alone. (The demo's lanes — live score, sweeps, Twin and Channel labs, its diagnoses and
 * spectra — are shown with the demo loaded: test/api/live.test.ts, test/diagnostics/demo.test.ts and
 * spectrum.test.ts, test/twin/lab.test.ts, test/channel/lab.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/api/engine.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { LAYOUT } from '../merge/helpers.js';

async function modelBlob(fill: number): Promise<Blob> {
  const bytes = await writeSafetensorsToMemory(
    LAYOUT.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return { name: t.name, dtype: 'F32' as const, shape: t.shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * (fill + 1) + fill) * (1 + fill)) };
    }),
  );
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

const RECIPE = `models:\n  - model: a\n    parameters: {weight: 1, density: 0.5}\n  - model: b\n    parameters: {weight: 0.5, density: 0.7}\nmerge_method: ties\nbase_model: base\n`;

async function engineWith(fills: Readonly<Record<string, number>>) {
  const engine = createEngine();
  await engine.system.setBackend('cpu');
  for (const [id, fill] of Object.entries(fills)) await engine.models.openModel(id, [{ path: `${id}/model.safetensors`, blob: await modelBlob(fill) }]);
  return engine;
}
const code = (s: PromiseSettledResult<unknown>) => (s.status === 'rejected' ? (isMergeLabError(s.reason) ? s.reason.code : String(s.reason)) : 'fulfilled');

describe('models service', () => {
  it('lists the open models in the order opened; a closed one leaves the list', async () => {
    const engine = await engineWith({ base: 0, a: 1, b: 2 });
    expect((await engine.models.listModels()).map((m) => m.id)).toEqual(['base', 'a', 'b']);
    await engine.models.closeModel('a');
    expect((await engine.models.listModels()).map((m) => m.id)).toEqual(['base', 'b']);
  });
});

describe('diagnostics service over opened models', () => {
  it('is latest-wins: of diagnoses asked together only the last runs, the others reject with CANCELLED', async () => {
    const engine = await engineWith({ base: 0, a: 1, b: 2 });
    const settled = await Promise.allSettled([0.3, 0.5, 0.7].map((d) => engine.diagnostics.diagnose(RECIPE.replace('density: 0.5', `density: ${d}`))));
    expect(settled.map(code)).toEqual(['CANCELLED', 'CANCELLED', 'fulfilled']);
    const spectra = await Promise.allSettled([1, 2].map((rank) => engine.diagnostics.spectrum(RECIPE, { rank })));
    expect(spectra.map(code)).toEqual(['CANCELLED', 'fulfilled']);
    // A spectrum asked for meanwhile cancels no diagnose: each has a lane of its own.
    const [d, s] = await Promise.allSettled([engine.diagnostics.diagnose(RECIPE), engine.diagnostics.spectrum(RECIPE)]);
    expect([code(d!), code(s!)]).toEqual(['fulfilled', 'fulfilled']);
  });
  it('forgets what it kept when a model is opened again under the same id (the name now means other weights)', async () => {
    const engine = await engineWith({ base: 0, a: 1, b: 2 });
    const before = await engine.diagnostics.diagnose(RECIPE);
    const spectrumBefore = await engine.diagnostics.spectrum(RECIPE);
    await engine.models.openModel('a', [{ path: 'a/model.safetensors', blob: await modelBlob(5) }]);
    const after = await engine.diagnostics.diagnose(RECIPE);
    const fresh = await engineWith({ base: 0, a: 5, b: 2 });
    expect(after).toEqual(await fresh.diagnostics.diagnose(RECIPE));
    expect(after).not.toEqual(before);
    expect(await engine.diagnostics.spectrum(RECIPE)).toEqual(await fresh.diagnostics.spectrum(RECIPE));
    expect(await engine.diagnostics.spectrum(RECIPE)).not.toEqual(spectrumBefore);
  });
});

describe('merges service', () => {
  it('a job is cancelled by its name alone: the named merge rejects with CANCELLED, one beside it finishes', async () => {
    const engine = await engineWith({ base: 0, a: 1, b: 2 });
    const stopped = engine.merges.merge('stop-me', RECIPE, {}, (p) => void (p.tensorIndex === 1 && engine.merges.cancel('stop-me')));
    const kept = engine.merges.merge('keep-me', RECIPE);
    const settled = await Promise.allSettled([stopped, kept]);
    expect(settled.map(code)).toEqual(['CANCELLED', 'fulfilled']);
    // Cancelling a name no job has is harmless, and the name may be used again.
    await engine.merges.cancel('nobody');
    expect((await engine.merges.merge('stop-me', RECIPE)).tensors).toBe(LAYOUT.length);
  });

  it('a cancel sent while the recipe is still being planned stops the merge before it writes a tensor', async () => {
    const engine = await engineWith({ base: 0, a: 1, b: 2 });
    const written: number[] = [];
    const merging = engine.merges.merge('early', RECIPE, {}, (p) => void written.push(p.tensorIndex));
    await engine.merges.cancel('early');
    expect(code((await Promise.allSettled([merging]))[0]!)).toBe('CANCELLED');
    expect(written).toEqual([]);
  });
});
