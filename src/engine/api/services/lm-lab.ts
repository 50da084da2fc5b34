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
 * dragged) and the full texts. A probe's numbers are the full scoring's first predictions (windows
 * never overlap, each starts at position 0 and attention is causal: lm/score.ts), so the probe is a
 * prefix of the full answer, not another measure. Every text is tokenized with the base's tokenizer, so every model's
 * losses are over the same tokens.
 *
 * One lane (services/cancel.ts): a newer request, or cancelEvaluate(), stops the one running at its
 * next block (its merge at the next tensor). No tensor outlives a request: the base's and
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
import { scoreTokens, type ScoreResult } from '../../lm/score.js';
import type { LmTokenizer } from '../../lm/tokenizer.js';
import { prepareLmWeights, storedNames, type PreparedLmWeights } from '../../lm/weights.js';
import type { CancelToken } from '../../merge/progress.js';
import { nextTask } from '../../next-task.js';
import { parseRecipe } from '../../recipe/parse.js';
import { recipeText as textOf } from '../../recipe/recipe-text.js';
import type { LmLabAnswer, LmLabMetrics, LmLabProgressCallback, LmLabRequest, LmLabService, LmLabSummary, LmLabTaskScore } from '../engine-api.js';
import { createLane } from './cancel.js';
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
  /** Every opened model's checkpoint, decoded once on first read (shared by the merges and the references' weights). */
  readonly inputs: Map<string, Checkpoint>;
  readonly session: LiveSession;
  /** config.json and tokenizer by base id. */
  readonly descriptions: Map<string, Promise<LmDescription>>;
  /** Token ids by tokenizer, then by text. */
  readonly tokens: WeakMap<LmTokenizer, Map<string, readonly number[]>>;
  /** Reference scores (base, experts) by text, then by referenceKey: full texts, and probes when no full score is kept. */
  readonly references: Map<string, Map<string, ScoreResult>>;
}

const referenceKey = (base: string, model: string, context: number, probe: number | 'full') => `${base}\u0000${model}\u0000${context}\u0000${probe}`;

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

/** Half the adapter's binding limit on WebGPU (room for a tensor and its neighbour), else scoring's default. */
function maxTensorBytes(asked: number | undefined): number | undefined {
  if (asked !== undefined) return asked;
  const limit = currentBackend()?.adapter?.maxStorageBufferBindingSize;
  return limit ? Math.floor(limit / 2) : undefined;
}

export function createLmLabService(ctx: EngineContext): LmLabService {
  const lane = createLane('language-model evaluation');
  let state: LabState | undefined;
  const drop = () => {
    // The running request's answer is about models no longer open: stop it.
    lane.ask();
    state?.session.supersede();
    state = undefined;
  };
  ctx.onChange((what) => {
    if (what === 'models') drop();
  });

  const labState = (): LabState => {
    if (state) return state;
    const inputs = new Map([...ctx.models].map(([id, m]) => [id, memoizedCheckpoint(m.checkpoint)]));
    state = { inputs, session: createLiveSession(inputs), descriptions: new Map(), tokens: new WeakMap(), references: new Map() };
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

  async function evaluate(request: LmLabRequest, cancel: CancelToken, onProgress: LmLabProgressCallback | undefined): Promise<LmLabAnswer> {
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
    const scoreOptions = { context, maxTensorBytes: maxTensorBytes(request.maxTensorBytes), cancel };

    // Each text's ids, cut to the probe's predictions in probe mode (a prefix of the full scoring's).
    const texts = tasks.map((t) => {
      const all = tokensOf(s, d.tokenizer, t.text);
      const ids = mode === 'probe' ? all.slice(0, probe + 1) : all;
      return { task: t, ids, textTokens: Math.max(0, all.length - 1), bytes: new TextEncoder().encode(t.text).length };
    });
    const short = texts.filter((t) => t.textTokens < 1);
    if (short.length > 0) throw combineProblems(short.map((t) => new MergeLabError('PARAMETER_INVALID', `The text ${t.task.name} is ${t.textTokens + (t.ids.length > 0 ? 1 : 0)} token${t.ids.length === 1 ? '' : 's'} long with ${d.tokenizer.name}; a text needs two or more (each token is predicted from those before it).`)));
    // Texts no longer asked about are no longer kept.
    for (const text of [...s.references.keys()]) if (!tasks.some((t) => t.text === text)) s.references.delete(text);

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
    const missing = models.map((m) => ({ model: m, texts: texts.filter((t) => !kept(m, t.task.text)) })).filter((m) => m.texts.length > 0);
    const predicted = (ids: readonly number[]) => Math.max(0, ids.length - 1);
    const mergedTokens = texts.reduce((n, t) => n + predicted(t.ids), 0);
    const total = missing.reduce((n, m) => n + m.texts.reduce((k, t) => k + predicted(t.ids), 0), 0) + mergedTokens;
    let done = 0;
    const report = (stage: 'references' | 'merge' | 'merged', now: number) => onProgress?.({ stage, tokensDone: now, tokens: total });

    // The base and experts: each model's missing texts, its weights on the backend only meanwhile.
    for (const { model, texts: todo } of missing) {
      if (cancel.cancelled) throw lane.superseded();
      const lm = await openLanguageModel({ ...d, label: model }, opened(s, model, 'model'), { cancel });
      try {
        for (const t of todo) {
          const before = done;
          // Full scores keep each token's loss, so a probe is cut from them later.
          const score = await scoreTokens(d.config, lm.weights, t.ids, { ...scoreOptions, perToken: mode === 'full', where: model, onProgress: (p) => report('references', before + p.tokensDone) });
          done = before + score.tokens;
          keep(model, t.task.text, score);
        }
      } finally {
        lm.dispose();
      }
    }
    const referencesDone = performance.now();

    // The merge, into memory (a newer request supersedes it at its next tensor).
    report('merge', done);
    await nextTask();
    if (cancel.cancelled) throw lane.superseded();
    const merged = await s.session.merge(recipe);
    if (cancel.cancelled) throw lane.superseded();
    const mergeDone = performance.now();

    const weights = mergedModel(d.config, merged);
    const scores: ScoreResult[] = [];
    try {
      for (const t of texts) {
        const before = done;
        const score = await scoreTokens(d.config, weights, t.ids, { ...scoreOptions, where: 'the merged model', onProgress: (p) => report('merged', before + p.tokensDone) });
        done = before + score.tokens;
        scores.push(score);
      }
    } finally {
      disposeLmWeights(weights.tensors);
    }

    const out: LmLabTaskScore[] = texts.map((t, i) => {
      // Bits per byte need the bytes scored: known for a whole text, not for a probe's token prefix.
      const bytes = mode === 'full' ? t.bytes : null;
      const of = (model: string) => metrics(kept(model, t.task.text)!, bytes);
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
      return lane.latest((cancel) => evaluate(request, cancel, onProgress));
    },
    async cancelEvaluate() {
      lane.ask();
      state?.session.supersede();
    },
  };
}
