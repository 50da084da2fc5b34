/**
 * The lm-lab service: the language-model lab over one's own checkpoints. Given the opened models
 * (a base and its experts, as the models service holds them) and one text per task, it scores
 * the base and every expert on every text once (kept until the models or the texts change), then
 * for each recipe merges into memory (a live session: inputs decoded once, sort orders kept, so a
 * density or λ move costs no sort) and scores the merged model: per task the mean loss
 * (nats/token), perplexity, bits per byte and the normalized gain
 * (loss_base − loss_merged) / (loss_base − loss_expert) against that task's expert.
 *
 * Two modes: a probe (the first `probeTokens` predictions of each text, for a slider being
 * dragged) and the full texts. A task may name windows of its text (`windows`, character ranges):
 * each is then scored on its own from position 0 (excerpts spread over a longer text, windows that
 * must not run into each other) and the task's numbers are their sums; its probe is the first
 * predictions of its windows in order. A probe's numbers are the full scoring's first predictions (windows
 * never overlap, each starts at position 0 and attention is causal: lm/score.ts), so the probe is a
 * prefix of the full answer, not another measure. Every text is tokenized with the base's tokenizer, so every model's
 * losses are over the same tokens.
 *
 * One lane (services/cancel.ts): a newer request, or cancelEvaluate(), stops the one running at its
 * next block (its merge at the next tensor, its scoring at the next layer). A sweep (λ or density)
 * scores every point's probe on a lane and a merge session of its own, so a slider's request and a
 * sweep never cancel each other; but the sweep gives way: it pauses after each layer, and while a
 * slider's request is being computed it waits, so a slider's probe starts within a layer's time
 * instead of after a whole point's merge and pass.
 * When models are opened or closed, what was kept about the others stays: a model opened again
 * under its id (other weights) loses its scores, and the base's text scores go with the base. No tensor outlives a request: the base's and
 * experts' weights go onto the backend only while their missing scores are computed, the merged
 * model's only while it is scored.
 */
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend } from '../../backend.js';
import { MergeLabError, combineProblems } from '../../errors.js';
import type { Checkpoint } from '../../io/types.js';
import { createLiveSession, memoizedCheckpoint, type LiveSession } from '../../live/live-session.js';
import { lmTensorShapes, type LmConfig } from '../../lm/config.js';
import { disposeLmWeights } from '../../lm/load.js';
import { defaultContext, describeLm, openLanguageModel, type LmDescription } from '../../lm/model.js';
import { scoreSequences, type ScoreResult } from '../../lm/score.js';
import type { LmTokenizer } from '../../lm/tokenizer.js';
import { prepareLmWeights, storedNames, type PreparedLmWeights } from '../../lm/weights.js';
import type { CancelToken } from '../../merge/progress.js';
import { parseRecipe } from '../../recipe/parse.js';
import { recipeText as textOf } from '../../recipe/recipe-text.js';
import type { LmLabAnswer, LmLabMetrics, LmLabProgressCallback, LmLabRequest, LmLabService, LmLabSummary, LmLabSweepPoint, LmLabTask, LmLabTaskScore } from '../engine-api.js';
import { createLane, type Lane } from './cancel.js';
import type { LmLabTwinAnswer, LmLabTwinRequest } from '../lm-lab-twin-api.js';
import { scoreTwinTasks, type LmTwinCache } from './lm-lab-twin.js';
import type { LmLabChannelRequest } from '../lm-lab-channel-api.js';
import { scoreChannelTasks, type LmChannelCache } from './lm-lab-channel.js';
import { recipeModelNames, type EngineContext } from './context.js';

/** The lab's context when none is asked for: the model's (at most 2,048), at most this. */
export const LAB_MAX_CONTEXT = 512;
/** A probe's predictions per text: two windows of the context, at most LAB_PROBE_TOKENS (a 10M-parameter model scores ~250 tokens a second on wasm here). */
export const LAB_PROBE_WINDOWS = 2;
export const LAB_PROBE_TOKENS = 256;

