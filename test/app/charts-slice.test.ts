/**
 * The charts slice (src/app/store/charts-slice.ts) on the real store, its engine client a fake
 * whose answers the test hands out one by one: diagnostics are asked for only when something they
 * depend on changed (not λ), and each request is latest-wins (src/app/store/latest-request.ts):
 * an answer older than the one shown is dropped, an error replaces the answer it concerns, an
 * overtaken (CANCELLED) call says nothing, a call lost with its worker is asked again.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SWEEP_DEBOUNCE_MS, diagnosticsKey } from '../../src/app/store/charts-slice.js';
import { useLabStore } from '../../src/app/store/index.js';
import type { DroppedModel } from '../../src/app/store/types.js';
import { droppedRecipe } from '../../src/app/recipe/dropped-recipe.js';
import { demoRecipe } from '../../src/app/recipe/demo-recipe.js';
import type { EngineClient } from '../../src/app/engine/engine-client.js';
import { EngineGoneError } from '../../src/app/engine/failures.js';
import { MergeLabError } from '../../src/engine/errors.js';
import type { Recipe } from '../../src/engine/recipe/types.js';

/** One call the fake engine got, answered when the test says. */
interface Asked {
  readonly method: string;
  readonly recipe: Recipe;
  /** The arguments after the first (a call's options). */
  readonly rest: readonly unknown[];
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

const fake = vi.hoisted(() => {
  const asked: Asked[] = [];
  // Any service, any method (remote.diagnostics.diagnose(recipe)): asked, answered by the test.
  const service = new Proxy(
    {},
    {
      get:
        (_t, method: string) =>
        (recipe: Recipe, ...rest: unknown[]) =>
          new Promise((resolve, reject) => asked.push({ method, recipe, rest, resolve, reject })),
    },
  );
  const remote = new Proxy({}, { get: () => service });
  const client = { call: (fn: (r: unknown) => Promise<unknown>) => fn(remote) };
  return { asked, client };
});

// The only seam: the store's engine client is this fake instead of one over a real worker.
useLabStore.setState({ engineClient: () => fake.client as unknown as EngineClient });
const initial = useLabStore.getState();
const st = () => useLabStore.getState();
const diagnoses = () => fake.asked.filter((a) => a.method === 'diagnose');
const spectra = () => fake.asked.filter((a) => a.method === 'spectrum');
const flush = () => new Promise((r) => setTimeout(r, 0));

const model = (id: string, role: DroppedModel['role']): DroppedModel => ({ id, name: `${id}.safetensors`, files: 1, role, status: 'ready' });

/** The user's checkpoints (a base and two experts), TIES at density 0.3, λ 1; the requests this made answered. */
async function onMine(): Promise<void> {
  useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1 });
  useLabStore.setState({ source: 'mine', dropped: [model('base', 'base'), model('a', 'expert'), model('b', 'expert')] });
  // The diagnostics, then the spectrum they let through.
  for (let round = 0; round < 2; round++) {
    for (const a of fake.asked) a.resolve({ answer: 'first' });
    await flush();
  }
  fake.asked.length = 0;
}

beforeEach(() => {
  fake.asked.length = 0;
});
afterEach(() => useLabStore.setState(initial, true));

describe('diagnosticsKey', () => {
  const models = [model('base', 'base'), model('a', 'expert'), model('b', 'expert')];
  const mine = (method: string, c: Parameters<typeof droppedRecipe>[3], ids = models) => droppedRecipe(method, ids, {}, c);
  const c = { density: 0.3, lambda: 0.7 };
  const key = diagnosticsKey(mine('ties', c));

  it('ignores λ', () => {
    expect(diagnosticsKey(mine('ties', { ...c, lambda: 1.3 }))).toBe(key);
    expect(diagnosticsKey(mine('ties', { ...c, lambda: 1 }))).toBe(key);
    const demo = (lambda: number) => diagnosticsKey(demoRecipe('ties', ['invert', 'shift'], { density: 0.3, lambda }));
    expect(demo(0.4)).toBe(demo(1.5));
  });

  it('keeps everything else', () => {
    expect(diagnosticsKey(mine('ties', { ...c, density: 0.5 }))).not.toBe(key);
    expect(diagnosticsKey(mine('dare_ties', c))).not.toBe(key);
    expect(diagnosticsKey(mine('ties', c, models.slice(0, 2)))).not.toBe(key);
    expect(diagnosticsKey(mine('ties', { ...c, dtype: 'bfloat16' }))).not.toBe(key);
    expect(diagnosticsKey(mine('ties', { ...c, math: 'float32', dtype: 'bfloat16' }))).not.toBe(diagnosticsKey(mine('ties', { ...c, dtype: 'bfloat16' })));
    // A λ the method reads per model would be a model parameter: only the recipe-wide λ is ignored.
    const r = mine('ties', c);
    expect(diagnosticsKey({ ...r, models: r.models.map((m) => ({ ...m, parameters: { ...m.parameters, lambda: 2 } })) })).not.toBe(key);
  });

  // λ at its default (1) leaves `parameters` out of the recipe; the key once put `parameters: {}`
  // after dtype then, so a λ move to or from 1 with a dtype set asked for diagnostics again.
  it('ignores λ moving to or from its default with a dtype set', () => {
    const withDtype = { ...c, dtype: 'bfloat16' as const };
    expect(diagnosticsKey(mine('ties', { ...withDtype, lambda: 1 }))).toBe(diagnosticsKey(mine('ties', withDtype)));
  });
});

