/**
 * Executes a validated merge plan tensor by tensor: read each model's tensor, merge it, write it,
 * dispose everything. Peak memory is about (models + 2) x the largest tensor, never the checkpoint.
 * Used by the CLI, the worker and the tests alike.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { DTYPE_SIZES, decodeToFloat32, encodeFromFloat32, numel } from '../io/dtypes.js';
import type { Checkpoint, DType } from '../io/types.js';
import type { MergeMethod, ModelTensor, OrderCache, ParamValue } from '../methods/types.js';
import { tensorSeed } from './seed.js';
import { throwIfCancelled, type CancelToken, type MergeProgress } from './progress.js';

type Params = Readonly<Record<string, ParamValue | undefined>>;

/** One output tensor, with everything resolved: the runner only executes. */
export interface PlannedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly outDtype: DType;
  /** The recipe's `dtype` when narrower than float32: inputs are rounded to it first, as mergekit loads them. */
  readonly workDtype?: DType;
  readonly global: Params;
  /** Contributing models in mergekit order (mismatching ones already dropped with a warning). */
  readonly models: readonly {
    readonly model: string;
    readonly isBase: boolean;
    readonly params: Params;
    /** The tensor to read from this model when it is stored under a tied name (lm_head → embeddings). */
    readonly source?: string;
  }[];
}

export interface MergePlanToRun {
  readonly method: MergeMethod;
  readonly tensors: readonly PlannedTensor[];
  readonly randomSeed: number;
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
}

export function outputBytes(t: PlannedTensor): number {
  return numel(t.shape) * DTYPE_SIZES[t.outDtype];
}

const EMPTY = new Float32Array(0);

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
    const merged = await mergeOne(plan, spec, values, warn, opts.orderCache);
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
    const values = await ckpt.readFloat32(m.source ?? spec.name);
    out.push(spec.workDtype ? decodeToFloat32(spec.workDtype, encodeFromFloat32(spec.workDtype, values), true) : values);
  }
  return out;
}

/**
 * Merges one tensor on the current backend and copies the result out; nothing stays allocated.
 * The input arrays are released (replaced by empty ones) as soon as the backend holds them, so a
 * copying backend (wasm, webgpu) does not keep two copies of every input alive.
 */
export async function mergeOne(plan: MergePlanToRun, spec: PlannedTensor, values: Float32Array[], warn: (m: string) => void, orderCache?: OrderCache): Promise<Float32Array> {
  const shape = [...spec.shape];
  const result = tf.tidy(() => {
    const models: ModelTensor[] = spec.models.map((m, j) => {
      const tensor = tf.tensor(values[j]!, shape, 'float32');
      values[j] = EMPTY;
      return { model: m.model, isBase: m.isBase, params: m.params, tensor };
    });
    return plan.method.mergeTensor({
      tensorName: spec.name,
      models,
      global: spec.global,
      seed: tensorSeed(plan.randomSeed, spec.name),
      warn,
      ...(orderCache ? { orderCache } : {}),
    });
  });
  try {
    // Async read: WebGPU cannot read synchronously.
    return (await result.data()) as Float32Array;
  } finally {
    result.dispose();
  }
}
