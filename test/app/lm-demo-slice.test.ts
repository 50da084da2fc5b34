/**
 * The LM demo's slice on the real store, with fetch answering from public/demo/lm/ and a fake
 * engine whose answers the test hands out: choosing the LM demo fetches its files only (not the
 * digits demo's) and opens each checkpoint with config.json beside it; the card asks the engine
 * about the validation windows (a probe, then all of them), the test split only when asked for and
 * labelled so; the sweep is asked once the card's answer is in, again for a move of the other
 * parameter (the one running for the old settings stopped at once) and not for one of its own;
 * neither the card nor the sweep is asked while the link hides it. Switching source drops what was shown or still on its way
 * for the other source: an LM answer landing after a switch to the digits demo is never shown, and
 * back on the LM demo the old answer is not either. Twin-Merging there asks the card for its routed merge (the shared
 * expert's recipe, the rank, the router's training texts) and a move of its controls asks again; so does Channel Merging (K, the group method, the router's training texts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useLabStore } from '../../src/app/store/index.js';
import type { EngineClient } from '../../src/app/engine/engine-client.js';
import { LM_DEMO_PROBE_TOKENS } from '../../src/app/store/lm-demo-slice.js';
import { handedOutRecipe } from '../../src/app/store/engine-slice.js';
import { SWEEP_DEBOUNCE_MS } from '../../src/app/store/charts-slice.js';
import type { LmLabRequest, LmLabSweepRequest, ModelFile } from '../../src/engine/api/engine-api.js';
import type { LmLabTwinRequest } from '../../src/engine/api/lm-lab-twin-api.js';
import type { LmLabChannelRequest } from '../../src/engine/api/lm-lab-channel-api.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { lmEvalTasks } from '../../src/engine/demo/lm-eval-set.js';
import { parseLmManifest } from '../../src/engine/demo/lm-manifest.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');
const manifest = parseLmManifest(readFileSync(path.join(DEMO, 'manifest.json'), 'utf8'));
const DOMAINS = manifest.domains.map((d) => d.id);

interface Asked {
  readonly method: string;
  readonly args: unknown[];
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

const fake = vi.hoisted(() => {
  const asked: Asked[] = [];
  const opened: { id: string; files: readonly ModelFile[] }[] = [];
  const service = new Proxy({}, { get: (_t, method: string) => (...args: unknown[]) => new Promise((resolve, reject) => asked.push({ method, args, resolve, reject })) });
  const remote = new Proxy({}, { get: () => service });
  const client = {
    call: (fn: (r: unknown) => Promise<unknown>) => fn(remote),
    openModel: async (id: string, files: readonly ModelFile[]) => {
      opened.push({ id, files });
      return { id, name: files[1]!.path, tensors: [], parameters: 869504, bytes: files[1]!.blob.size, dtypes: ['F16'] };
    },
  };
  return { asked, opened, client };
});

const fetched: string[] = [];
vi.stubGlobal('window', { location: { href: 'http://lab.test/' } });
vi.stubGlobal('fetch', async (url: string) => {
  const p = new URL(url, 'http://lab.test/').pathname;
  fetched.push(p);
  const file = p.startsWith('/demo/lm/') ? path.join(DEMO, p.slice('/demo/lm/'.length)) : undefined;
  if (!file) return new Response('not here', { status: 404 });
  const bytes = readFileSync(file);
  return new Response(bytes, { headers: { 'content-length': String(bytes.length), 'content-type': p.endsWith('.json') ? 'application/json' : 'application/octet-stream' } });
});

const loadDemo = vi.fn(async () => undefined);
useLabStore.setState({ engineClient: () => fake.client as unknown as EngineClient, startEngine: () => undefined, loadDemo });
const initial = useLabStore.getState();
const st = () => useLabStore.getState();
const flush = () => new Promise((r) => setTimeout(r, 0));
const asked = (method: string) => fake.asked.filter((a) => a.method === method);
const evaluations = () => asked('evaluate').map((a) => a.args[0] as LmLabRequest);

/** An engine answer for `r`, every merged loss `loss` so answers can be told apart. */
const answer = (r: LmLabRequest, loss: number) => ({
  mode: r.mode,
  context: 128,
  probeTokens: LM_DEMO_PROBE_TOKENS,
  base: r.base,
  experts: r.experts,
  tokenizer: 'bytes',
  tasks: r.tasks.map((t) => ({ name: t.name, expert: t.expert, tokens: 10, textTokens: 10, bytes: 11, base: { loss: 3 }, experts: r.experts.map(() => ({ loss: 2 })), merged: { loss }, gain: t.expert ? 3 - loss : null })),
  meanGain: 3 - loss,
  milliseconds: { references: 0, merge: 1, merged: 1, total: 2 },
});

