/**
 * The LM demo's text as windows, and what every row of its tables is measured with: each domain's
 * validation and test text cut into windows of the manifest's context (routed/lm-twin.ts'
 * contextWindows, so a whole text scores as scoreTokens scores it), the manifest's mixed test
 * windows, summed losses per window set, bits per byte, and the normalized gain
 * (loss_base − loss_merged) / (loss_base − loss_expert). The base's and every expert's scores on
 * all of them (the gains' references) are computed once and shared by every row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import type { LmConfig } from '../lm/config.js';
import { lmTensorShapes } from '../lm/config.js';
import { disposeLmWeights } from '../lm/load.js';
import { openLanguageModel } from '../lm/model.js';
import { scoreSequences, type ScoreResult } from '../lm/score.js';
import { byteTokenizer } from '../lm/tokenizer.js';
import { prepareLmWeights, storedNames, type AnyLmWeights } from '../lm/weights.js';
import { contextWindows } from '../routed/lm-twin.js';
import type { LmDemo } from './lm-load.js';
import type { LmDemoManifest } from './lm-manifest.js';

/** Windows (token ids) per domain, in the manifest's domain order. */
export type DomainWindows = readonly (readonly number[][])[];

export interface LmWindowSets {
  readonly domains: readonly string[];
  readonly context: number;
  /** What settings (λ, density, K) are chosen on: a sample of each validation text. */
  readonly validation: DomainWindows;
  /** What routers are trained on: each validation text, all of it unless limited. */
  readonly router: DomainWindows;
  readonly test: DomainWindows;
  readonly mixed: readonly number[][];
  readonly mixedIds: readonly string[];
}

export interface LmWindowOptions {
  /** At most this many validation windows per domain for choosing settings (spread evenly); default all. */
  readonly validationWindows?: number;
  /** At most this many validation windows per domain for training routers; default all. */
  readonly routerWindows?: number;
  /** At most this many test windows per domain; default all. */
  readonly testWindows?: number;
}

export function lmWindowSets(manifest: Pick<LmDemoManifest, 'domains' | 'mixed' | 'context'>, options: LmWindowOptions = {}): LmWindowSets {
  for (const [k, v] of Object.entries(options)) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new MergeLabError('PARAMETER_INVALID', `${k} must be a whole number of windows above 0, got ${v}.`);
  }
  const tok = byteTokenizer();
  const cut = (split: 'validation' | 'test', max: number | undefined) => manifest.domains.map((d) => contextWindows(tok.encode(d.texts[split]), manifest.context, max));
  return {
    domains: manifest.domains.map((d) => d.id),
    context: manifest.context,
    validation: cut('validation', options.validationWindows),
    router: cut('validation', options.routerWindows),
    test: cut('test', options.testWindows),
    mixed: manifest.mixed.map((m) => tok.encode(m.text)),
    mixedIds: manifest.mixed.map((m) => m.id),
  };
}

/** Summed loss and tokens of some windows, and their mean loss (nats/token) and bits per byte. */
export interface LmLoss {
  readonly tokens: number;
  readonly nll: number;
  readonly loss: number;
  readonly bitsPerByte: number;
}

/**
 * The loss of windows scored together. `overlap`: consecutive windows of one text (contextWindows)
 * share an id, so its bytes are the windows' ids less the shared ones.
 */
export function lossOf(scores: readonly ScoreResult[], windows: readonly (readonly number[])[], overlap: boolean): LmLoss {
  const tokens = scores.reduce((n, s) => n + s.tokens, 0);
  const nll = scores.reduce((n, s) => n + s.nll, 0);
  const bytes = windows.reduce((n, w) => n + w.length, 0) - (overlap ? Math.max(0, windows.length - 1) : 0);
  return { tokens, nll, loss: nll / tokens, bitsPerByte: nll / Math.LN2 / bytes };
}

/** (loss_base − loss_merged) / (loss_base − loss_expert): 0 is the base, 1 the expert. */
export const normalizedGain = (base: number, merged: number, expert: number): number => (base - merged) / (base - expert);

/** Scores every window of every domain with one model; answers per domain, in order. */
export async function scoreDomains(config: LmConfig, weights: AnyLmWeights, sets: DomainWindows, context: number): Promise<ScoreResult[][]> {
  const flat = await scoreSequences(config, weights, sets.flat(), { context });
  let at = 0;
  return sets.map((s) => flat.slice(at, (at += s.length)));
}