/** The predictions a probe scores of each text by default. */
export function labProbeTokens(context: number): number {
  return Math.min(LAB_PROBE_WINDOWS * context, LAB_PROBE_TOKENS);
}

/** The lab's default context for a model: its own (lm/model.ts defaultContext), at most LAB_MAX_CONTEXT. */
export function labContext(config: LmConfig): number {
  return Math.min(defaultContext(config), LAB_MAX_CONTEXT);
}

/** What the lab keeps while the opened models stay as they are. */
interface LabState {
  /** The opened models' checkpoints as the models service holds them: a different one under an id is other weights. */
  readonly sources: Map<string, Checkpoint>;
  /** Every opened model's checkpoint, decoded once on first read (shared by the merges and the references' weights). */
  readonly inputs: Map<string, Checkpoint>;
  readonly session: LiveSession;
  /** The sweeps' own session: a sweep's merges never supersede a slider's. */
  readonly sweepSession: LiveSession;
  /** config.json and tokenizer by base id. */
  readonly descriptions: Map<string, Promise<LmDescription>>;
  /** Token ids by tokenizer, then by text. */
  readonly tokens: WeakMap<LmTokenizer, Map<string, readonly number[]>>;
  /** Reference scores (base, experts) by text, then by referenceKey: full texts, and probes when no full score is kept. */
  readonly references: Map<string, Map<string, ScoreResult>>;
  /** Twin-Merging's decomposition and router, kept for one shared expert. */
  readonly twin: LmTwinCache;
  /** Channel Merging's grouping, model and router. */
  readonly channel: LmChannelCache;
}

const referenceKey = (base: string, model: string, context: number, probe: number | 'full') => `${base}\u0000${model}\u0000${context}\u0000${probe}`;

/** A task's text as the references are kept under it: with its windows, when it names some. */
const textKey = (t: LmLabTask) => (t.windows ? `${t.text}\u0000${JSON.stringify(t.windows)}` : t.text);

/** Each window's token ids (the whole text as one when the task names none). */
function pieceIds(t: LmLabTask, encode: (text: string) => readonly number[]): (readonly number[])[] {
  return t.windows ? t.windows.map(([a, b]) => encode(t.text.slice(a, b))) : [encode(t.text)];
}

/** The pieces cut to their first `predictions` predictions, in order (a probe). */
function firstPredictions(pieces: readonly (readonly number[])[], predictions: number): (readonly number[])[] {
  const out: (readonly number[])[] = [];
  let left = predictions;
  for (const p of pieces) {
    if (left <= 0) break;
    const n = Math.min(left, Math.max(0, p.length - 1));
    if (n > 0) out.push(p.slice(0, n + 1));
    left -= n;
  }
  return out;
}

/**
 * Each task's pieces scored from position 0 — every piece of every task in the same batched passes
 * (scoreSequences) — and per task the sums, and each prediction's loss in order when asked.
 */
async function scoreTasks(config: LmConfig, weights: Parameters<typeof scoreSequences>[1], tasks: readonly { readonly pieces: readonly (readonly number[])[] }[], options: Parameters<typeof scoreSequences>[3]): Promise<ScoreResult[]> {
  const scores = await scoreSequences(config, weights, tasks.flatMap((t) => t.pieces), options);
  let at = 0;
  return tasks.map((t) => {
    const own = scores.slice(at, (at += t.pieces.length));
    const tokens = own.reduce((n, sc) => n + sc.tokens, 0);
    const perToken = options.perToken ? new Float32Array(tokens) : undefined;
    let offset = 0;
    for (const sc of own) {
      perToken?.set(sc.perToken!, offset);
      offset += sc.tokens;
    }
    return { tokens, nll: own.reduce((n, sc) => n + sc.nll, 0), windows: own.flatMap((sc) => sc.windows), ...(perToken ? { perToken } : {}) };
  });
}

/** The first `tokens` predictions of a full score (kept per token): what a probe of them gives. */
function probeOf(full: ScoreResult, tokens: number): ScoreResult {
  const losses = full.perToken!.subarray(0, tokens);
  let nll = 0;
  for (const l of losses) nll += l;
  return { tokens: losses.length, nll, windows: [] };
}

