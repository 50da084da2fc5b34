/**
 * Executes a validated merge plan tensor by tensor: read each model's tensor, merge it, write it,
 * dispose everything. Peak memory is about (models + 2) x the largest tensor, never the checkpoint.
 * Used by the CLI, the worker and the tests alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { DTYPE_SIZES, decodeToFloat32, encodeFromFloat32, numel } from '../io/dtypes.js';
import type { Checkpoint, DType } from '../io/types.js';
import type { MergeMethod, OrderCache, ParamValue, PreparedMerge } from '../methods/types.js';
import { currentBackend } from '../backend.js';
import { tensorSeed } from './seed.js';
import { isHalf } from '../half/half-math.js';
import type { RecipeMath } from '../recipe/types.js';
import { applyEmbeddingRows, type EmbeddingRows } from './embedding-rows.js';
import { throwIfCancelled, type CancelToken, type MergeProgress } from './progress.js';

type Params = Readonly<Record<string, ParamValue | undefined>>;

/** One output tensor, with everything resolved: the runner only executes. */
export interface PlannedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly outDtype: DType;
  /**
   * The dtype mergekit computes this tensor in, when narrower than float32: the recipe's `dtype`,
   * else the dtype the models store it in. Inputs are rounded to it first, as mergekit loads them.
   */
  readonly workDtype?: DType;
  readonly global: Params;
  /** Contributing models in mergekit order (mismatching ones already dropped with a warning). */
  readonly models: readonly {
    readonly model: string;
    readonly isBase: boolean;
    readonly params: Params;
    /** The tensor to read from this model when it is stored under a tied name (lm_head → embeddings). */
    readonly source?: string;
    /** Rows and columns of the top-left block to take of this model's 2-D tensor (embeddings of another vocabulary size). */
    readonly block?: readonly [number, number];
  }[];
  /** An embedding re-ordered onto a new vocabulary (`tokenizer_source: union`): each model's rows, or the row it gets for a token it lacks. */
  readonly rows?: EmbeddingRows;
}

export interface MergePlanToRun {
  readonly method: MergeMethod;
  readonly tensors: readonly PlannedTensor[];
  readonly randomSeed: number;
  /** 'float32': 16-bit work dtypes computed in float32 and rounded once (the recipe's `math:`); default mergekit's op-by-op rounding. */
  readonly math?: RecipeMath;
}

/** Receives merged tensors in plan order (a safetensors writer, a sharded writer, or memory). */
export interface TensorOutput {
  writeTensor(name: string, data: Float32Array): Promise<void>;
}

export interface RunMergeOptions {
  readonly plan: MergePlanToRun;
  /** Opened checkpoints by model name as written in the recipe. */
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly output: TensorOutput;
  readonly onProgress?: (p: MergeProgress) => void;
  readonly onWarning?: (message: string) => void;
  readonly cancel?: CancelToken;
  /** Kept sort orders for repeated merges of the same models (see OrderCache). */
  readonly orderCache?: OrderCache;
  /** Largest block per input on the backend; default: the WebGPU adapter's binding limit, else none. */
  readonly maxBlockBytes?: number;
}

export function outputBytes(t: PlannedTensor): number {
  return numel(t.shape) * DTYPE_SIZES[t.outDtype];
}

export async function runMerge(opts: RunMergeOptions): Promise<void> {
  const { plan, checkpoints, output } = opts;
  const started = Date.now();
  const bytesTotal = plan.tensors.reduce((s, t) => s + outputBytes(t), 0);
  let bytesDone = 0;
  const warned = new Set<string>();
  const warn = (m: string) => {
    if (warned.has(m)) return;
    warned.add(m);
    opts.onWarning?.(m);
  };

  for (let i = 0; i < plan.tensors.length; i++) {
    throwIfCancelled(opts.cancel);
    const spec = plan.tensors[i]!;
    const values = await readInputs(spec, checkpoints);
    throwIfCancelled(opts.cancel);
    spec.models.forEach((m, j) => {
      const bad = inputNonFinite(values[j]!);
      if (bad) warn(`Model "${m.model}" holds ${bad} NaN or infinite value(s) in ${spec.name}; they reach the merge as they are.`);
    });
    const merged = await mergeOne(plan, spec, values, warn, opts.orderCache, opts.maxBlockBytes);
    const bad = nonFinite(merged);
    if (bad) warn(`The merged ${spec.name} holds ${bad} NaN or infinite value(s) (of ${merged.length}); a model that loads it will compute NaNs.`);
    await output.writeTensor(spec.name, merged);
    bytesDone += outputBytes(spec);
    opts.onProgress?.({
      tensorIndex: i + 1,
      tensorCount: plan.tensors.length,
      tensorName: spec.name,
      bytesDone,
      bytesTotal,
      elapsedMs: Date.now() - started,
    });
  }
}

