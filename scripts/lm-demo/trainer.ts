/**
 * Training the LM demo's byte-level Llama models through the engine's own forward (lmLogits) with
 * tfjs-core's registered gradients and its optimizers (Adam for the base, SGD with momentum for
 * the experts). Everything random comes from seeded
 * generators (initialisation, which windows each batch reads), so on one backend the same call
 * gives the same bytes; test/demo/lm-train.test.ts checks it on a tiny model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { lmLogits, lmTensorShapes, scoreTokens, type LmConfig } from '../../src/engine/lm/index.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { memorySource, openSafetensors } from '../../src/engine/io/index.js';
import { createRandom, randomInt } from '../../src/engine/random.js';

/** The shape of a model, in the words of config.json. */
export interface ModelShape {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly context: number;
}

/**
 * config.json as transformers 5.17 writes it for LlamaForCausalLM with these settings
 * (LlamaConfig(...).to_json_string(), keys sorted): byte-level, so vocab 256 and no special tokens.
 */
export function llamaConfigJson(shape: ModelShape): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: null,
    dtype: 'float16',
    eos_token_id: null,
    head_dim: shape.hiddenSize / shape.heads,
    hidden_act: 'silu',
    hidden_size: shape.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: shape.intermediateSize,
    max_position_embeddings: shape.context,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: shape.heads,
    num_hidden_layers: shape.layers,
    num_key_value_heads: shape.kvHeads,
    pad_token_id: null,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_parameters: { rope_theta: 10000.0, rope_type: 'default' },
    tie_word_embeddings: false,
    transformers_version: '5.17.0',
    use_cache: true,
    vocab_size: 256,
  };
}

export type FloatWeights = ReadonlyMap<string, Float32Array>;