describe('requests on dropped checkpoints', () => {
  it('a λ move asks the engine nothing and keeps the charts; a density move asks once', async () => {
    await onMine();
    const before = st().diagnostics;
    expect(before).toMatchObject({ status: 'ready', shown: { data: { answer: 'first' } } });

    st().setLambda(0.5);
    st().setLambda(0.65);
    await flush();
    expect(diagnoses()).toHaveLength(0);
    expect(spectra()).toHaveLength(0);
    expect(st().diagnostics).toBe(before);

    st().setDensity(0.5);
    await flush();
    expect(diagnoses()).toHaveLength(1);
    expect(diagnoses()[0]!.recipe.models[0]!.parameters?.['density']).toBe(0.5);
    // The spectrum reads the models only: a density move does not ask for it either.
    expect(spectra()).toHaveLength(0);
    expect(st().diagnostics.status).toBe('computing');

    // Back at a density asked before: asked again (only the last key is remembered), once.
    st().setDensity(0.3);
    expect(diagnoses()).toHaveLength(2);
  });

  it('a method change asks once', async () => {
    await onMine();
    st().setMethod('dare_ties');
    expect(diagnoses()).toHaveLength(1);
    expect(diagnoses()[0]!.recipe.mergeMethod).toBe('dare_ties');
  });

  it('a model dropped again under the same name asks anew for the same recipe', async () => {
    await onMine();
    useLabStore.setState({ dropped: st().dropped.map((m) => ({ ...m })) });
    expect(diagnoses()).toHaveLength(1);
    // The spectrum waits for the diagnostics: on one's own models each takes seconds, and the first charts go first.
    expect(spectra()).toHaveLength(0);
    diagnoses()[0]!.resolve({ answer: 'again' });
    await flush();
    expect(spectra()).toHaveLength(1);
  });
});

