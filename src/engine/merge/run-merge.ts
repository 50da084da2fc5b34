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
import { isHalf, roundInPlace } from '../half/half-math.js';
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
  /** A tensor as consecutive parts (its blocks), where the output can take it so: never held whole. */
  writeTensorParts?(name: string, parts: AsyncIterable<Float32Array>): Promise<void>;
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
  /** Largest block per input on the backend, a hard limit; default: the WebGPU adapter's binding limit, else none. */
  readonly maxBlockBytes?: number;
  /**
   * Frees unreachable memory now (Node: v8's gc). Called between the phases of a large tensor, so
   * the peak holds what is live — the inputs, the result — not also the last phase's garbage.
   */
  readonly collectGarbage?: () => void;
  /**
   * The checkpoints hand out a fresh array on every read (files: safetensors, .bin, LoRA), so a
   * method may work in a tensor's inputs once read (ModelValues.owned) instead of in copies.
   */
  readonly freshReads?: boolean;
  /** A live session's kept results before λ (UnscaledCache): a λ move then costs one pass per tensor. */
  readonly unscaledCache?: UnscaledCache;
}

/**
 * What a method with MergeMethod.finishUnscaled gave before λ and the base, by tensor name: the
 * newest for each tensor (another density replaces it), with the key of everything but λ that
 * made it and the input arrays it was made from — a live session hands the same decoded arrays to
 * every move, so other arrays (a model opened again) mean other values, and it is made anew.
 * A method's warnings come with the first merge of a key, not again when it is served from here.
 */
export type UnscaledCache = Map<string, { readonly key: string; readonly inputs: readonly Float32Array[]; readonly unscaled: Float32Array }>;

/** Tensors at least this large (bytes of float32) get a collection between phases. */
const COLLECT_FROM_BYTES = 16 << 20;
/** …and one every this many bytes of arrays made (a tensor's inputs and result; a large one's blocks). */
const COLLECT_EVERY_BYTES = 64 << 20;
/** …and in a large tensor, every this many blocks (a block leaves about five arrays of its size). */
const BLOCKS_PER_COLLECT = 8;

export function outputBytes(t: PlannedTensor): number {
  return numel(t.shape) * DTYPE_SIZES[t.outDtype];
}

/**
 * The memory bound of the tensor work, in bytes: (models + 2) × the largest tensor as float32,
 * plus 64 MiB for the process and the backend's blocks. A tensor holds its inputs (models), its
 * result, and one tensor's worth of working space for the whole-tensor step (a trim's sort index,
 * a scratch task vector); the backend works in blocks of STREAM_BLOCK_BYTES. `npm run bench`
 * checks a CLI merge's peak RSS against it (bench/memory-bench.ts).
 */
export function mergeWorkingMemory(plan: { readonly tensors: readonly PlannedTensor[] }): number {
  let largest = 0;
  let models = 0;
  for (const t of plan.tensors) {
    largest = Math.max(largest, numel(t.shape) * 4);
    models = Math.max(models, t.models.length);
  }
  return (models + 2) * largest + WORKING_OVERHEAD_BYTES;
}

/** The process's and the backend's blocks beside the tensors (mergeWorkingMemory). */
export const WORKING_OVERHEAD_BYTES = 64 << 20;