function metrics(score: ScoreResult, bytes: number | null): LmLabMetrics {
  const loss = score.tokens > 0 ? score.nll / score.tokens : NaN;
  return { tokens: score.tokens, nll: score.nll, loss, perplexity: Math.exp(loss), bitsPerByte: bytes === null ? null : score.nll / Math.LN2 / bytes };
}

/** (loss_base − loss_merged) / (loss_base − loss_expert); null when the expert scores as the base does. */
export function normalizedGain(base: number, merged: number, expert: number): number | null {
  const denominator = base - expert;
  if (!Number.isFinite(denominator) || Math.abs(denominator) <= 1e-12 * Math.max(1, Math.abs(base))) return null;
  return (base - merged) / denominator;
}

/**
 * The base's config with the merged model's own layer count: a layer stack (`slices:`) has the
 * depth of its slices, and scoring it with the base's would read only its first layers, or miss some.
 */
export function mergedConfig(config: LmConfig, merged: Readonly<Record<string, unknown>>): LmConfig {
  let most = -1;
  for (const name of Object.keys(merged)) {
    const m = /\.(\d+)\./.exec(name);
    if (m) most = Math.max(most, Number(m[1]));
  }
  return most >= 0 && most + 1 !== config.numLayers ? { ...config, numLayers: most + 1 } : config;
}

/** The merged tensors an LM forward needs, laid out for inference; the caller disposes them (disposeLmWeights(w.tensors)). */
function mergedModel(config: LmConfig, merged: Readonly<Record<string, Float32Array>>): PreparedLmWeights {
  const raw = new Map<string, tf.Tensor>();
  try {
    for (const [name, shape] of lmTensorShapes(config)) {
      const stored = storedNames(name).find((n) => merged[n] !== undefined);
      // A tensor the merge did not write is named by prepareLmWeights' check (TENSOR_MISSING).
      if (stored === undefined) continue;
      const values = merged[stored]!;
      const size = shape.reduce((a, b) => a * b, 1);
      if (values.length !== size) throw new MergeLabError('SHAPE_MISMATCH', `The merged model's tensor "${stored}" has ${values.length} entries but config.json describes [${shape.join(', ')}]; the models do not match their base's config.json.`);
      raw.set(stored, tf.tensor(values, shape, 'float32'));
    }
    return prepareLmWeights(config, raw, 'the merged model');
  } finally {
    disposeLmWeights(raw);
  }
}

/**
 * A macrotask's pause, as nextTask's but a message to oneself instead of a timer: browsers hold a
 * timer set from a timer's callback back 4 ms or more, and scoring pauses after every layer.
 * Messages wait in the queue the page's requests wait in, so a request sent meanwhile runs first.
 */
function pauseForMessages(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(undefined);
  });
}

/** Half the adapter's binding limit on WebGPU (room for a tensor and its neighbour), else scoring's default. */
function maxTensorBytes(asked: number | undefined): number | undefined {
  if (asked !== undefined) return asked;
  const limit = currentBackend()?.adapter?.maxStorageBufferBindingSize;
  return limit ? Math.floor(limit / 2) : undefined;
}

const nothing = () => undefined;

/**
 * How often (ms of work) a request lets the worker's messages in. A sweep often: a slider's probe
 * then waits no longer for it. A slider's request less often: a newer one stops it within this
 * time, but every pause also lets the worker's other work in (the charts' diagnostics run in
 * steps of up to a few hundred ms), and at 5 ms the card's first answer on a busy machine came
 * twice as late.
 */
const SWEEP_PAUSE_MS = 5;
const SLIDERS_PAUSE_MS = 40;

/**
 * A pause for work that is called often (before each tensor a merge reads, after each layer): a
 * macrotask once `everyMs` of work went by since the last, and then as long as `busy()` gives work
 * to wait for (a sweep waits for the sliders' request).
 */
function slicedPause(everyMs: number, busy: () => Promise<unknown> | undefined = () => undefined): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (!busy() && performance.now() - last < everyMs) return;
    await pauseForMessages();
    for (let b = busy(); b; b = busy()) await b.then(nothing, nothing);
    last = performance.now();
  };
}

