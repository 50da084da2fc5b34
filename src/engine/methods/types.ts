/**
 * The contract every merge method implements: one file per method under src/engine/methods/,
 * each exporting a `MergeMethod`. The parameter schema is the single source for the YAML reader,
 * the CLI's --help and the UI's sliders; nothing lists parameters twice.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { MergeLabError } from '../errors.js';
import type { SparsificationKind } from './sparsify.js';
import type { HalfDType } from '../half/half-math.js';

export type ParamValue = number | boolean;

export interface ParamSpec {
  readonly name: string;
  /** 'model': may be set per model (and globally as a default); 'global': only in top-level `parameters`. */
  readonly scope: 'model' | 'global';
  readonly type: 'number' | 'integer' | 'boolean';
  /** Absent means the parameter has no default. */
  readonly default?: ParamValue;
  /** Must be given for every non-base model (mergekit's `required`). */
  readonly required?: boolean;
  /** Inclusive bounds unless the matching *Exclusive flag is set. */
  readonly min?: number;
  readonly max?: number;
  readonly minExclusive?: boolean;
  readonly maxExclusive?: boolean;
  /** A sensible slider range and step for the UI when the valid range is unbounded. */
  readonly ui?: { readonly min: number; readonly max: number; readonly step: number };
  /** One line, shown in --help and next to the slider. */
  readonly help: string;
}

/** One model's tensor as handed to a method, with its parameters already resolved for this tensor. */
export interface ModelTensor {
  /** The model's name as written in the recipe (path or id). */
  readonly model: string;
  readonly isBase: boolean;
  /** float32, same shape as the output (shape mismatches were filtered out or reported earlier). */
  readonly tensor: tf.Tensor;
  /** Per-model parameters resolved for this tensor (filters and gradients applied, defaults filled). */
  readonly params: Readonly<Record<string, ParamValue | undefined>>;
}

export interface TensorMergeInput {
  readonly tensorName: string;
  /**
   * Models in mergekit order: the recipe's `models` in order, then the base model appended at the
   * end when the recipe names it as `base_model` without listing it (as mergekit's planner does).
   */
  readonly models: readonly ModelTensor[];
  /** Global parameters resolved for this tensor, defaults filled. */
  readonly global: Readonly<Record<string, ParamValue | undefined>>;
  /** Seed for this tensor's random masks, derived from `random_seed` and the tensor name. */
  readonly seed: number;
  /** Report something the user should know (e.g. a mergekit quirk that zeroes a tensor). */
  warn(message: string): void;
  /**
   * Sort orders of task-vector magnitudes kept between merges of the same models (live
   * recompute): a density change then costs O(n) instead of a sort. Absent in one-off merges.
   */
  readonly orderCache?: OrderCache;
  /** Frees unreachable memory now: a streaming merge's whole-tensor step calls it between models (see RunMergeOptions). */
  readonly collectGarbage?: () => void;
}

/** Key → a torch sort order of some |τ|; keys name the tensor, model, base and direction. */
export interface OrderCache {
  get(key: string): Int32Array | undefined;
  set(key: string, order: Int32Array): void;
  /**
   * Offered an order it lacks, before it is computed: true when the cache will compute and keep it
   * later itself (the caller then selects without it this time). A full sort costs several times a
   * selection, so a large tensor's first answer is not held back by it.
   */
  later?(key: string, n: number, compute: () => Int32Array): boolean;
}

/** One model's whole tensor as values on the CPU, for a method's look at the whole tensor. */
export interface ModelValues {
  readonly model: string;
  readonly isBase: boolean;
  /** float32, row-major, flattened. Must not be modified, unless `owned`. */
  readonly values: Float32Array;
  /**
   * `values` was read for this merge alone and is read by nothing after it (a streaming merge's
   * fresh arrays, one buffer per model): a method may work in it, as long as its `block` then
   * reads what it left there. Saves a scratch array of the tensor's size.
   */
  readonly owned?: boolean;
  readonly params: Readonly<Record<string, ParamValue | undefined>>;
}

export interface PrepareInput extends Omit<TensorMergeInput, 'models'> {
  readonly shape: readonly number[];
  readonly models: readonly ModelValues[];
  /** Blocks answer what the result is before λ and the base (MergeMethod.finishUnscaled): only for a method that has one. */
  readonly unscaled?: boolean;
}

/**
 * A method's merge of one tensor, split in two: what needs the whole tensor (trim thresholds,
 * random masks, norms, angles) is worked out once on the CPU in `prepare`; `block` then combines
 * any range of elements with tfjs. The runner feeds ranges small enough for the backend (a GPU
 * buffer may not exceed the adapter's binding limit), and any split gives the same numbers.
 */
export interface PreparedMerge {
  /** Block boundaries must fall on multiples of this many elements (a row, for per-row methods). */
  readonly granularity: number;
  /**
   * Elements [start, end) of the result, from the same elements of each model (flat 1-D tensors,
   * in PrepareInput.models order). Synchronous and tidy: returns a new flat tensor.
   */
  block(inputs: readonly tf.Tensor[], start: number, end: number): tf.Tensor;
}