/** A merge's float32 values (stored names, as mergeToMemory writes them) on the backend, laid out for scoring; dispose with disposeLmWeights(w.tensors). */
export function floatLmWeights(config: LmConfig, values: Readonly<Record<string, Float32Array>>, where: string) {
  const raw = new Map<string, tf.Tensor>();
  try {
    for (const [name, shape] of lmTensorShapes(config)) {
      const stored = storedNames(name).find((n) => values[n] !== undefined);
      if (stored === undefined) throw new MergeLabError('TENSOR_MISSING', `${where} has no tensor "${name}", which config.json needs.`);
      raw.set(name, tf.tensor(values[stored]!, shape, 'float32'));
    }
    return prepareLmWeights(config, raw, where);
  } finally {
    disposeLmWeights(raw);
  }
}

/** One model's scores on each set. */
export interface LmSetScores {
  readonly validation: ScoreResult[][];
  readonly test: ScoreResult[][];
  readonly mixed: ScoreResult[];
}

/** Scores one model (float32 values) on the validation, test and mixed windows; `test: false` skips the test sets. */
export async function scoreOnSets(config: LmConfig, values: Readonly<Record<string, Float32Array>>, sets: LmWindowSets, where: string, splits: { readonly validation?: boolean; readonly test?: boolean } = {}): Promise<Partial<LmSetScores>> {
  const w = floatLmWeights(config, values, where);
  try {
    return {
      ...(splits.validation !== false ? { validation: await scoreDomains(config, w, sets.validation, sets.context) } : {}),
      ...(splits.test !== false ? { test: await scoreDomains(config, w, sets.test, sets.context), mixed: await scoreSequences(config, w, sets.mixed, { context: sets.context }) } : {}),
    };
  } finally {
    disposeLmWeights(w.tensors);
  }
}

/** The base's and each expert's scores on every set: the gains' references, computed once. */
export class LmReferences {
  private constructor(
    readonly sets: LmWindowSets,
    private readonly scores: ReadonlyMap<string, LmSetScores>,
  ) {}

  /** Scores "base" and every domain's expert of `demo` on `sets`. */
  static async measure(demo: LmDemo, sets: LmWindowSets, onStep: (s: string) => void = () => undefined): Promise<LmReferences> {
    const tok = byteTokenizer();
    const scores = new Map<string, LmSetScores>();
    onStep('base and experts');
    for (const model of ['base', ...sets.domains]) {
      const checkpoint = demo.checkpoints.get(model);
      if (!checkpoint) throw new MergeLabError('NO_CHECKPOINT', `The LM demo has no checkpoint "${model}" open.`);
      const lm = await openLanguageModel({ label: model, config: demo.config, tokenizer: tok }, checkpoint);
      try {
        scores.set(model, {
          validation: await scoreDomains(demo.config, lm.weights, sets.validation, sets.context),
          test: await scoreDomains(demo.config, lm.weights, sets.test, sets.context),
          mixed: await scoreSequences(demo.config, lm.weights, sets.mixed, { context: sets.context }),
        });
      } finally {
        lm.dispose();
      }
    }
    return new LmReferences(sets, scores);
  }

  /** `model` (base or a domain) on domain `d`'s windows of a split. */
  loss(model: string, split: 'validation' | 'test', d: number): LmLoss {
    return lossOf(this.of(model)[split][d]!, this.sets[split][d]!, true);
  }

  /** `model` on the mixed windows. */
  mixed(model: string): LmLoss {
    return lossOf(this.of(model).mixed, this.sets.mixed, false);
  }

  /** The merge's normalized gain on each domain of a split, from its scores there. */
  gains(split: 'validation' | 'test', scores: readonly (readonly ScoreResult[])[]): number[] {
    return this.sets.domains.map((d, i) => normalizedGain(this.loss('base', split, i).loss, lossOf(scores[i]!, this.sets[split][i]!, true).loss, this.loss(d, split, i).loss));
  }

  private of(model: string): LmSetScores {
    const s = this.scores.get(model);
    if (!s) throw new MergeLabError('INTERNAL', `No reference scores for "${model}".`);
    return s;
  }
}

export const meanOf = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