export async function runMerge(opts: RunMergeOptions): Promise<void> {
  const { plan, checkpoints, output } = opts;
  const started = Date.now();
  const bytesTotal = plan.tensors.reduce((s, t) => s + outputBytes(t), 0);
  let bytesDone = 0;
  const warned = new Set<string>();
  /** Bytes of arrays made since the last collection (opts.collectGarbage). */
  let made = 0;
  const warn = (m: string) => {
    if (warned.has(m)) return;
    warned.add(m);
    opts.onWarning?.(m);
  };

  for (let i = 0; i < plan.tensors.length; i++) {
    throwIfCancelled(opts.cancel);
    const spec = plan.tensors[i]!;
    const bytes = numel(spec.shape) * 4;
    const large = opts.collectGarbage && bytes >= COLLECT_FROM_BYTES ? opts.collectGarbage : undefined;
    // Earlier tensors' arrays go before this one's are made: always before a large tensor, else
    // once they add up (v8 lets hundreds of MiB of large arrays wait for its next collection).
    if (opts.collectGarbage && (large || made >= COLLECT_EVERY_BYTES)) {
      opts.collectGarbage();
      made = 0;
    }
    made += bytes * (spec.models.length + 2);
    const values = await readInputs(spec, checkpoints, large, opts.freshReads);

    throwIfCancelled(opts.cancel);
    spec.models.forEach((m, j) => {
      const bad = inputNonFinite(values[j]!);
      if (bad) warn(`Model "${m.model}" holds ${bad} NaN or infinite value(s) in ${spec.name}; they reach the merge as they are.`);
    });
    const options: MergeOneOptions = {
      ...(opts.orderCache ? { orderCache: opts.orderCache } : {}),
      ...(opts.maxBlockBytes !== undefined ? { maxBlockBytes: opts.maxBlockBytes } : {}),
      ...(large ? { collect: large } : {}),
      ...(opts.freshReads ? { owned: true } : {}),
    };
    // Fresh reads may be worked in (owned), and another merge's arrays are never the kept ones.
    const merged = opts.unscaledCache && !opts.freshReads && servesUnscaled(plan, spec) ? { whole: await viaUnscaled(plan, spec, values, warn, opts.unscaledCache, options) } : await mergeParts(plan, spec, values, warn, options);
    let bad = 0;
    if ('whole' in merged || !output.writeTensorParts) {
      const whole = 'whole' in merged ? merged.whole : await assemble(merged);
      bad = nonFinite(whole);
      await output.writeTensor(spec.name, whole);
    } else {
      // Blocks go to the file as they come: the result is never held whole beside the inputs.
      await output.writeTensorParts(spec.name, counted(merged.parts(), (part) => (bad += nonFinite(part))));
    }
    if (bad) warn(`The merged ${spec.name} holds ${bad} NaN or infinite value(s) (of ${numel(spec.shape)}); a model that loads it will compute NaNs.`);
    // A large tensor's arrays are all garbage now: freed before the next tensor, not left beside it.
    if (large) {
      large();
      made = 0;
    }
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

/**
 * Whether `spec` may be merged through an UnscaledCache: the method has a finish step, the tensor
 * is computed in float32 (mergekit's 16-bit arithmetic rounds op by op, another path), and the
 * backend's float32 products and sums are correctly rounded ones, as the finish step's are (cpu,
 * wasm; a GPU may flush subnormals).
 */
function servesUnscaled(plan: MergePlanToRun, spec: PlannedTensor): boolean {
  const backend = tf.getBackend();
  if (!plan.method.finishUnscaled || (backend !== 'cpu' && backend !== 'wasm')) return false;
  return !(isHalf(spec.workDtype) && plan.math !== 'float32' && plan.method.mergeHalf) && spec.models.some((m) => m.isBase);
}

/** The merged tensor from its kept result before λ (made first when missing or stale). */
async function viaUnscaled(plan: MergePlanToRun, spec: PlannedTensor, values: Float32Array[], warn: (m: string) => void, cache: UnscaledCache, options: MergeOneOptions): Promise<Float32Array> {
  const { lambda: _lambda, ...global } = spec.global;
  const key = JSON.stringify([plan.method.id, plan.randomSeed, plan.math ?? null, spec.workDtype ?? null, spec.outDtype, spec.models.map((m) => [m.model, m.isBase, m.params, m.source ?? null, m.block ?? null]), global]);
  let kept = cache.get(spec.name);
  if (!kept || kept.key !== key || kept.inputs.length !== values.length || kept.inputs.some((v, j) => v !== values[j])) {
    // Not kept while it is made: a cancelled merge leaves the older entry, or none.
    kept = { key, inputs: [...values], unscaled: await mergeOne(plan, spec, values, warn, { ...options, unscaled: true }) };
    cache.set(spec.name, kept);
  }
  const base = spec.models.findIndex((m) => m.isBase);
  return plan.method.finishUnscaled!({ unscaled: kept.unscaled, base: values[base]!, global: spec.global, models: spec.models });
}

/** `collect` runs after each model's read: a 16-bit tensor's bytes and conversions are garbage once decoded. */
export async function readInputs(spec: PlannedTensor, checkpoints: ReadonlyMap<string, Checkpoint>, collect?: () => void, fresh = false): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const m of spec.models) {
    const ckpt = checkpoints.get(m.model);
    if (!ckpt) throw new MergeLabError('INTERNAL', `Model "${m.model}" was planned but not opened.`);
    const name = m.source ?? spec.name;
    const info = ckpt.info(name);
    const full = await ckpt.readFloat32(name);
    const values = m.block && info ? topLeft(full, info.shape[1]!, m.block) : full;
    const stored = info?.dtype;
    if (!spec.workDtype || stored === spec.workDtype) out.push(values);
    // A fresh read is ours to round in place (the same values as a round trip through the dtype's bytes).
    else if (fresh && isHalf(spec.workDtype)) out.push(roundInPlace(spec.workDtype, values));
    else out.push(decodeToFloat32(spec.workDtype, encodeFromFloat32(spec.workDtype, values), true));
    if (stored !== 'F32' || m.block || spec.workDtype) collect?.();
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

/** Entries per block of nonFinite's first look. */
const FINITE_BLOCK = 1024;

/**
 * How many entries are NaN or ±∞. Every input and result is scanned, so a block is first summed
 * as Σ x·0, without a branch per entry: x·0 is ±0 for every finite x and NaN for ±∞ and NaN, so the
 * sum is NaN exactly when the block holds one; only such a block is counted entry by entry.
 */
export function nonFinite(a: Float32Array): number {
  let n = 0;
  for (let start = 0; start < a.length; start += FINITE_BLOCK) {
    const end = Math.min(a.length, start + FINITE_BLOCK);
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = start;
    for (; i + 3 < end; i += 4) {
      s0 += a[i]! * 0;
      s1 += a[i + 1]! * 0;
      s2 += a[i + 2]! * 0;
      s3 += a[i + 3]! * 0;
    }
    for (; i < end; i++) s0 += a[i]! * 0;
    if (s0 + s1 + s2 + s3 === 0) continue;
    // x − x is 0 for every finite x and NaN for ±∞ and NaN.
    for (let j = start; j < end; j++) {
      const v = a[j]!;
      if (v - v !== 0) n++;
    }
  }
  return n;
}

/** The first `rows` rows and `cols` columns of a row-major matrix `cols0` wide. */
function topLeft(values: Float32Array, cols0: number, [rows, cols]: readonly [number, number]): Float32Array {
  if (cols === cols0) return values.subarray(0, rows * cols);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols0, r * cols0 + cols), r * cols);
  return out;
}

