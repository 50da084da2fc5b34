/**
 * Twin-Merging on a transformer language model (issue 17, "routed methods on text"): the shared
 * expert θ* (any merge the engine runs: task arithmetic by default, as the paper), each expert's
 * exclusive knowledge θt − θ* cut by SVD (methods/twin/exclusive.ts, the digits twin's code), and a
 * merge per window: the router reads the window and gives softmax weights w over the tasks, and the
 * window is scored with θ* + Σt wt·Δt.
 *
 * What the router reads is ours, after the paper's generative code (Twin-Merging's
 * generative/router.py takes the mean over positions of the last layer's hidden states of the base
 * with the shared expert applied): the mean, over the tokens a window reads, of θ*'s final hidden
 * states (after the last norm), one row of `hidden_size` features per window.
 *
 * A window's merged weights are formed whole (θ* + Σt wt·Δt on the backend, one small matrix
 * product per tensor) and the window scored with score.ts unchanged, so a window routed one way
 * scores exactly as that static merge does; windows routed alike (oracle or argmax routing) share
 * one merged model and one batched scoring.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import type { Checkpoint } from '../io/types.js';
import { lmTensorShapes, type LmConfig } from '../lm/config.js';
import { lmHidden } from '../lm/forward.js';
import { disposeLmWeights } from '../lm/load.js';
import { scoreSequences, type ScoreOptions, type ScoreResult } from '../lm/score.js';
import { prepareLmWeights, storedNames, type PreparedLmWeights } from '../lm/weights.js';
import { decomposeExclusive, truncateExclusive, type ExclusiveDecomposition, type ExclusiveKnowledge, type RankChoice, type TensorValues, type TwinTensor } from '../methods/twin/exclusive.js';
import { nextTask } from '../next-task.js';
import type { CancelToken } from '../merge/progress.js';

/** Float32 tensors of a model by their stored names (θ*, as the merge writes it). */
export type LmTensors = Readonly<Record<string, Float32Array>>;