async function readInputs(spec: PlannedTensor, checkpoints: ReadonlyMap<string, Checkpoint>): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const m of spec.models) {
    const ckpt = checkpoints.get(m.model);
    if (!ckpt) throw new MergeLabError('INTERNAL', `Model "${m.model}" was planned but not opened.`);
    const name = m.source ?? spec.name;
    const info = ckpt.info(name);
    const full = await ckpt.readFloat32(name);
    const values = m.block && info ? topLeft(full, info.shape[1]!, m.block) : full;
    const stored = info?.dtype;
    out.push(spec.workDtype && stored !== spec.workDtype ? decodeToFloat32(spec.workDtype, encodeFromFloat32(spec.workDtype, values), true) : values);
  }
  // mergekit re-orders the embeddings it has loaded (in the merge's dtype) before merging them.
  if (spec.rows) {
    const stored = checkpoints.get(spec.models[0]!.model)!.info(spec.models[0]!.source ?? spec.name)?.dtype;
    return applyEmbeddingRows(spec.rows, out, spec.shape[1]!, spec.workDtype ?? stored);
  }
  return out;
}

/**
 * nonFinite of an input, counted once per array: a live session hands the same decoded arrays to
 * every slider move, and they never change.
 */
const checkedInputs = new WeakMap<Float32Array, number>();
function inputNonFinite(a: Float32Array): number {
  let n = checkedInputs.get(a);
  if (n === undefined) checkedInputs.set(a, (n = nonFinite(a)));
  return n;
}

/** How many entries are NaN or ±∞. */
function nonFinite(a: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) n++;
  return n;
}

/** The first `rows` rows and `cols` columns of a row-major matrix `cols0` wide. */
function topLeft(values: Float32Array, cols0: number, [rows, cols]: readonly [number, number]): Float32Array {
  if (cols === cols0) return values.subarray(0, rows * cols);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols0, r * cols0 + cols), r * cols);
  return out;
}

/**
 * Merges one tensor: the method looks at the whole tensor once on the CPU, then the backend
 * combines it in blocks of at most `maxBlockBytes` per input (a WebGPU buffer larger than the
 * adapter's binding limit gives silently wrong numbers), each block read back into the result.
 * Any block size gives the same values; nothing stays allocated on the backend.
 */
export async function mergeOne(
  plan: MergePlanToRun,
  spec: PlannedTensor,
  values: Float32Array[],
  warn: (m: string) => void,
  orderCache?: OrderCache,
  maxBlockBytes = defaultBlockBytes(),
): Promise<Float32Array> {
  const n = numel(spec.shape);
  const input = {
    tensorName: spec.name,
    shape: spec.shape,
    models: spec.models.map((m, j) => ({ model: m.model, isBase: m.isBase, params: m.params, values: values[j]! })),
    global: spec.global,
    seed: tensorSeed(plan.randomSeed, spec.name),
    warn,
  };
  // mergekit's arithmetic in a 16-bit dtype rounds at every step: plain JavaScript over the values,
  // the same bytes whatever the backend.
  if (isHalf(spec.workDtype) && plan.math !== 'float32' && plan.method.mergeHalf) return plan.method.mergeHalf(input, spec.workDtype);
  const prepared = plan.method.prepare({ ...input, ...(orderCache ? { orderCache } : {}) });
  const g = Math.max(1, prepared.granularity);
  const step = Math.floor(maxBlockBytes / 4 / g) * g;
  if (step < g && n > 0) {
    throw new MergeLabError('BUDGET_EXCEEDED', `Tensor ${spec.name} needs blocks of ${g} values (${g * 4} bytes), over the backend's ${maxBlockBytes}-byte buffer limit; merge it on wasm or cpu.`);
  }
  if (n <= step || n === 0) return runBlock(prepared, values, 0, n);
  const out = new Float32Array(n);
  for (let start = 0; start < n; start += step) {
    const end = Math.min(n, start + step);
    out.set(await runBlock(prepared, values, start, end), start);
  }
  return out;
}

async function runBlock(prepared: PreparedMerge, values: readonly Float32Array[], start: number, end: number): Promise<Float32Array> {
  const result = tf.tidy(() => prepared.block(values.map((v) => tf.tensor1d(v.subarray(start, end), 'float32')), start, end));
  try {
    // Async read: WebGPU cannot read synchronously.
    return (await result.data()) as Float32Array;
  } finally {
    result.dispose();
  }
}

/** The largest block per input the current backend handles well: the WebGPU adapter's binding limit, a share of wasm's heap, else no limit. */
function defaultBlockBytes(): number {
  const b = currentBackend();
  if (b?.name === 'webgpu' && b.adapter) return b.adapter.maxStorageBufferBindingSize;
  // The wasm backend's heap is one 32-bit memory (4 GiB at most, growing in place): a 1.5 GiB
  // tensor per model does not fit beside its copies, so blocks stay well inside it.
  if (b?.name === 'wasm') return WASM_BLOCK_BYTES;
  return Number.POSITIVE_INFINITY;
}

/** Bytes per input per block on wasm (64 MiB: six models and the result stay under 0.5 GiB). */
const WASM_BLOCK_BYTES = 64 << 20;
