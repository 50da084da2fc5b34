/**
 * The per-layer map's effective ranks in the charts slice, on the real store with a fake engine
 * whose answers the test hands out: asked only once a diagnostics answer carries a layer map and
 * the map is coloured by effective rank, once per set of models (not per slider move), not while a link hides the map (`layers_hide=1`),
 * cleared with the models they were about, and an answer about models since replaced never shown.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useLabStore } from '../../src/app/store/index.js';
import type { DroppedModel } from '../../src/app/store/types.js';
import type { EngineClient } from '../../src/app/engine/engine-client.js';
import type { Recipe } from '../../src/engine/recipe/types.js';

interface Asked {
  readonly method: string;
  readonly recipe: Recipe;
  resolve(v: unknown): void;
}

const fake = vi.hoisted(() => {
  const asked: Asked[] = [];
  const service = new Proxy({}, { get: (_t, method: string) => (recipe: Recipe) => new Promise((resolve) => asked.push({ method, recipe, resolve })) });
  const remote = new Proxy({}, { get: () => service });
  return { asked, client: { call: (fn: (r: unknown) => Promise<unknown>) => fn(remote) } };
});

useLabStore.setState({ engineClient: () => fake.client as unknown as EngineClient });
const initial = useLabStore.getState();
const st = () => useLabStore.getState();
const flush = () => new Promise((r) => setTimeout(r, 0));
const asked = (method: string) => fake.asked.filter((a) => a.method === method);
const model = (id: string, role: DroppedModel['role']): DroppedModel => ({ id, name: `${id}.safetensors`, files: 1, role, status: 'ready' });

/** A diagnostics answer; with `layered`, one that carries a layer map (a transformer's). */
const diagnostics = (layered: boolean) => ({ models: ['a', 'b'], ...(layered ? { layerMap: { cells: [] } } : {}) });

/** Answers every pending diagnose with `answer`, then lets the store react. */
async function answerDiagnoses(answer: unknown): Promise<void> {
  for (const a of asked('diagnose')) a.resolve(answer);
  await flush();
}

/** One's own checkpoints, TIES; the map coloured by `metric` (effective rank unless said). */
async function onMine(metric: 'conflict' | 'rank' = 'rank'): Promise<void> {
  useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1, layerMetric: metric });
  useLabStore.setState({ source: 'mine', dropped: [model('base', 'base'), model('a', 'expert'), model('b', 'expert')] });
}

beforeEach(() => void (fake.asked.length = 0));
afterEach(() => useLabStore.setState(initial, true));

describe('the per-layer map’s effective ranks', () => {
  it('are not asked for checkpoints without a layer map', async () => {
    await onMine();
    await answerDiagnoses(diagnostics(false));
    expect(asked('spectrum')).toHaveLength(1);
    expect(asked('layerRanks')).toHaveLength(0);
  });

  it('are not asked while the map is coloured by sign conflict or cosine; choosing effective rank asks once', async () => {
    await onMine('conflict');
    await answerDiagnoses(diagnostics(true));
    expect(asked('diagnose')).toHaveLength(1);
    expect(asked('layerRanks')).toHaveLength(0);
    st().setLayerMetric('cosine');
    await flush();
    expect(asked('layerRanks')).toHaveLength(0);
    st().setLayerMetric('rank');
    await flush();
    expect(asked('layerRanks')).toHaveLength(1);
    expect(asked('layerRanks')[0]!.recipe.models.map((m) => m.model)).toEqual(['a', 'b']);
    // Back and forth: the same models' ranks are not asked again.
    st().setLayerMetric('conflict');
    st().setLayerMetric('rank');
    await flush();
    expect(asked('layerRanks')).toHaveLength(1);
  });

  it('are asked once the map is shown, over the models only, and not again for a slider move', async () => {
    await onMine();
    expect(asked('layerRanks')).toHaveLength(0);
    await answerDiagnoses(diagnostics(true));
    expect(asked('layerRanks')).toHaveLength(1);
    // The spectrum's recipe: the models and base, no slider value.
    const r = asked('layerRanks')[0]!.recipe;
    expect(r.baseModel).toBe('base');
    expect(r.models.map((m) => m.model)).toEqual(['a', 'b']);
    expect(r.parameters).toBeUndefined();
    asked('layerRanks')[0]!.resolve({ models: ['a', 'b'], cells: [] });
    await flush();
    expect(st().layerRanks).toMatchObject({ status: 'ready', shown: { data: { models: ['a', 'b'] } } });

    fake.asked.length = 0;
    st().setDensity(0.5);
    expect(asked('diagnose')).toHaveLength(1);
    await answerDiagnoses(diagnostics(true));
    st().setLambda(0.5);
    await flush();
    expect(asked('diagnose')).toHaveLength(1);
    expect(asked('layerRanks')).toHaveLength(0);
    expect(st().layerRanks.status).toBe('ready');
  });

  it('are not asked while the map is hidden (layers_hide=1); shown again, they are', async () => {
    st().setPresentation(false, ['layers']);
    await onMine();
    await answerDiagnoses(diagnostics(true));
    expect(asked('diagnose')).toHaveLength(1);
    expect(asked('layerRanks')).toHaveLength(0);
    st().setPresentation(false, []);
    await flush();
    expect(asked('layerRanks')).toHaveLength(1);
    expect(asked('layerRanks')[0]!.recipe.models.map((m) => m.model)).toEqual(['a', 'b']);
  });

  it('go with the models: a model dropped again clears them, asks anew, and the old answer is never shown', async () => {
    await onMine();
    await answerDiagnoses(diagnostics(true));
    const old = asked('layerRanks')[0]!;
    // The same names, other weights, before the first answer came.
    useLabStore.setState({ dropped: st().dropped.map((m) => ({ ...m })) });
    expect(st().layerRanks.shown).toBeUndefined();
    old.resolve({ models: ['a', 'b'], cells: ['old weights'] });
    await flush();
    expect(st().layerRanks.shown).toBeUndefined();
    await answerDiagnoses(diagnostics(true));
    const again = asked('layerRanks');
    expect(again).toHaveLength(2);
    again[1]!.resolve({ models: ['a', 'b'], cells: ['new weights'] });
    await flush();
    expect(st().layerRanks.shown?.data).toEqual({ models: ['a', 'b'], cells: ['new weights'] });
  });

  it('are cleared when the source switches back to the demo', async () => {
    await onMine();
    await answerDiagnoses(diagnostics(true));
    asked('layerRanks')[0]!.resolve({ models: ['a', 'b'], cells: [] });
    await flush();
    expect(st().layerRanks.shown).toBeDefined();
    st().setSource('demo');
    expect(st().layerRanks.shown).toBeUndefined();
    expect(st().layerRanks.status).toBe('idle');
  });
});