/**
 * What a method is, as the lab, the help and the planner read it (catalog.ts): no computation, so
 * the page's main thread can hold every method's descriptor without any tensor code.
 */
export interface MethodDescriptor {
  /** The mergekit name, e.g. 'ties'. */
  readonly id: string;
  /** Human name, e.g. 'TIES'. */
  readonly label: string;
  /** One or two sentences: what it computes. */
  readonly summary: string;
  /** The formula in plain text, for teaching panels. */
  readonly formula?: string;
  /** Paper or source reference. */
  readonly reference?: string;
  readonly params: readonly ParamSpec[];
  readonly base: 'required' | 'optional' | 'none';
  /** Minimum / maximum number of distinct models including the base. */
  readonly minModels: number;
  readonly maxModels?: number;
  /** How many models the method takes, in words, where minModels/maxModels alone would mislead (e.g. "exactly two models, plus an optional base_model"). */
  readonly modelCount?: string;
  /**
   * 'refuse': mergekit stacks the models' tensors as they are, without cutting embeddings of
   * different vocabulary sizes to a common block, and fails there; so does the planner.
   */
  readonly differentVocabularies?: 'refuse';
  /**
   * mergekit's result is a float32 tensor whatever dtype it computes in (a float32 tensor in its
   * arithmetic promotes the rest: arcee_fusion's mask, ramplus_tl's factors), so it writes float32
   * unless the recipe sets out_dtype — for tensors that two or more models give (one alone is
   * passed through in its own dtype).
   */
  readonly float32Result?: boolean;
  /** True when the result depends on random masks (DARE, DELLA). */
  readonly random: boolean;
  /**
   * What a model whose tensor has another shape than the base's does: 'skip' leaves it out of that
   * tensor with a warning (mergekit's task-vector methods), 'error' stops the merge (the default).
   */
  readonly shapeMismatch?: 'skip' | 'error';
  /** For the task-vector family: how τ is trimmed and whether signs are elected (diagnostics read it). */
  readonly taskVectors?: {
    readonly sparsification?: SparsificationKind;
    readonly consensus?: 'sum' | 'count';
    readonly rescaleDefault: boolean;
  };
}

/** A method with its computation (registry.ts): what the merge runner calls. */
export interface MergeMethod extends MethodDescriptor {
  /**
   * Looks at the whole tensor once (see PreparedMerge). Throws MergeLabError for a parameter
   * that cannot work on this tensor (e.g. a trim keeping 0 entries), naming the tensor.
   */
  prepare(input: PrepareInput): PreparedMerge;
  /**
   * The whole tensor merged op by op in a 16-bit dtype, each intermediate rounded as torch rounds
   * it on the CPU: mergekit's own arithmetic for a `dtype: bfloat16`/`float16` recipe (see
   * half/half-math.ts). Inputs are already values of that dtype; so is the result. Absent where
   * mergekit itself computes in float32 (slerp): the inputs are rounded, the result once.
   * What is elementwise runs in blocks of `block` elements (default half/gta-half.ts HALF_BLOCK);
   * any block size gives the same bytes.
   */
  mergeHalf?(input: PrepareInput, dtype: HalfDType, block?: number): Float32Array;
  /** mergeHalf as its blocks in order, each worked out when asked for (a streaming merge writes them as they come). */
  mergeHalfParts?(input: PrepareInput, dtype: HalfDType): { readonly n: number; parts(): Iterable<Float32Array> };
  /**
   * Merges one whole tensor given as tensors: prepare + one block. Synchronous and tidy: returns
   * a new float32 tensor the caller disposes. It reads its inputs synchronously, which WebGPU in
   * Node allows only for freshly uploaded tensors: the runner uses prepare/block instead.
   */
  mergeTensor(input: TensorMergeInput): tf.Tensor;
  /**
   * For a method whose result is base + λ·u with u independent of λ (the task-arithmetic family):
   * the result from u (prepare's blocks with `unscaled`) and the base, with the same float32 steps
   * the blocks take on the cpu and wasm backends, so the same bits. A live session keeps u and a
   * λ move costs this alone. `models` as the tensor's inputs (which is the base).
   */
  finishUnscaled?(args: { readonly unscaled: Float32Array; readonly base: Float32Array; readonly global: Readonly<Record<string, ParamValue | undefined>>; readonly models: readonly { readonly isBase: boolean }[] }): Float32Array;
  /**
   * Checks that need only shapes and resolved parameters (no data), run before any tensor is read,
   * so recipe validation can report every problem at once. Returns the problems; empty if fine.
   */
  validateTensor?(args: {
    tensorName: string;
    shape: readonly number[];
    models: readonly { model: string; isBase: boolean; params: Readonly<Record<string, ParamValue | undefined>> }[];
    global: Readonly<Record<string, ParamValue | undefined>>;
  }): MergeLabError[];
}