describe('requests on the demo', () => {
  /** The demo in the engine: TIES at density 0.3, λ 1, the sweep over density; the requests this made answered. */
  async function onDemo(): Promise<void> {
    useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1, sweepParam: 'density', source: 'demo', engine: { ...initial.engine, demo: { status: 'ready', tasks: ['invert', 'shift', 'rotate'] } } });
    st().requestCharts();
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    for (const a of fake.asked) a.resolve({ answer: 'first' });
    await vi.advanceTimersByTimeAsync(0);
    fake.asked.length = 0;
  }
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('a λ drag asks for no diagnostics and one sweep, once the slider rests', async () => {
    await onDemo();
    for (const lambda of [0.9, 0.8, 0.7]) st().setLambda(lambda);
    expect(diagnoses()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS - 1);
    expect(fake.asked.filter((a) => a.method === 'sweepDemo')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const sweeps = fake.asked.filter((a) => a.method === 'sweepDemo');
    expect(sweeps).toHaveLength(1);
    // The density sweep at the λ the slider rested on.
    const points = sweeps[0]!.recipe as unknown as { recipe: Recipe }[];
    expect(points.map((p) => p.recipe.parameters?.['lambda'])).toEqual(points.map(() => 0.7));
    expect(diagnoses()).toHaveLength(0);
  });

  it('a hidden sweep (sweep_hide=1) asks the engine for nothing; shown again, it is asked for', async () => {
    await onDemo();
    const sweeps = () => fake.asked.filter((a) => a.method === 'sweepDemo');
    st().setPresentation(false, ['sweep']);
    st().setLambda(0.7);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(sweeps()).toHaveLength(0);
    expect(st().sweep.shown).toBeUndefined();
    st().setPresentation(false, []);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(sweeps()).toHaveLength(1);
    expect((sweeps()[0]!.recipe as unknown as { recipe: Recipe }[]).map((p) => p.recipe.parameters?.['lambda'])).toContain(0.7);
  });

  it('hidden sign conflicts, cosines and layer map (and a hidden spectrum) ask the engine for nothing; shown again, they are asked for', async () => {
    st().setPresentation(false, ['conflicts', 'cosines', 'layers', 'spectrum']);
    await onDemo();
    st().setDensity(0.5);
    // A rank no other test asks for: the slice's keys outlive a test's state.
    st().setSvdRank(7);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(diagnoses()).toHaveLength(0);
    expect(spectra()).toHaveLength(0);
    // One of the three shown is enough for the diagnostics: they come in one answer.
    st().setPresentation(false, ['cosines', 'layers', 'spectrum']);
    await vi.advanceTimersByTimeAsync(0);
    expect(diagnoses()).toHaveLength(1);
    expect(spectra()).toHaveLength(0);
    st().setPresentation(false, []);
    await vi.advanceTimersByTimeAsync(0);
    expect(diagnoses()).toHaveLength(1);
    expect(spectra()).toHaveLength(1);
  });

  it("leaving the demo (or hiding the sweep) stops its sweep: a running one is superseded by an empty sweep, one waiting for the sliders is never asked", async () => {
    await onDemo();
    const sweeps = () => fake.asked.filter((a) => a.method === 'sweepDemo').map((a) => (a.recipe as unknown as unknown[]).length);
    // A sweep on its way (asked, not answered), then one's own checkpoints chosen.
    st().setLambda(0.7);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(sweeps()).toEqual([10]);
    useLabStore.setState({ source: 'mine' });
    await vi.advanceTimersByTimeAsync(0);
    expect(sweeps()).toEqual([10, 0]);
    // Back on the demo, a λ move starts the debounce; leaving before it ends asks for no sweep.
    useLabStore.setState({ source: 'demo' });
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    fake.asked.length = 0;
    st().setLambda(0.6);
    useLabStore.setState({ source: 'mine' });
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(sweeps().filter((n) => n > 0)).toEqual([]);
    // The same when the sweep is hidden while the sliders rest.
    useLabStore.setState({ source: 'demo' });
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    fake.asked.length = 0;
    st().setLambda(0.5);
    st().setPresentation(false, ['sweep']);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(sweeps().filter((n) => n > 0)).toEqual([]);
  });

  it("Channel Merging's view draws no spectrum: none is asked for", async () => {
    await onDemo();
    useLabStore.setState({ method: 'channel_merging' });
    // A rank no other test asks for: a spectrum asked would be a new request.
    st().setSvdRank(9);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(spectra()).toHaveLength(0);
  });

  it('while the sweep waits for the sliders to rest, the one drawn is marked, or taken off when another method made it', async () => {
    await onDemo();
    expect(st().sweep).toMatchObject({ status: 'ready', shown: { data: { method: 'ties', param: 'density' } } });
    st().setLambda(0.7);
    // Another λ: the density sweep drawn is marked as not this setting's, until the new one comes.
    expect(st().sweep).toMatchObject({ status: 'computing', shown: { data: { method: 'ties' } } });
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    for (const a of fake.asked) a.resolve({ answer: 'second' });
    await vi.advanceTimersByTimeAsync(0);
    expect(st().sweep.status).toBe('ready');
    // Another method: TIES's sweep must not stand under task arithmetic's name for the debounce.
    st().setMethod('task_arithmetic');
    expect(st().sweep.shown).toBeUndefined();
    expect(st().sweep.status).toBe('idle');
  });

  it('the sweep is on the validation split until the test split is asked for; a sweep of the other split is taken off at once', async () => {
    await onDemo();
    expect(st().demoSplit).toBe('validation');
    const sweeps = () => fake.asked.filter((a) => a.method === 'sweepDemo');
    const answer = () => {
      for (const a of sweeps()) a.resolve([{ value: 0.3, perTask: [1, 2, 3], normalized: 4 }]);
    };
    st().setLambda(0.8);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(sweeps().at(-1)!.rest[0]).toEqual({ split: 'validation' });
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(st().sweep.shown?.data).toMatchObject({ split: 'validation' });
    fake.asked.length = 0;

    st().setDemoSplit('test');
    // The validation sweep must not stand as the test split's while the new one waits.
    expect(st().sweep.shown).toBeUndefined();
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(sweeps()).toHaveLength(1);
    expect(sweeps()[0]!.rest[0]).toEqual({ split: 'test' });
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(st().sweep.shown?.data).toMatchObject({ split: 'test' });
    // Asking for the split already shown asks nothing again.
    fake.asked.length = 0;
    st().setDemoSplit('test');
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(fake.asked).toHaveLength(0);
  });

  it('a density move asks for diagnostics, and no sweep (the sweep runs over density)', async () => {
    await onDemo();
    st().setDensity(0.5);
    await vi.advanceTimersByTimeAsync(SWEEP_DEBOUNCE_MS);
    expect(diagnoses()).toHaveLength(1);
    expect(fake.asked.filter((a) => a.method === 'sweepDemo')).toHaveLength(0);
  });
});

