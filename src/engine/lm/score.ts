/**
 * Teacher-forced scoring of a token sequence: the summed negative log-likelihood (nats) of every
 * token given the ones before it in its window.
 *
 * Windows do not overlap: window w reads tokens [w·c, w·c + c) (c = `context`) and predicts
 * tokens [w·c + 1, w·c + c + 1), so every token but the first is predicted exactly once and no
 * sequence is longer than the context. A window's first predictions see few tokens before them
 * (a strided, overlapping evaluation would give them more context at several times the cost);
 * losses are therefore comparable between models scored with the same context, which is what a
 * merge lab compares. Each window starts at position 0.
 *
 * Work is block-wise so a 135M-parameter model fits a GPU adapter's buffer limit: windows go
 * through the model a few at a time (as many as `maxTensorBytes` allows for the widest
 * activation), attention takes its queries in blocks, and the log-softmax over the vocabulary is
 * computed a block of rows at a time, never the whole [windows, context, vocab] at once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import type { CancelToken } from '../merge/progress.js';
import { nextTask } from '../next-task.js';
import { checkLmSequence, type LmConfig } from './config.js';
import { lmHead, lmHiddenSteps } from './forward.js';
import { project, transposeFirst } from './mlp.js';
import type { AnyLmWeights, Projection } from './weights.js';

/** Half of WebGPU's default maxStorageBufferBindingSize (128 MiB): room for a tensor and its neighbour. */
export const DEFAULT_MAX_TENSOR_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_BATCH = 8;

export interface ScoreProgress {
  readonly windowsDone: number;
  readonly windows: number;
  readonly tokensDone: number;
  readonly tokens: number;
}

export interface ScoreOptions {
  /** Tokens a window reads (and predicts). At most the model's positions. */
  readonly context: number;
  /** No single tensor the scoring makes is larger than this (default 64 MiB); give the adapter's binding limit or less. */
  readonly maxTensorBytes?: number;
  /** At most this many windows per forward pass (default 8, fewer when maxTensorBytes says so). */
  readonly maxBatch?: number;
  /** Checked between blocks: when it turns cancelled, scoring stops and rejects with CANCELLED. */
  readonly cancel?: CancelToken;
  /** Called after each batch of windows. */
  readonly onProgress?: (p: ScoreProgress) => void;
  /** Keep each predicted token's loss (ScoreResult.perToken). */
  readonly perToken?: boolean;
  /** Names the model in errors. */
  readonly where?: string;
  /**
   * Awaited after each layer of a forward pass and after each batch (default: a macrotask's pause
   * after each batch only); `cancel` is checked after it. A worker gets its messages in (a newer
   * request, a cancel) within a layer instead of a whole pass.
   */
  readonly pause?: () => Promise<void>;
}

export interface WindowScore {
  /** Position of the window's first token in the sequence. */
  readonly start: number;
  /** Tokens predicted in this window. */
  readonly tokens: number;
  /** Their summed loss, nats. */
  readonly nll: number;
}

export interface ScoreResult {
  /** Tokens predicted: the sequence's length − 1. */
  readonly tokens: number;
  /** Summed loss over them, nats. */
  readonly nll: number;
  readonly windows: readonly WindowScore[];
  /** Loss of token i + 1 at index i, when asked for. */
  readonly perToken?: Float32Array;
}

/** How the work is cut so no tensor exceeds `maxTensorBytes`. */
export interface ScorePlan {
  /** Windows per forward pass. */
  readonly batch: number;
  /** Attention's query rows per block (undefined: all at once). */
  readonly queryBlock: number | undefined;
  /** Rows of the log-softmax over the vocabulary at a time. */
  readonly headRows: number;
}

export function planScore(config: LmConfig, context: number, options: Pick<ScoreOptions, 'maxTensorBytes' | 'maxBatch'> = {}): ScorePlan {
  const limit = options.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES;
  // The widest activation a layer makes per token: the MLP's inner rows, GPT-2's fused q/k/v, the heads.
  const widest = Math.max(config.intermediateSize, 3 * config.hiddenSize, config.numHeads * config.headDim);
  const batch = Math.max(1, Math.min(options.maxBatch ?? DEFAULT_MAX_BATCH, Math.floor(limit / (context * widest * 4))));
  const rows = Math.max(1, Math.floor(limit / (batch * config.numHeads * context * 4)));
  return { batch, queryBlock: rows >= context ? undefined : rows, headRows: Math.max(1, Math.floor(limit / (config.vocabSize * 4))) };
}