/** Waits until the LM demo loaded (every file read, each model opened). */
async function lmLoaded(): Promise<void> {
  for (let i = 0; i < 200 && st().lmDemo.status !== 'loaded'; i++) await flush();
  expect(st().lmDemo.status).toBe('loaded');
}

/** The LM demo chosen and loaded, its first probe and full answers given (losses 2.6, then 2.5). */
async function lmShown(): Promise<void> {
  useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1 });
  st().setSource('lm');
  await lmLoaded();
  asked('evaluate').at(-1)!.resolve(answer(evaluations().at(-1)!, 2.6));
  await flush();
  asked('evaluate').at(-1)!.resolve(answer(evaluations().at(-1)!, 2.5));
  await flush();
}

beforeEach(() => {
  fake.asked.length = 0;
  fake.opened.length = 0;
  fetched.length = 0;
  loadDemo.mockClear();
});
afterEach(() => {
  vi.useRealTimers();
  useLabStore.setState(initial, true);
});

describe('the LM demo', () => {
  it('is fetched when chosen, its files only, and each checkpoint opened with config.json beside it under lm-base or its domain', async () => {
    expect(st().lmDemo.status).toBe('idle');
    st().setSource('lm');
    expect(st().lmDemo.status).toBe('loading');
    await lmLoaded();
    expect(fetched.sort()).toEqual(['/demo/lm/base.safetensors', '/demo/lm/config.json', ...DOMAINS.map((d) => `/demo/lm/expert-${d}.safetensors`).sort(), '/demo/lm/manifest.json'].sort());
    expect(loadDemo).not.toHaveBeenCalled();
    expect(fake.opened.map((o) => [o.id, o.files.map((f) => f.path)])).toEqual([['lm-base', ['config.json', 'base.safetensors']], ...DOMAINS.map((d) => [d, ['config.json', `expert-${d}.safetensors`]])]);
    const demo = st().lmDemo;
    expect(demo.models.map((m) => `${m.id} ${m.file} ${m.status} ${m.parameters}`)).toEqual(['lm-base base.safetensors ready 869504', ...DOMAINS.map((d) => `${d} expert-${d}.safetensors ready 869504`)]);
    expect(demo.domains.map((d) => d.id)).toEqual(DOMAINS);
    expect(demo.total).toBe(demo.received);
    expect(demo.total).toBe(fetched.reduce((n, p) => n + readFileSync(path.join(DEMO, p.slice('/demo/lm/'.length))).length, 0));
    // The digits demo waits until it is chosen. (Test files share the store's module: another file
    // may have loaded the digits demo already, so it is marked not loaded here.)
    useLabStore.setState({ demo: { ...st().demo, status: 'idle' } });
    st().setSource('demo');
    expect(loadDemo).toHaveBeenCalledTimes(1);
  });

  it('asks the card’s evaluation on the validation windows — a probe, then all of them — and the test split only when asked, labelled', async () => {
    useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1 });
    st().setSource('lm');
    await lmLoaded();
    const [probe] = evaluations();
    expect(probe).toMatchObject({ mode: 'probe', base: 'lm-base', experts: DOMAINS, context: 128, probeTokens: LM_DEMO_PROBE_TOKENS, recipe: { baseModel: 'lm-base', models: DOMAINS.map((model) => ({ model })) } });
    expect(probe!.tasks).toEqual(lmEvalTasks(manifest, 'validation'));
    asked('evaluate')[0]!.resolve(answer(probe!, 2.6));
    await flush();
    expect(st().lmEval.shown!.data).toMatchObject({ split: 'validation', answer: { mode: 'probe' } });
    // All the windows once the probe is drawn.
    expect(evaluations().map((r) => r.mode)).toEqual(['probe', 'full']);
    asked('evaluate')[1]!.resolve(answer(evaluations()[1]!, 2.5));
    await flush();
    expect(st().lmEval).toMatchObject({ status: 'ready', shown: { data: { split: 'validation', answer: { mode: 'full' }, settings: expect.stringContaining("on the LM demo's validation windows") as unknown } } });

    st().setLmSplit('test');
    expect(st().lmEval.shown).toBeUndefined();
    const onTest = evaluations()[2]!;
    expect(onTest.tasks).toEqual(lmEvalTasks(manifest, 'test'));
    asked('evaluate')[2]!.resolve(answer(onTest, 2.7));
    await flush();
    expect(st().lmEval.shown!.data).toMatchObject({ split: 'test', settings: expect.stringContaining('held-out test') as unknown });
  });

  it('asks the sweep once the card’s answer is in, on probes of the validation windows; again for a λ move, not for a density move', async () => {
    await lmShown();
    await new Promise((r) => setTimeout(r, SWEEP_DEBOUNCE_MS + 20));
    vi.useFakeTimers();
    const sweeps = () => asked('sweep').map((a) => a.args[0] as LmLabSweepRequest);
    expect(sweeps()).toHaveLength(1);
    const [sweep] = sweeps();
    expect(sweep).toMatchObject({ base: 'lm-base', experts: DOMAINS, probeTokens: LM_DEMO_PROBE_TOKENS });
    expect(sweep!.tasks).toEqual(lmEvalTasks(manifest, 'validation'));
    expect(sweep!.points.map((p) => p.value)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(sweep!.points[4]!.recipe).toMatchObject({ models: DOMAINS.map(() => ({ parameters: { density: 0.5 } })), parameters: { lambda: 1 } });
    // A density move: the curve is the same; the card's own probe and full answers only.
    st().setDensity(0.5);
    vi.advanceTimersByTime(1000);
    expect(sweeps()).toHaveLength(1);
    expect(asked('cancelSweep')).toHaveLength(0);
    // A λ move: another curve, asked once the card's answer for it is in; the old one, still running, stopped at once.
    st().setLambda(0.5);
    expect(asked('cancelSweep')).toHaveLength(1);
    vi.advanceTimersByTime(SWEEP_DEBOUNCE_MS + 500);
    expect(sweeps()).toHaveLength(1);
    vi.useRealTimers();
    // The λ move's probe lands, then all the windows (asked once the probe was drawn).
    for (const mode of ['probe', 'full']) {
      const last = asked('evaluate').at(-1)!;
      expect((last.args[0] as LmLabRequest).mode).toBe(mode);
      last.resolve(answer(last.args[0] as LmLabRequest, 2.4));
      await flush();
    }
    await new Promise((r) => setTimeout(r, SWEEP_DEBOUNCE_MS + 20));
    expect(sweeps()).toHaveLength(2);
    expect(sweeps()[1]!.points[0]!.recipe).toMatchObject({ parameters: { lambda: 0.5 } });
  });

  it('a link that hides the card (lm_hide=1) or the sweep (sweep_hide=1) asks the engine for neither; shown again, each is asked', async () => {
    useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1 });
    st().setPresentation(false, ['lm', 'sweep']);
    st().setSource('lm');
    await lmLoaded();
    await new Promise((r) => setTimeout(r, SWEEP_DEBOUNCE_MS + 20));
    expect(evaluations()).toHaveLength(0);
    expect(asked('sweep')).toHaveLength(0);
    st().setLambda(0.5);
    await new Promise((r) => setTimeout(r, SWEEP_DEBOUNCE_MS + 20));
    expect(evaluations()).toHaveLength(0);
    expect(asked('sweep')).toHaveLength(0);
    // The card shown: all the windows at the current settings.
    st().setPresentation(false, ['sweep']);
    expect(evaluations().map((r) => r.mode)).toEqual(['full']);
    expect(evaluations()[0]!.recipe).toMatchObject({ parameters: { lambda: 0.5 } });
    asked('evaluate')[0]!.resolve(answer(evaluations()[0]!, 2.5));
    await flush();
    expect(st().lmEval.shown!.data.answer.mode).toBe('full');
    // The sweep shown: asked (the card's answer is in).
    st().setPresentation(false, []);
    await new Promise((r) => setTimeout(r, SWEEP_DEBOUNCE_MS + 20));
    expect(asked('sweep')).toHaveLength(1);
    expect((asked('sweep')[0]!.args[0] as LmLabSweepRequest).points[0]!.recipe).toMatchObject({ parameters: { lambda: 0.5 } });
  });

  it('builds its recipe from the digits demo’s controls over its own ids: per expert, base weight, seed, pair', async () => {
    useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1 });
    st().setSource('lm');
    await lmLoaded();
    const recipe = () => evaluations().at(-1)!.recipe as Recipe;
    st().setDemoModelParam('romance', 'weight', 0.5);
    expect(recipe().models.find((m) => m.model === 'romance')).toEqual({ model: 'romance', parameters: { weight: 0.5, density: 0.3 } });
    st().setMethod('linear');
    st().setBaseWeight(0.2);
    expect(recipe().baseModel).toBe('lm-base');
    expect(recipe().models.map((m) => `${m.model} ${String(m.parameters?.['weight'])}`)).toEqual(['lm-base 0.2', 'romance 0.5', 'germanic 1', 'slavic 1', 'uralic 1', 'code 1']);
    st().setMethod('dare_ties');
    st().setRandomSeed(7);
    expect(recipe().randomSeed).toBe(7);
    st().setMethod('slerp');
    st().setPair({ base: 'lm-base', other: 'code' });
    expect(recipe()).toMatchObject({ baseModel: 'lm-base', models: [{ model: 'lm-base' }, { model: 'code' }] });
    // Channel Merging: the LM card asks for the looked-up rows (K, the group method, the router's
    // training texts), a K move asks again; the digits lab and the sweep are never asked; no recipe.
    const asks = ['sweep', 'twinLab', 'channelLab', 'liveDemo'].map((m) => asked(m).length);
    const before = evaluations().length;
    st().setMethod('channel_merging');
    const channelOf = () => (evaluations().at(-1) as LmLabChannelRequest).channel!;
    expect(evaluations().length).toBeGreaterThan(before);
    expect(channelOf()).toMatchObject({ K: st().channel.K, clustering: st().channel.clustering, oracle: false, router: { architecture: 'small' } });
    expect(channelOf().training).toEqual(manifest.domains.map((d) => ({ expert: d.id, text: d.texts.validation })));
    st().setChannel({ K: 3 });
    expect(channelOf().K).toBe(3);
    expect(['sweep', 'twinLab', 'channelLab', 'liveDemo'].map((m) => asked(m).length)).toEqual(asks);
    expect(() => handedOutRecipe(st())).toThrow(/Channel Merging on the language-model demo is scored in the lab/);
  });

  it('Twin-Merging asks the LM card for the routed merge: the shared expert’s recipe, the rank and the router’s training texts; a control move asks again; the digits twin is never asked', async () => {
    st().setSource('lm');
    await lmLoaded();
    st().setMethod('twin_merging');
    const twinOf = (r: LmLabRequest) => (r as LmLabTwinRequest).twin!;
    const first = evaluations().at(-1)!;
    expect(first.recipe).toEqual({ mergeMethod: 'task_arithmetic', baseModel: 'lm-base', models: DOMAINS.map((model) => ({ model, parameters: { weight: 1 } })), parameters: { lambda: st().twin.lambda }, dtype: 'float32' });
    expect(twinOf(first)).toMatchObject({ rank: st().twin.rank, oracle: false, router: { architecture: st().twin.router } });
    expect(twinOf(first).training).toEqual(manifest.domains.map((d) => ({ expert: d.id, text: d.texts.validation })));
    expect(first.tasks).toEqual(lmEvalTasks(manifest, 'validation'));
    const key = st().lmEval.key;
    st().setTwin({ useRatio: true, rankRatio: 0.1 });
    const moved = evaluations().at(-1)!;
    expect(twinOf(moved)).toMatchObject({ rankRatio: 0.1 });
    expect(twinOf(moved).rank).toBeUndefined();
    expect(st().lmEval.key).not.toBe(key);
    // Its answer is the card's, named by Twin-Merging's settings; nothing of the digits twin is asked.
    asked('evaluate').at(-1)!.resolve({ ...answer(moved, 2.4), routing: { experts: DOMAINS, tasks: [], router: { architecture: 'small', epochs: 3, bestEpoch: 2, samples: { training: 90, heldOut: 30 }, heldOutAccuracy: 1 } } });
    await flush();
    expect(st().lmEval.shown!.data.settings).toMatch(/^shared expert task arithmetic λ [\d.]+, rank_ratio 0\.1, small router/);
    expect(asked('twinLab')).toHaveLength(0);
    expect(() => handedOutRecipe(st())).toThrow(/Twin-Merging on the language-model demo is scored in the lab/);
    // An energy share is not offered there: the card says so.
    st().setTwin({ useEnergy: true });
    expect(st().lmEval.error?.message).toMatch(/rank or a rank_ratio/);
  });

  it('switching source drops what was shown or on its way for the other source', async () => {
    await lmShown();
    expect(st().lmEval.shown!.data.answer.tasks.map((t) => t.name)).toEqual([...DOMAINS, 'mixed']);
    // A λ move asks a probe; the digits demo is chosen before it lands.
    st().setLambda(0.7);
    const late = asked('evaluate').at(-1)!;
    st().setSource('demo');
    expect(st().lmEval.shown).toBeUndefined();
    expect(st().lmSweep.shown).toBeUndefined();
    late.resolve(answer(late.args[0] as LmLabRequest, 2.0));
    await flush();
    expect(st().lmEval.shown, 'an LM answer never lands on the digits demo').toBeUndefined();
    // The sweep asked for the LM demo, landing on the digits demo: not shown either.
    const sweep = asked('sweep').at(-1);
    sweep?.resolve([{ value: 0.1, loss: 2, meanGain: 0.1, tasks: [] }]);
    await flush();
    expect(st().lmSweep.shown).toBeUndefined();

    // Back on the LM demo: asked again for it; nothing from before drawn meanwhile.
    const before = asked('evaluate').length;
    st().setSource('lm');
    expect(st().lmEval.shown).toBeUndefined();
    expect(asked('evaluate').length).toBe(before + 1);
    const again = asked('evaluate').at(-1)!;
    expect((again.args[0] as LmLabRequest).recipe).toMatchObject({ baseModel: 'lm-base', parameters: { lambda: 0.7 } });
    again.resolve(answer(again.args[0] as LmLabRequest, 2.2));
    await flush();
    expect(st().lmEval.shown!.data.answer.tasks[0]!.merged.loss).toBe(2.2);
    // One's own checkpoints: the LM demo's answer goes with it.
    st().setSource('mine');
    expect(st().lmEval.shown).toBeUndefined();
  });
});