describe('latest wins', () => {
  it('an older answer arriving late is not shown over a newer one', async () => {
    await onMine();
    st().setDensity(0.4);
    st().setDensity(0.5);
    const [older, newer] = diagnoses();
    newer!.resolve({ answer: 'newer' });
    await flush();
    expect(st().diagnostics).toMatchObject({ status: 'ready', shown: { data: { answer: 'newer' } } });
    older!.resolve({ answer: 'older' });
    await flush();
    expect(st().diagnostics).toMatchObject({ status: 'ready', shown: { data: { answer: 'newer' } } });
  });

  it('an older answer in time is shown, marked as still computing', async () => {
    await onMine();
    st().setDensity(0.4);
    st().setDensity(0.5);
    const [older, newer] = diagnoses();
    older!.resolve({ answer: 'older' });
    await flush();
    expect(st().diagnostics).toMatchObject({ status: 'computing', shown: { data: { answer: 'older' } } });
    newer!.resolve({ answer: 'newer' });
    await flush();
    expect(st().diagnostics).toMatchObject({ status: 'ready', shown: { data: { answer: 'newer' } } });
  });

  it('a failed request replaces the answer shown; an older one’s failure does not', async () => {
    await onMine();
    st().setDensity(0.4);
    st().setDensity(0.5);
    const [older, newer] = diagnoses();
    older!.reject(new MergeLabError('INTERNAL', 'the older one broke'));
    await flush();
    expect(st().diagnostics.status).toBe('computing');
    expect(st().diagnostics.error).toBeUndefined();
    expect(st().diagnostics.shown?.data).toEqual({ answer: 'first' });

    newer!.reject(new MergeLabError('RECIPE_INVALID', 'density too low'));
    await flush();
    const d = st().diagnostics;
    expect(d.status).toBe('error');
    expect(d.error).toEqual({ code: 'RECIPE_INVALID', message: 'density too low' });
    expect(d.shown).toBeUndefined();
  });

  it('a CANCELLED call says nothing', async () => {
    await onMine();
    st().setDensity(0.4);
    st().setDensity(0.5);
    const [older, newer] = diagnoses();
    older!.reject(new MergeLabError('CANCELLED', 'overtaken'));
    await flush();
    expect(st().diagnostics).toMatchObject({ status: 'computing', shown: { data: { answer: 'first' } } });
    expect(st().diagnostics.error).toBeUndefined();
    // Even the newest: a cancelled call is never the user's error.
    newer!.reject(new MergeLabError('CANCELLED', 'overtaken'));
    await flush();
    expect(st().diagnostics.status).toBe('computing');
    expect(st().diagnostics.error).toBeUndefined();
  });

  it('a call lost with its worker says nothing, and the same settings ask again', async () => {
    await onMine();
    st().setDensity(0.5);
    diagnoses()[0]!.reject(new EngineGoneError('The engine stopped.'));
    await flush();
    expect(st().diagnostics.error).toBeUndefined();
    st().requestCharts();
    expect(diagnoses()).toHaveLength(2);
    // Answered: the same settings ask no more.
    diagnoses()[1]!.resolve({ answer: 'again' });
    await flush();
    st().requestCharts();
    expect(diagnoses()).toHaveLength(2);
    expect(st().diagnostics).toMatchObject({ status: 'ready', shown: { data: { answer: 'again' } } });
  });

  it('a recipe that cannot be built is an error at once, without asking', async () => {
    await onMine();
    useLabStore.setState({ dropped: st().dropped.map((m) => (m.role === 'base' ? { ...m, role: 'expert' as const } : m)) });
    expect(diagnoses()).toHaveLength(0);
    expect(st().diagnostics).toMatchObject({ status: 'error', error: { code: 'BASE_MODEL_REQUIRED' } });
    expect(st().diagnostics.shown).toBeUndefined();
  });
});