function checkIds(config: LmConfig, ids: ArrayLike<number>, where: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new MergeLabError('PARAMETER_INVALID', `${where}: token ${i} has id ${id}, outside the model's vocabulary (vocab_size ${config.vocabSize}); the tokenizer does not belong to this model.`);
    }
  }
}

function cancelled(): MergeLabError {
  return new MergeLabError('CANCELLED', 'Scoring was cancelled.');
}

/**
 * Each row's loss at its target over rows [batch · length] of final hidden states, a block of rows
 * at a time. The target's logit is read out of the block's logits (flat indices), so the loss is
 * exactly logsumexp minus that logit.
 */
async function rowLosses(hidden: tf.Tensor2D, head: Projection, vocab: number, targets: Int32Array, headRows: number, cancel: CancelToken | undefined): Promise<Float32Array> {
  const [rows, width] = hidden.shape;
  const out = new Float32Array(rows);
  for (let from = 0; from < rows; from += headRows) {
    if (cancel?.cancelled) throw cancelled();
    const n = Math.min(headRows, rows - from);
    const flat = new Int32Array(n);
    for (let r = 0; r < n; r++) flat[r] = r * vocab + targets[from + r]!;
    const losses = tf.tidy(() => {
      const h = n === rows ? hidden : tf.slice(hidden, [from, 0], [n, width]);
      const logits = project(h, head);
      const target = tf.gather(tf.reshape(logits, [n * vocab]), tf.tensor1d(flat, 'int32'));
      return tf.sub(tf.logSumExp(logits, 1), target);
    });
    try {
      out.set(await losses.data(), from);
    } finally {
      losses.dispose();
    }
  }
  return out;
}

/**
 * Scores `ids` (token ids of one text) with the model: see the file's header for the windows.
 * Throws PARAMETER_INVALID for an id outside the vocabulary or a context below 1,
 * PARAMETER_OUT_OF_RANGE / LM_UNSUPPORTED for a context the model cannot take, CANCELLED when
 * `cancel` turns. Leaves no tensor behind.
 */
export async function scoreTokens(config: LmConfig, weights: AnyLmWeights, ids: ArrayLike<number>, options: ScoreOptions): Promise<ScoreResult> {
  return (await scoreSequences(config, weights, [ids], options))[0]!;
}

/**
 * Scores several sequences, each exactly as scoreTokens scores it (its own windows from position
 * 0), with windows of the same length from every sequence batched into the same forward passes:
 * many short texts (a probe's first tokens of each, excerpts scored apart) cost a few passes
 * instead of one each. Progress counts windows and tokens of all of them.
 */