export function parameterCount(config: LmConfig): number {
  let n = 0;
  for (const shape of lmTensorShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** transformers' LlamaPreTrainedModel init: N(0, 0.02) for projections and embeddings, norms at 1. */
export function initialWeights(config: LmConfig, seed: number): Map<string, Float32Array> {
  const random = createRandom(seed);
  const normal = () => {
    // Box–Muller; 1 − u keeps the log's argument in (0, 1].
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of lmTensorShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    out.set(name, name.endsWith('norm.weight') ? new Float32Array(size).fill(1) : Float32Array.from({ length: size }, () => 0.02 * normal()));
  }
  return out;
}

/** Training text of several domains: each batch row reads `context + 1` bytes from one domain. */
export class WindowSampler {
  private readonly random: () => number;

  constructor(
    private readonly streams: readonly Uint8Array[],
    private readonly context: number,
    seed: number,
  ) {
    for (const s of streams) if (s.length <= context + 1) throw new Error(`a training text of ${s.length} bytes is shorter than one window (${context + 1})`);
    this.random = createRandom(seed);
  }

  /** `rows` windows, rows spread over the streams in turn (row r from stream r mod streams). */
  next(rows: number): Int32Array {
    const width = this.context + 1;
    const out = new Int32Array(rows * width);
    for (let r = 0; r < rows; r++) {
      const s = this.streams[r % this.streams.length]!;
      const at = randomInt(this.random, s.length - width + 1);
      for (let k = 0; k < width; k++) out[r * width + k] = s[at + k]!;
    }
    return out;
  }
}

/**
 * An expert's batches with replay: of every `rows`, the first `rows − replayRows` read the expert's
 * own text, the others each read one of the other domains' texts, drawn at random (seeded). Replay
 * keeps a fine-tuned expert near the base on the other domains, so its task vector holds what its
 * domain needs rather than what forgetting the others costs.
 */
export class ReplaySampler {
  private readonly random: () => number;
  private readonly own: WindowSampler;
  private readonly others: WindowSampler[];
  private readonly width: number;

  constructor(own: Uint8Array, others: readonly Uint8Array[], private readonly replayRows: number, context: number, seed: number) {
    this.random = createRandom(seed);
    this.own = new WindowSampler([own], context, seed + 1);
    this.others = others.map((o, i) => new WindowSampler([o], context, seed + 2 + i));
    this.width = context + 1;
  }

  next(rows: number): Int32Array {
    const replay = Math.min(rows, this.replayRows);
    const out = new Int32Array(rows * this.width);
    out.set(this.own.next(rows - replay));
    for (let r = rows - replay; r < rows; r++) out.set(this.others[randomInt(this.random, this.others.length)]!.next(1), r * this.width);
    return out;
  }
}

/**
 * Mean next-byte cross-entropy (nats) of windows [rows, context + 1]: tokens are all but the last
 * byte, targets all but the first — except, given `soft` ([k·context, vocab], teacherTargets), the
 * last k rows', whose target is the teacher's distribution there.
 */
function windowLoss(config: LmConfig, weights: ReadonlyMap<string, tf.Tensor>, windows: Int32Array, rows: number, soft?: tf.Tensor): tf.Scalar {
  const width = windows.length / rows;
  const all = tf.tensor2d(windows, [rows, width], 'int32');
  const tokens = tf.slice(all, [0, 0], [rows, width - 1]);
  const targets = tf.reshape(tf.slice(all, [0, 1], [rows, width - 1]), [-1]);
  const logits = tf.reshape(lmLogits(config, weights, tokens), [rows * (width - 1), config.vocabSize]);
  const target = soft
    ? tf.concat([tf.cast(tf.oneHot(tf.slice(targets, [0], [targets.shape[0]! - soft.shape[0]!]), config.vocabSize), 'float32'), soft], 0)
    : tf.oneHot(targets, config.vocabSize);
  return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}

/**
 * A frozen model (the base) whose next-byte distribution is the target of each batch's last `rows`
 * rows, the replay rows: they keep the base's predictions on the other domains rather than train
 * the expert further on those domains' text.
 */
export interface Teacher {
  readonly weights: ReadonlyMap<string, tf.Tensor>;
  readonly rows: number;
}

/** The teacher's next-byte distribution on the last `teacher.rows` windows, [teacher.rows·context, vocab]. */
function teacherTargets(config: LmConfig, teacher: Teacher, windows: Int32Array, rows: number): tf.Tensor {
  return tf.tidy(() => {
    const width = windows.length / rows;
    const tail = tf.tensor2d(windows.subarray((rows - teacher.rows) * width), [teacher.rows, width], 'int32');
    const tokens = tf.slice(tail, [0, 0], [teacher.rows, width - 1]);
    return tf.softmax(tf.reshape(lmLogits(config, teacher.weights, tokens), [teacher.rows * (width - 1), config.vocabSize]));
  });
}

/**
 * `count` windows of `context + 1` bytes spread evenly over `text`, at the starts the engine's
 * scoreTokens reads them from (multiples of `context`): a validation sample that costs a fraction
 * of scoring the whole text and covers every part of it (each language, each file).
 */
export function selectWindows(text: Uint8Array, context: number, count: number): Int32Array {
  const full = Math.floor((text.length - 1) / context);
  const n = Math.min(count, full);
  const out = new Int32Array(n * (context + 1));
  for (let k = 0; k < n; k++) {
    const start = Math.floor((k * full) / n) * context;
    out.set(text.subarray(start, start + context + 1), k * (context + 1));
  }
  return out;
}

/** Mean next-byte loss (nats) of windows [rows, context + 1], a few rows per forward pass (the forward's cost per row grows with the batch on wasm). */
export function windowsLoss(config: LmConfig, weights: ReadonlyMap<string, tf.Tensor>, windows: Int32Array, context: number, batchRows = 8): number {
  const width = context + 1;
  const rows = windows.length / width;
  let total = 0;
  for (let at = 0; at < rows; at += batchRows) {
    const n = Math.min(batchRows, rows - at);
    total += tf.tidy(() => windowLoss(config, weights, windows.subarray(at * width, (at + n) * width), n).dataSync()[0]!) * n;
  }
  return total / rows;
}

/** Mean nats per predicted byte of `text` as the engine scores it (scoreTokens: windows of `context` bytes, every byte but the first predicted once). */
export async function textLoss(config: LmConfig, weights: ReadonlyMap<string, tf.Tensor>, text: Uint8Array, context: number): Promise<number> {
  const score = await scoreTokens(config, weights, text, { context });
  return score.nll / score.tokens;
}

export interface Schedule {
  readonly steps: number;
  readonly rows: number;
  readonly learningRate: number;
  /** Linear warm-up steps, then cosine decay to `finalLearningRate` at `steps`. */
  readonly warmup: number;
  readonly finalLearningRate: number;
  /** Validation every this many steps (and after the last); the best checkpoint is kept. */
  readonly evaluateEvery: number;
  /** Stop after this many evaluations without a better validation loss. */
  readonly patience: number;
  /**
   * Adam (the default; the base's), or SGD with momentum 0.9 (the experts'): its updates follow the gradient's
   * size, where Adam's are about the same size for every weight, so a task vector's largest entries
   * are the ones that mattered, which is what TIES' trimming keeps.
   */
  readonly optimizer?: 'adam' | 'momentum';
}

export function learningRateAt(s: Schedule, step: number): number {
  if (step < s.warmup) return (s.learningRate * (step + 1)) / s.warmup;
  const t = (step - s.warmup) / Math.max(1, s.steps - s.warmup);
  return s.finalLearningRate + 0.5 * (s.learningRate - s.finalLearningRate) * (1 + Math.cos(Math.PI * t));
}

export interface TrainResult {
  readonly weights: Map<string, Float32Array>;
  /** The step the kept weights are from (0: the start was never beaten). */
  readonly bestStep: number;
  readonly bestValidation: number;
  readonly stepsRun: number;
  readonly log: readonly { step: number; train: number; validation: number }[];
}

/**
 * Adam on the mean next-byte cross-entropy from `start`, batches from `sampler`; keeps the
 * weights with the lowest `validate` (called on the start too, so a run that only gets worse
 * returns the start).
 */
export async function train(
  config: LmConfig,
  start: FloatWeights,
  sampler: { next(rows: number): Int32Array },
  schedule: Schedule,
  validate: (weights: ReadonlyMap<string, tf.Tensor>) => Promise<number>,
  onLog: (line: string) => void = () => {},
  teacher?: Teacher,
): Promise<TrainResult> {
  const shapes = lmTensorShapes(config);
  const vars = new Map<string, tf.Variable>();
  for (const [name, shape] of shapes) {
    // A variable shares its initial tensor's data; that handle is let go at once.
    const initial = tf.tensor(start.get(name)!, shape);
    vars.set(name, tf.variable(initial));
    initial.dispose();
  }
  const optimizer = schedule.optimizer === 'momentum' ? tf.train.momentum(schedule.learningRate, 0.9) : tf.train.adam(schedule.learningRate, 0.9, 0.95, 1e-8);
  const snapshot = () => new Map([...vars].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
  const log: { step: number; train: number; validation: number }[] = [];
  try {
    let best = { step: 0, validation: await validate(vars), weights: snapshot() };
    let sinceBest = 0;
    let recent = 0;
    let recentCount = 0;
    let step = 0;
    while (step < schedule.steps) {
      // tfjs' Adam reads its learning rate at every update; momentum keeps it as a scalar that setLearningRate replaces.
      // (tfjs' optimizers answer instanceof for one another's classes: the schedule says which it is.)
      if (schedule.optimizer === 'momentum') (optimizer as tf.MomentumOptimizer).setLearningRate(learningRateAt(schedule, step));
      else (optimizer as unknown as { learningRate: number }).learningRate = learningRateAt(schedule, step);
      const windows = sampler.next(schedule.rows);
      const soft = teacher && teacher.rows > 0 ? teacherTargets(config, teacher, windows, schedule.rows) : undefined;
      const cost = optimizer.minimize(() => windowLoss(config, vars, windows, schedule.rows, soft), true, [...vars.values()]);
      soft?.dispose();
      recent += cost!.dataSync()[0]!;
      recentCount++;
      cost!.dispose();
      step++;
      if (step % schedule.evaluateEvery === 0 || step === schedule.steps) {
        const validation = await validate(vars);
        log.push({ step, train: recent / recentCount, validation });
        onLog(`step ${step}: train ${(recent / recentCount).toFixed(4)}, validation ${validation.toFixed(4)} nats/byte`);
        recent = 0;
        recentCount = 0;
        if (validation < best.validation) {
          best = { step, validation, weights: snapshot() };
          sinceBest = 0;
        } else if (++sinceBest >= schedule.patience) break;
      }
    }
    return { weights: best.weights, bestStep: best.step, bestValidation: best.validation, stepsRun: step, log };
  } finally {
    optimizer.dispose();
    for (const v of vars.values()) v.dispose();
  }
}

/** Float32 weights as tensors (the caller disposes them). */
export function asTensors(config: LmConfig, weights: FloatWeights): Map<string, tf.Tensor> {
  return new Map([...lmTensorShapes(config)].map(([n, shape]) => [n, tf.tensor(weights.get(n)!, shape)]));
}

/** The float16 safetensors file that ships, and the weights read back from it (what the file holds, as float32). */
export async function toFloat16(config: LmConfig, weights: FloatWeights, name: string): Promise<{ bytes: Uint8Array; weights: Map<string, Float32Array> }> {
  const shapes = [...lmTensorShapes(config)];
  const bytes = await writeSafetensorsToMemory(
    shapes.map(([n, shape]) => ({ name: n, dtype: 'F16' as const, shape, data: weights.get(n)! })),
    { format: 'pt' },
  );
  return { bytes, weights: await readFloat32(config, bytes, name) };
}

/** A safetensors file's tensors as float32, by the names config.json gives them. */
export async function readFloat32(config: LmConfig, bytes: Uint8Array, name: string): Promise<Map<string, Float32Array>> {
  const file = await openSafetensors(memorySource(name, bytes));
  try {
    const back = new Map<string, Float32Array>();
    for (const [n] of lmTensorShapes(config)) back.set(n, await file.readFloat32(n));
    return back;
  } finally {
    await file.close();
  }
}