export function createLmLabService(ctx: EngineContext): LmLabService {
  const lane = createLane('language-model evaluation');
  const sweepLane = createLane('language-model sweep');
  let state: LabState | undefined;
  /** The opened models changed: what was kept about a model opened again (or closed) goes, the rest stays. */
  const refresh = () => {
    // The running requests may be about a model no longer open: stop them (the app asks again).
    lane.ask();
    sweepLane.ask();
    const old = state;
    state = undefined;
    if (!old) return;
    old.session.supersede();
    old.sweepSession.supersede();
    const next = labState(old);
    const gone = new Set([...old.sources].filter(([id, c]) => next.sources.get(id) !== c).map(([id]) => id));
    for (const [base, d] of old.descriptions) if (!gone.has(base)) next.descriptions.set(base, d);
    for (const [text, byKey] of old.references) {
      // Keys are base, model, context, probe: a score goes with its model and with the base whose tokens it read.
      const kept = [...byKey].filter(([key]) => {
        const [base, model] = key.split('\u0000');
        return !gone.has(base!) && !gone.has(model!);
      });
      if (kept.length > 0) next.references.set(text, new Map(kept));
    }
  };
  ctx.onChange((what) => {
    if (what === 'models') refresh();
  });

  /** The lab's state over the models open now; `old`'s decoded checkpoints and token ids are kept for the models unchanged. */
  const labState = (old?: LabState): LabState => {
    if (state) return state;
    const sources = new Map([...ctx.models].map(([id, m]) => [id, m.checkpoint]));
    const inputs = new Map([...sources].map(([id, c]) => [id, old?.sources.get(id) === c ? old.inputs.get(id)! : memoizedCheckpoint(c)]));
    state = { sources, inputs, session: createLiveSession(inputs), sweepSession: createLiveSession(inputs), descriptions: new Map(), tokens: old?.tokens ?? new WeakMap(), references: new Map(), twin: {}, channel: {} };
    return state;
  };

  const opened = (s: LabState, id: string, role: string): Checkpoint => {
    const c = s.inputs.get(id);
    if (!c) throw new MergeLabError('PATH_NOT_FOUND', `The ${role} "${id}" is not open; drop its folder (config.json, weights and tokenizer together) first (open: ${[...s.inputs.keys()].join(', ') || 'none'}).`);
    return c;
  };

  const description = (s: LabState, base: string): Promise<LmDescription> => {
    let d = s.descriptions.get(base);
    if (!d) {
      const files = ctx.models.get(base)?.files;
      d = files ? describeLm(files) : Promise.reject(new MergeLabError('PATH_NOT_FOUND', `The base "${base}" is not open; drop its folder first.`));
      s.descriptions.set(base, d);
      d.catch(() => s.descriptions.delete(base));
    }
    return d;
  };

  const tokensOf = (s: LabState, tokenizer: LmTokenizer, text: string): readonly number[] => {
    let byText = s.tokens.get(tokenizer);
    if (!byText) s.tokens.set(tokenizer, (byText = new Map()));
    let ids = byText.get(text);
    if (!ids) byText.set(text, (ids = tokenizer.encode(text)));
    return ids;
  };

  /** The sliders' request being computed: a sweep waits while one is (the card's answer first). */
  let sliders: Promise<unknown> | undefined;
  const slidersPause = slicedPause(SLIDERS_PAUSE_MS);
  const sweepPause = slicedPause(SWEEP_PAUSE_MS, () => sliders);

  /**
   * One request on `on`, merging in `s`'s `session` (the sweep's or the sliders'), awaiting `pause`
   * between its stages and between the layers of its forward passes.
   */
  async function evaluate(request: LmLabRequest, cancel: CancelToken, onProgress: LmLabProgressCallback | undefined, on: Lane = lane, sessionOf: (s: LabState) => LiveSession = (s) => s.session, pause: () => Promise<void> = slidersPause): Promise<LmLabAnswer> {
    const started = performance.now();
    const s = labState();
    const recipe = parseRecipe(textOf(request.recipe), 'recipe');
    const { base, experts, tasks, mode } = request;
    if (tasks.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'The language-model lab needs at least one text: drop a text file (one per task) beside the models.');
    // Every model named, open, before anything is read.
    const problems: MergeLabError[] = [];
    for (const [id, role] of [[base, 'base'], ...experts.map((e) => [e, 'expert']), ...recipeModelNames(recipe).map((m) => [m, 'model of the recipe'])] as const) {
      try {
        opened(s, id, role);
      } catch (e) {
        problems.push(e as MergeLabError);
      }
    }
    for (const t of tasks) {
      if (t.expert !== undefined && !experts.includes(t.expert)) problems.push(new MergeLabError('PARAMETER_INVALID', `The text ${t.name} names the expert "${t.expert}", which is not among the experts scored (${experts.join(', ') || 'none'}).`));
      if (t.text.length === 0) problems.push(new MergeLabError('PARAMETER_INVALID', `The text ${t.name} is empty; drop a text file with some text in it.`));
    }
    if (problems.length > 0) throw combineProblems(problems);
    const d = await description(s, base);
    const context = request.context ?? labContext(d.config);
    if (!Number.isSafeInteger(context) || context < 1 || context > d.config.maxPositions) {
      throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `The context must be a whole number of tokens from 1 to the model's ${d.config.maxPositions} positions (got ${context}).`);
    }
    const probe = request.probeTokens ?? labProbeTokens(context);
    if (!Number.isSafeInteger(probe) || probe < 1) throw new MergeLabError('PARAMETER_INVALID', `probeTokens must be a whole number ≥ 1 (got ${probe}).`);
    const scoreOptions = { context, maxTensorBytes: maxTensorBytes(request.maxTensorBytes), cancel, pause };

    // Each text's (or window's) ids, cut to the probe's predictions in probe mode (a prefix of the full scoring's).
    const encoder = new TextEncoder();
    const texts = tasks.map((t) => {
      const all = pieceIds(t, (x) => tokensOf(s, d.tokenizer, x));
      const pieces = mode === 'probe' ? firstPredictions(all, probe) : all;
      const bytes = t.windows ? t.windows.reduce((n, [a, b]) => n + encoder.encode(t.text.slice(a, b)).length, 0) : encoder.encode(t.text).length;
      return { task: t, key: textKey(t), pieces, textTokens: all.reduce((n, p) => n + Math.max(0, p.length - 1), 0), tokens: all.reduce((n, p) => n + p.length, 0), bytes };
    });
    const short = texts.filter((t) => t.textTokens < 1);
    if (short.length > 0) throw combineProblems(short.map((t) => new MergeLabError('PARAMETER_INVALID', `The text ${t.task.name} is ${t.tokens} token${t.tokens === 1 ? '' : 's'} long with ${d.tokenizer.name}; a text needs two or more (each token is predicted from those before it).`)));
    // Texts no longer asked about are no longer kept (a sweep asks about the sliders' texts).
    const keys = new Set(texts.map((t) => t.key));
    if (on === lane) for (const text of [...s.references.keys()]) if (!keys.has(text)) s.references.delete(text);

    const fullKey = (model: string) => referenceKey(base, model, context, 'full');
    const kept = (model: string, text: string): ScoreResult | undefined => {
      const byKey = s.references.get(text);
      const full = byKey?.get(fullKey(model));
      if (mode === 'full') return full;
      return full ? probeOf(full, probe) : byKey?.get(referenceKey(base, model, context, probe));
    };
    const keep = (model: string, text: string, score: ScoreResult) => {
      let byKey = s.references.get(text);
      if (!byKey) s.references.set(text, (byKey = new Map()));
      byKey.set(mode === 'full' ? fullKey(model) : referenceKey(base, model, context, probe), score);
    };

    const models = [base, ...experts.filter((e) => e !== base)];
    const missing = models.map((m) => ({ model: m, texts: texts.filter((t) => !kept(m, t.key)) })).filter((m) => m.texts.length > 0);
    const predicted = (t: { readonly pieces: readonly (readonly number[])[] }) => t.pieces.reduce((n, ids) => n + Math.max(0, ids.length - 1), 0);
    const mergedTokens = texts.reduce((n, t) => n + predicted(t), 0);
    const total = missing.reduce((n, m) => n + m.texts.reduce((k, t) => k + predicted(t), 0), 0) + mergedTokens;
    let done = 0;
    const report = (stage: 'references' | 'merge' | 'merged', now: number) => onProgress?.({ stage, tokensDone: now, tokens: total });

    // The base and experts: each model's missing texts, its weights on the backend only meanwhile.
    for (const { model, texts: todo } of missing) {
      if (cancel.cancelled) throw on.superseded();
      const lm = await openLanguageModel({ ...d, label: model }, opened(s, model, 'model'), { cancel });
      try {
        const before = done;
        // Full scores keep each token's loss, so a probe is cut from them later.
        const scores = await scoreTasks(d.config, lm.weights, todo, { ...scoreOptions, perToken: mode === 'full', where: model, onProgress: (p) => report('references', before + p.tokensDone) });
        todo.forEach((t, i) => keep(model, t.key, scores[i]!));
        done = before + scores.reduce((n, sc) => n + sc.tokens, 0);
      } finally {
        lm.dispose();
      }
    }
    const referencesDone = performance.now();

    // The merge, into memory (a newer request supersedes it at its next tensor).
    report('merge', done);
    await pause();
    if (cancel.cancelled) throw on.superseded();
    const channelSettings = (request as LmLabChannelRequest).channel;
    // Channel Merging scores looked-up rows, not the recipe: nothing to merge.
    const merged = channelSettings ? {} : await sessionOf(s).merge(recipe, { pause });
    if (cancel.cancelled) throw on.superseded();
    const mergeDone = performance.now();
    await pause();
    if (cancel.cancelled) throw on.superseded();

    let scores: ScoreResult[];
    let routing: LmLabTwinAnswer['routing'];
    const twinSettings = (request as LmLabTwinRequest).twin;
    const before = done;
    const onMerged = (p: { readonly tokensDone: number }) => report('merged', before + p.tokensDone);
    if (twinSettings) {
      // Twin-Merging: the recipe was its shared expert; each window is scored with its own routed merge.
      const twinTasks = texts.map((t) => ({ pieces: t.pieces, windows: pieceIds(t.task, (x) => tokensOf(s, d.tokenizer, x)), expert: t.task.expert === undefined ? undefined : experts.indexOf(t.task.expert) }));
      const checkpoints = new Map(experts.map((e) => [e, opened(s, e, 'expert')]));
      const twin = await scoreTwinTasks({ config: d.config, cache: s.twin, sharedKey: JSON.stringify([recipe, base, experts]), shared: merged, experts, checkpoints, twin: twinSettings, tasks: twinTasks, encode: (x) => tokensOf(s, d.tokenizer, x), score: { ...scoreOptions, where: 'the routed merge', onProgress: onMerged }, cancel });
      scores = twin.scores;
      routing = { experts: twin.routing.experts, router: twin.routing.router, tasks: texts.map((t, i) => ({ name: t.task.name, weights: twin.routing.weights[i]! })) };
    } else if (channelSettings) {
      // Channel Merging: each window is scored with its routed task's looked-up rows; the recipe is not scored.
      const channelTasks = texts.map((t) => ({ pieces: t.pieces, windows: pieceIds(t.task, (x) => tokensOf(s, d.tokenizer, x)), expert: t.task.expert === undefined ? undefined : experts.indexOf(t.task.expert) }));
      const checkpoints = new Map([base, ...experts].map((e) => [e, opened(s, e, e === base ? 'base' : 'expert')]));
      const channel = await scoreChannelTasks({ config: d.config, tokenizer: d.tokenizer, cache: s.channel, base, experts, checkpoints, channel: channelSettings, tasks: channelTasks, encode: (x) => tokensOf(s, d.tokenizer, x), score: { ...scoreOptions, where: 'the looked-up model', onProgress: onMerged }, cancel });
      scores = channel.scores;
      routing = { experts: channel.routing.experts, router: channel.routing.router, tasks: texts.map((t, i) => ({ name: t.task.name, weights: channel.routing.weights[i]! })) };
    } else {
      const config = mergedConfig(d.config, merged);
      const weights = mergedModel(config, merged);
      try {
        scores = await scoreTasks(config, weights, texts, { ...scoreOptions, where: 'the merged model', onProgress: onMerged });
      } finally {
        disposeLmWeights(weights.tensors);
      }
    }

    const out: LmLabTaskScore[] = texts.map((t, i) => {
      // Bits per byte need the bytes scored: known for a whole text, not for a probe's token prefix.
      const bytes = mode === 'full' ? t.bytes : null;
      const of = (model: string) => metrics(kept(model, t.key)!, bytes);
      const baseScore = of(base);
      const expertScores = experts.map(of);
      const merged = metrics(scores[i]!, bytes);
      const own = t.task.expert === undefined ? undefined : expertScores[experts.indexOf(t.task.expert)];
      return {
        name: t.task.name,
        ...(t.task.expert !== undefined ? { expert: t.task.expert } : {}),
        tokens: scores[i]!.tokens,
        textTokens: t.textTokens,
        bytes: t.bytes,
        base: baseScore,
        experts: expertScores,
        merged,
        gain: own ? normalizedGain(baseScore.loss, merged.loss, own.loss) : null,
      };
    });
    // A task whose expert does not beat the base has no gain to speak of (its denominator is ≤ 0).
    const gains = out.flatMap((t) => (t.gain === null || !(t.base.loss > t.experts[experts.indexOf(t.expert!)]!.loss) ? [] : [t.gain]));
    const end = performance.now();
    return {
      mode,
      context,
      probeTokens: probe,
      base,
      experts: [...experts],
      tokenizer: d.tokenizer.name,
      tasks: out,
      meanGain: gains.length > 0 ? gains.reduce((a, b) => a + b, 0) / gains.length : null,
      milliseconds: { references: referencesDone - started, merge: mergeDone - referencesDone, merged: end - mergeDone, total: end - started },
      ...(routing ? { routing } : {}),
    };
  }

  return {
    async describeLab(base): Promise<LmLabSummary> {
      const d = await description(labState(), base);
      const { config } = d;
      let parameters = 0;
      for (const shape of lmTensorShapes(config).values()) parameters += shape.reduce((a, b) => a * b, 1);
      return {
        base,
        modelType: config.modelType,
        parameters,
        vocabSize: config.vocabSize,
        layers: config.numLayers,
        hiddenSize: config.hiddenSize,
        maxPositions: config.maxPositions,
        tokenizer: d.tokenizer.name,
        context: labContext(config),
        probeTokens: labProbeTokens(labContext(config)),
      };
    },
    evaluate(request, onProgress) {
      // The merge in flight belongs to the request this one replaces: stop it at its next tensor.
      state?.session.supersede();
      const job = lane.latest((cancel) => evaluate(request, cancel, onProgress));
      sliders = job;
      const done = () => void (sliders === job && (sliders = undefined));
      job.then(done, done);
      return job;
    },
    async cancelEvaluate() {
      lane.ask();
      state?.session.supersede();
    },
    sweep(request, onProgress) {
      state?.sweepSession.supersede();
      return sweepLane.latest(async (cancel) => {
        const out: LmLabSweepPoint[] = [];
        for (const point of request.points) {
          const { points: _points, ...rest } = request;
          const a = await evaluate({ ...rest, recipe: point.recipe, mode: 'probe' }, cancel, undefined, sweepLane, (s) => s.sweepSession, sweepPause);
          out.push({ value: point.value, loss: a.tasks.reduce((n, t) => n + t.merged.loss, 0) / a.tasks.length, meanGain: a.meanGain, tasks: a.tasks.map((t) => ({ name: t.name, loss: t.merged.loss, gain: t.gain })) });
          onProgress?.({ done: out.length, points: request.points.length });
        }
        return out;
      });
    },
    async cancelSweep() {
      sweepLane.ask();
      state?.sweepSession.supersede();
    },
  };
}