export async function scoreSequences(config: LmConfig, weights: AnyLmWeights, sequences: readonly ArrayLike<number>[], options: ScoreOptions): Promise<ScoreResult[]> {
  const where = options.where ?? 'the model';
  const { context } = options;
  if (!Number.isSafeInteger(context) || context < 1) throw new MergeLabError('PARAMETER_INVALID', `The context must be a whole number of tokens ≥ 1 (got ${context}).`);
  for (const ids of sequences) checkIds(config, ids, where);
  /** Every window: its sequence, start and predictions. */
  const items: { readonly seq: number; readonly start: number; readonly length: number }[] = [];
  const results = sequences.map((ids, seq) => {
    const predicted = Math.max(0, ids.length - 1);
    for (let s = 0; s < predicted; s += context) items.push({ seq, start: s, length: Math.min(context, predicted - s) });
    return { tokens: predicted, nll: 0, windows: [] as WindowScore[], perToken: options.perToken ? new Float32Array(predicted) : undefined };
  });
  const done = () => results.map(({ perToken, windows, ...r }) => ({ ...r, windows: windows.sort((x, y) => x.start - y.start), ...(perToken ? { perToken } : {}) }));
  if (items.length === 0) return done();
  checkLmSequence(config, Math.max(...items.map((w) => w.length)), where);
  // Windows of one length in batches (full windows first, as they come; then each shorter length).
  const plan = planScore(config, context, options);
  const byLength = new Map<number, (typeof items)[number][]>();
  for (const w of items) {
    const same = byLength.get(w.length);
    if (same) same.push(w);
    else byLength.set(w.length, [w]);
  }
  const groups: (typeof items)[number][][] = [];
  for (const same of byLength.values()) for (let i = 0; i < same.length; i += plan.batch) groups.push(same.slice(i, i + plan.batch));
  const tokensAll = items.reduce((n, w) => n + w.length, 0);
  let windowsDone = 0;
  let tokensDone = 0;
  const stored = lmHead(config, weights, where);
  // Transposed once for every block when the backend multiplies x·Wᵀ slowly (mlp.ts).
  const transposed = !stored.inOut && transposeFirst() ? tf.transpose(stored.weight) : undefined;
  const head: Projection = transposed ? { weight: transposed, inOut: true } : stored;
  try {
    for (const group of groups) {
      if (options.cancel?.cancelled) throw cancelled();
      const length = group[0]!.length;
      const inputs = new Int32Array(group.length * length);
      const targets = new Int32Array(group.length * length);
      group.forEach((w, b) => {
        const ids = sequences[w.seq]!;
        for (let t = 0; t < length; t++) {
          inputs[b * length + t] = ids[w.start + t]!;
          targets[b * length + t] = ids[w.start + t + 1]!;
        }
      });
      const tokens = tf.tensor2d(inputs, [group.length, length], 'int32');
      let hidden: tf.Tensor2D | undefined;
      let losses: Float32Array;
      const steps = lmHiddenSteps(config, weights, tokens, { queryBlock: plan.queryBlock, where, inference: true });
      try {
        for (let step = steps.next(); ; step = steps.next()) {
          if (step.done) {
            hidden = step.value;
            break;
          }
          if (options.pause) {
            await options.pause();
            if (options.cancel?.cancelled) throw cancelled();
          }
        }
        losses = await rowLosses(hidden, head, config.vocabSize, targets, plan.headRows, options.cancel);
      } finally {
        // Stopped between layers: what the pass holds goes (a finished pass has nothing left to free).
        if (!hidden) steps.return(undefined as never);
        tokens.dispose();
        hidden?.dispose();
      }
      group.forEach((w, b) => {
        let sum = 0;
        for (let t = 0; t < length; t++) sum += losses[b * length + t]!;
        const r = results[w.seq]!;
        r.windows.push({ start: w.start, tokens: length, nll: sum });
        r.perToken?.set(losses.subarray(b * length, (b + 1) * length), w.start);
      });
      windowsDone += group.length;
      tokensDone += group.length * length;
      options.onProgress?.({ windowsDone, windows: items.length, tokensDone, tokens: tokensAll });
      // Let a worker take its next message (a cancel, a newer request) between batches.
      await (options.pause ?? nextTask)();
    }
  } finally {
    transposed?.dispose();
  }
  // Each sequence's loss summed in window order, whatever order the batches ran in.
  for (const r of results) r.nll = r.windows.sort((x, y) => x.start - y.start).reduce((n, w) => n + w.nll, 0);
  return done();
}

/** What `merge-lab eval` and the lab report for one text. */
export interface TextMetrics {
  /** Tokens predicted. */
  readonly tokens: number;
  /** UTF-8 bytes of the text. */
  readonly bytes: number;
  /** Summed loss, nats. */
  readonly nll: number;
  /** Mean loss per predicted token, nats. */
  readonly loss: number;
  /** e^loss. */
  readonly perplexity: number;
  /** Summed loss in bits over the text's UTF-8 bytes: comparable across tokenizers. */
  readonly bitsPerByte: number;
}

export function textMetrics(score: Pick<ScoreResult, 'tokens' | 'nll'>, bytes: number): TextMetrics {
  const loss = score.tokens > 0 ? score.nll / score.tokens : NaN;
  return { tokens: score.tokens, bytes, nll: score.nll, loss, perplexity: Math.exp(loss), bitsPerByte: bytes > 0 ? score.nll / Math.LN2 / bytes : NaN };
}