/** The tensors of `shared` the config describes, with their shapes (stored names). */
export function lmTwinTensors(config: LmConfig, shared: LmTensors): TwinTensor[] {
  const out: TwinTensor[] = [];
  for (const [name, shape] of lmTensorShapes(config)) {
    const stored = storedNames(name).find((n) => shared[n] !== undefined);
    if (stored === undefined) throw new MergeLabError('TENSOR_MISSING', `The shared expert has no tensor "${name}", which config.json needs.`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (shared[stored]!.length !== size) throw new MergeLabError('SHAPE_MISMATCH', `The shared expert's "${stored}" has ${shared[stored]!.length} entries but config.json describes [${shape.join(', ')}].`);
    out.push({ name: stored, shape });
  }
  return out;
}

/**
 * Every expert's delta to θ*, decomposed up to `maxRank` singular triplets per matrix (randomized
 * SVD; truncateExclusive then cuts any rank up to it without another SVD). Experts are read from
 * their checkpoints, in `tasks` order.
 */
export async function decomposeLmTwin(config: LmConfig, shared: LmTensors, experts: ReadonlyMap<string, Checkpoint>, tasks: readonly string[], maxRank: number, cancel?: CancelToken): Promise<ExclusiveDecomposition> {
  const tensors = lmTwinTensors(config, shared);
  const values: Record<string, Record<string, Float32Array>> = {};
  for (const task of tasks) {
    const c = experts.get(task);
    if (!c) throw new MergeLabError('PATH_NOT_FOUND', `Twin-Merging: the expert "${task}" is not open (open: ${[...experts.keys()].join(', ')}).`);
    const own: Record<string, Float32Array> = {};
    for (const t of tensors) {
      if (cancel?.cancelled) throw new MergeLabError('CANCELLED', 'Twin-Merging was cancelled.');
      own[t.name] = await c.readFloat32(t.name);
    }
    values[task] = own;
  }
  const shared32: TensorValues = Object.fromEntries(tensors.map((t) => [t.name, shared[t.name]!]));
  return decomposeExclusive(shared32, values, tensors, { maxRank });
}

/** The rank rule of the exclusive parts (a fixed rank, or rank_ratio of min(m, n)). */
export type LmTwinRank = { readonly rank: number } | { readonly rankRatio: number };

/** How many singular triplets a rank choice needs at most, for this model's matrices. */
export function tripletsFor(choice: LmTwinRank, config: LmConfig): number {
  // Every matrix has hidden_size (or the heads' width) on one side: no min(m, n) is larger.
  const widest = Math.max(config.hiddenSize, config.numHeads * config.headDim);
  if ('rank' in choice) return Math.max(1, Math.min(choice.rank, widest));
  return Math.max(1, Math.floor(choice.rankRatio * widest + 1e-9));
}

/** The exclusive parts at a rank choice (methods/twin's truncation: a matrix stays whole where its factors would be no smaller). */
export function lmExclusive(d: ExclusiveDecomposition, choice: LmTwinRank): ExclusiveKnowledge {
  return truncateExclusive(d, choice as RankChoice);
}

/**
 * θ* and every task's dense delta on the backend, ready to form the merge for any task weights.
 * dispose() when done.
 */
export class LmTwinModel {
  readonly tasks: readonly string[];
  private readonly shared = new Map<string, tf.Tensor>();
  /** [T, size] per tensor: task t's delta in row t. */
  private readonly deltas = new Map<string, tf.Tensor2D>();
  private readonly shapes = new Map<string, readonly number[]>();

  constructor(
    readonly config: LmConfig,
    shared: LmTensors,
    knowledge: ExclusiveKnowledge,
  ) {
    if (knowledge.excluded && knowledge.excluded.length > 0) throw new MergeLabError('PARAMETER_INVALID', 'Twin-Merging on a language model keeps every tensor in the merge: exclude is not supported here.');
    this.tasks = knowledge.tasks;
    try {
      knowledge.tensors.forEach((t, j) => {
        const size = t.shape.reduce((a, b) => a * b, 1);
        this.shapes.set(t.name, t.shape);
        this.shared.set(t.name, tf.tensor1d(shared[t.name]!));
        const rows = tf.tidy(() =>
          tf.stack(
            knowledge.parts.map((row) => {
              const p = row[j]!;
              if (p.kind === 'dense') return tf.tensor1d(p.delta);
              if (p.kind === 'own') throw new MergeLabError('INTERNAL', 'unexpected own part');
              const [m, n] = t.shape as [number, number];
              // U_r·Σ_r · V_rᵀ, once per task: the per-window merge is then one [1, T]·[T, size] product.
              return tf.reshape(tf.matMul(tf.tensor2d(p.us, [m, p.rank]), tf.transpose(tf.tensor2d(p.v, [n, p.rank]))), [size]);
            }),
          ),
        ) as tf.Tensor2D;
        this.deltas.set(t.name, rows);
      });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** θ* + Σt wt·Δt, laid out for scoring; the caller disposes it (disposeLmWeights(w.tensors)). */
  weightsFor(taskWeights: ArrayLike<number>): PreparedLmWeights {
    if (taskWeights.length !== this.tasks.length) throw new MergeLabError('SHAPE_MISMATCH', `${taskWeights.length} task weights were given for ${this.tasks.length} tasks (${this.tasks.join(', ')}).`);
    const raw = new Map<string, tf.Tensor>();
    try {
      const w = tf.tensor2d(Float32Array.from(taskWeights), [1, this.tasks.length]);
      try {
        for (const [name, base] of this.shared) {
          raw.set(name, tf.tidy(() => tf.reshape(tf.add(base, tf.reshape(tf.matMul(w, this.deltas.get(name)!), [base.size])), [...this.shapes.get(name)!])));
        }
      } finally {
        w.dispose();
      }
      return prepareLmWeights(this.config, raw, 'the routed merge');
    } finally {
      disposeLmWeights(raw);
    }
  }

  /** θ* alone, laid out for scoring (the router's features); the caller disposes it. */
  sharedWeights(): PreparedLmWeights {
    const raw = new Map<string, tf.Tensor>();
    try {
      for (const [name, base] of this.shared) raw.set(name, tf.reshape(base, [...this.shapes.get(name)!]));
      return prepareLmWeights(this.config, raw, 'the shared expert');
    } finally {
      disposeLmWeights(raw);
    }
  }

  dispose(): void {
    for (const t of this.shared.values()) t.dispose();
    for (const t of this.deltas.values()) t.dispose();
    this.shared.clear();
    this.deltas.clear();
  }
}

/**
 * The router's features of each window: the mean of the model's final hidden states over the
 * tokens the window reads (all of its ids but the last, which it only predicts; a one-token window
 * reads that token). Rows of `hiddenSize`, in window order. Windows of one length share batches.
 */
export async function windowFeatures(config: LmConfig, weights: PreparedLmWeights, windows: readonly ArrayLike<number>[], options: { readonly maxBatch?: number; readonly cancel?: CancelToken } = {}): Promise<Float32Array> {
  const d = config.hiddenSize;
  const out = new Float32Array(windows.length * d);
  const byLength = new Map<number, number[]>();
  windows.forEach((ids, i) => {
    if (ids.length === 0) throw new MergeLabError('PARAMETER_INVALID', `Window ${i} has no tokens; the router reads at least one.`);
    const n = Math.max(1, ids.length - 1);
    const same = byLength.get(n);
    if (same) same.push(i);
    else byLength.set(n, [i]);
  });
  const batch = Math.max(1, options.maxBatch ?? 8);
  for (const [length, members] of byLength) {
    for (let from = 0; from < members.length; from += batch) {
      if (options.cancel?.cancelled) throw new MergeLabError('CANCELLED', 'Twin-Merging was cancelled.');
      const group = members.slice(from, from + batch);
      const inputs = new Int32Array(group.length * length);
      group.forEach((w, b) => {
        const ids = windows[w]!;
        for (let t = 0; t < length; t++) inputs[b * length + t] = ids[t]!;
      });
      const means = tf.tidy(() => {
        const hidden = lmHidden(config, weights, tf.tensor2d(inputs, [group.length, length], 'int32'), { inference: true, where: 'the shared expert' });
        return tf.mean(tf.reshape(hidden, [group.length, length, d]), 1);
      });
      try {
        const values = (await means.data()) as Float32Array;
        group.forEach((w, b) => out.set(values.subarray(b * d, (b + 1) * d), w * d));
      } finally {
        means.dispose();
      }
      await nextTask();
    }
  }
  return out;
}

/**
 * Scores each window with the merge its task weights give (row i of `weights`, T values): windows
 * with the same weights share one merged model and one batched scoring. Answers one ScoreResult
 * per window, in order. Leaves no tensor behind.
 */
export async function scoreRoutedWindows(model: LmTwinModel, windows: readonly ArrayLike<number>[], weights: Float32Array, options: ScoreOptions): Promise<ScoreResult[]> {
  const T = model.tasks.length;
  if (weights.length !== windows.length * T) throw new MergeLabError('SHAPE_MISMATCH', `${weights.length} routing weights were given for ${windows.length} windows of ${T} tasks.`);
  const groups = new Map<string, number[]>();
  for (let i = 0; i < windows.length; i++) {
    const key = Array.from(weights.subarray(i * T, (i + 1) * T)).join(',');
    const same = groups.get(key);
    if (same) same.push(i);
    else groups.set(key, [i]);
  }
  const out: ScoreResult[] = new Array(windows.length);
  for (const members of groups.values()) {
    if (options.cancel?.cancelled) throw new MergeLabError('CANCELLED', 'Scoring was cancelled.');
    const first = members[0]!;
    const merged = model.weightsFor(weights.subarray(first * T, (first + 1) * T));
    try {
      const scores = await scoreSequences(model.config, merged, members.map((i) => windows[i]!), options);
      members.forEach((i, k) => (out[i] = scores[k]!));
    } finally {
      disposeLmWeights(merged.tensors);
    }
  }
  return out;
}

/**
 * A text's token ids as windows of `context` predictions that score it exactly as scoreTokens does
 * (window k is ids [k·c, k·c + c + 1): consecutive windows share one id, read by the next and
 * predicted by this one). At most `max` windows, spread evenly over the text, when given.
 */
export function contextWindows(ids: ArrayLike<number>, context: number, max?: number): number[][] {
  const all: number[][] = [];
  for (let s = 0; s + 1 < ids.length; s += context) all.push(Array.from({ length: Math.min(context + 1, ids.length - s) }, (_, t) => ids[s + t]!));
  if (max === undefined || all.length <= max) return all;
  if (max <= 0) return [];
  return Array.from({ length: max }, (_, k) => all[max === 1 ? 0 : Math.round((k * (all.length - 1)) / (max - 1))]!);
}