export interface MergeOneOptions {
  readonly orderCache?: OrderCache;
  /** Hard limit per input per block (default: the WebGPU adapter's binding limit, else none). */
  readonly maxBlockBytes?: number;
  readonly collect?: () => void;
  /** `values` are this merge's own (see RunMergeOptions.freshReads). */
  readonly owned?: boolean;
  /** The result before λ and the base (PrepareInput.unscaled; only for a method with finishUnscaled). */
  readonly unscaled?: boolean;
}

/** mergeParts, the result in one array. */
export async function mergeOne(plan: MergePlanToRun, spec: PlannedTensor, values: Float32Array[], warn: (m: string) => void, options: MergeOneOptions = {}): Promise<Float32Array> {
  const merged = await mergeParts(plan, spec, values, warn, options);
  return 'whole' in merged ? merged.whole : assemble(merged);
}

/** A merged tensor: whole, or as its blocks in order (each an array of its own), computed as they are asked for. */
export type Merged = { readonly whole: Float32Array } | { readonly n: number; readonly collect?: () => void; parts(): AsyncGenerator<Float32Array> };

/** The blocks in one array (the collection first: the whole-tensor step's scratch goes before it). */
async function assemble(m: Exclude<Merged, { whole: Float32Array }>): Promise<Float32Array> {
  m.collect?.();
  const out = new Float32Array(m.n);
  let at = 0;
  for await (const part of m.parts()) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Passes the parts through, showing each to `see` on the way. */
async function* counted(parts: AsyncIterable<Float32Array>, see: (part: Float32Array) => void): AsyncGenerator<Float32Array> {
  for await (const part of parts) {
    see(part);
    yield part;
  }
}

/**
 * Merges one tensor: the method looks at the whole tensor once on the CPU, then the backend
 * combines it in blocks, each read back as one part of the result. Blocks never exceed
 * `maxBlockBytes` per input (a WebGPU buffer larger than the adapter's binding limit gives
 * silently wrong numbers); on wasm and cpu they are small (STREAM_BLOCK_BYTES), so the backend's
 * working memory stays a few MiB whatever the tensor. Any block size gives the same values;
 * nothing stays allocated on the backend. `collect` runs between blocks of a large tensor (and,
 * in assemble, before the whole result is allocated).
 */
export async function mergeParts(
  plan: MergePlanToRun,
  spec: PlannedTensor,
  values: Float32Array[],
  warn: (m: string) => void,
  { orderCache, maxBlockBytes = defaultBlockBytes(), collect, owned, unscaled }: MergeOneOptions,
): Promise<Merged> {
  const n = numel(spec.shape);
  // An array that two inputs share (one tensor read for two roles) is nobody's to overwrite.
  const own = (j: number) => owned === true && values.every((v, i) => i === j || v.buffer !== values[j]!.buffer);
  const input = {
    tensorName: spec.name,
    shape: spec.shape,
    models: spec.models.map((m, j) => ({ model: m.model, isBase: m.isBase, params: m.params, values: values[j]!, ...(own(j) ? { owned: true } : {}) })),
    global: spec.global,
    seed: tensorSeed(plan.randomSeed, spec.name),
    warn,
  };
  // mergekit's arithmetic in a 16-bit dtype rounds at every step: plain JavaScript over the values,
  // the same bytes whatever the backend.
  if (isHalf(spec.workDtype) && plan.math !== 'float32' && plan.method.mergeHalf && !unscaled) {
    const halfInput = { ...input, ...(collect ? { collectGarbage: collect } : {}) };
    if (!plan.method.mergeHalfParts) return { whole: plan.method.mergeHalf(halfInput, spec.workDtype) };
    const { n: total, parts } = plan.method.mergeHalfParts(halfInput, spec.workDtype);
    return {
      n: total,
      async *parts() {
        yield* parts();
      },
    };
  }
  const prepared = plan.method.prepare({ ...input, ...(orderCache ? { orderCache } : {}), ...(collect ? { collectGarbage: collect } : {}), ...(unscaled ? { unscaled } : {}) });
  const g = Math.max(1, prepared.granularity);
  if (g * 4 > maxBlockBytes && n > 0) {
    throw new MergeLabError('BUDGET_EXCEEDED', `Tensor ${spec.name} needs blocks of ${g} values (${g * 4} bytes), over the backend's ${maxBlockBytes}-byte buffer limit; merge it on wasm or cpu.`);
  }
  // Small blocks where the limit is soft; at least one unit of the method's granularity (a row).
  const preferred = Math.min(maxBlockBytes, currentBackend()?.name === 'webgpu' ? maxBlockBytes : STREAM_BLOCK_BYTES);
  const step = Math.max(g, Math.floor(preferred / 4 / g) * g);
  if (n <= step || n === 0) return { whole: await runBlock(prepared, values, 0, n) };
  return {
    n,
    ...(collect ? { collect } : {}),
    async *parts() {
      for (let start = 0, b = 1; start < n; start += step, b++) {
        yield await runBlock(prepared, values, start, Math.min(n, start + step));
        // Each block leaves a few arrays of its size behind (scales, the read-back result); v8 lets
        // tens of MiB of them gather before it collects, a share of the bound worth keeping.
        if (collect && b % BLOCKS_PER_COLLECT === 0) collect();
      }
    },
  };
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

/** The largest block per input the current backend can take: the WebGPU adapter's binding limit, else none. */
function defaultBlockBytes(): number {
  const b = currentBackend();
  if (b?.name === 'webgpu' && b.adapter) return b.adapter.maxStorageBufferBindingSize;
  return Number.POSITIVE_INFINITY;
}

/**
 * Bytes per input per block on wasm and cpu: 1 MiB. The backend holds a block of each input, the
 * kept-entry scales and a dozen intermediates at once — about 20 MiB here, where a whole-tensor
 * block held 15–20 copies of the largest tensor (wasm's heap never shrinks, and a 1.5 GiB tensor
 * did not fit in its 4 GiB at all). Per-op overhead at this size is well under 1 % on this machine.
 */
const STREAM_BLOCK_BYTES = 1 << 20;
