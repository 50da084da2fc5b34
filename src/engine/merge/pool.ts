/**
 * A merge on several workers (issue 20): the host reads each tensor's inputs in plan order and hands
 * them to an idle worker; workers merge whole tensors at once, each as one worker would (the same
 * code: mergeParts), and send the result back in parts; the host writes the tensors in plan order,
 * each as its parts arrive. Reads of the next tensor, the workers' merges and the writes of earlier
 * results overlap. The bytes are those of runMerge whatever the number of workers: a tensor's merge
 * depends only on its inputs, the plan and its seed (a hash of its name), and warnings are reported
 * in plan order as runMerge reports them.
 *
 * An output that takes tensors in any order (placed-output.ts) gets each one as soon as it is merged,
 * so a worker never waits for a large tensor before it to be done; warnings and progress are still
 * reported in plan order, and a failure is the first one in plan order, as runMerge would meet it.
 *
 * Memory: every tensor from its read until its last part is written counts (models + 2) × its size
 * as float32 (its inputs, its result, one tensor's worth for the whole-tensor step), and a tensor
 * is read only while the tensors in flight leave room for it in the budget (poolBudget), or when
 * nothing else is in flight. Transport-free: the host gives the workers (Node worker_threads in the
 * CLI, src/cli/pool.ts).
 */
import { MergeLabError } from '../errors.js';
import { numel } from '../io/dtypes.js';
import type { MergeMethod } from '../methods/types.js';
import type { RecipeMath } from '../recipe/types.js';
import { throwIfCancelled } from './progress.js';
import { mergeParts, nonFinite, outputBytes, readInputs, type MergePlanToRun, type PlannedTensor, type RunMergeOptions, type TensorOutput } from './run-merge.js';

/** A merge plan as plain data (structured-clone safe): the method by its id. */
export interface PoolPlan {
  readonly methodId: string;
  readonly tensors: readonly PlannedTensor[];
  readonly randomSeed: number;
  readonly math?: RecipeMath;
}

export function toPoolPlan(plan: MergePlanToRun): PoolPlan {
  return { methodId: plan.method.id, tensors: plan.tensors, randomSeed: plan.randomSeed, ...(plan.math ? { math: plan.math } : {}) };
}

export function fromPoolPlan(p: PoolPlan, methods: readonly MergeMethod[]): MergePlanToRun {
  const method = methods.find((m) => m.id === p.methodId);
  if (!method) throw new MergeLabError('INTERNAL', `A merge worker does not know the method "${p.methodId}".`);
  return { method, tensors: p.tensors, randomSeed: p.randomSeed, ...(p.math ? { math: p.math } : {}) };
}

/** What a worker reports about one tensor while merging it, in this order. */
export interface JobEvents {
  /** Per model, how many of its input entries are NaN or ±∞. */
  inputs(nonFinite: readonly number[]): void;
  /** The next part of the result (an array of its own); `whole`: the result in one part. */
  part(part: Float32Array, whole: boolean): void;
  warning(message: string): void;
}

/** A worker as the host sees it: merges tensor `index` of its plan from `values`, which it now owns. */
export interface MergeWorker {
  /** Resolves with how many entries of the result are NaN or ±∞, once every part is reported. */
  merge(index: number, values: Float32Array[], events: JobEvents): Promise<number>;
}

/** Tensors at least this large (bytes of float32) get a collection before and after them (as runMerge). */
const COLLECT_FROM_BYTES = 16 << 20;
/** …and one every this many bytes of arrays made. */
const COLLECT_EVERY_BYTES = 64 << 20;

/**
 * The worker's side: merges the tensors it is given, one at a time, as runMerge merges each
 * (mergeParts on its freshly received, owned inputs), collecting garbage as runMerge does.
 */
export function createJobRunner(plan: MergePlanToRun, options: { readonly collectGarbage?: () => void; readonly maxBlockBytes?: number } = {}) {
  let made = 0;
  return async function run(index: number, values: Float32Array[], events: JobEvents): Promise<number> {
    const spec = plan.tensors[index];
    if (!spec) throw new MergeLabError('INTERNAL', `A merge worker was asked for tensor ${index} of a ${plan.tensors.length}-tensor plan.`);
    const bytes = numel(spec.shape) * 4;
    const collect = options.collectGarbage;
    const large = collect && bytes >= COLLECT_FROM_BYTES ? collect : undefined;
    if (collect && (large || made >= COLLECT_EVERY_BYTES)) {
      collect();
      made = 0;
    }
    made += bytes * (spec.models.length + 2);
    events.inputs(values.map(nonFinite));
    const merged = await mergeParts(plan, spec, values, (m) => events.warning(m), {
      ...(options.maxBlockBytes !== undefined ? { maxBlockBytes: options.maxBlockBytes } : {}),
      ...(large ? { collect: large } : {}),
      owned: true,
    });
    let bad = 0;
    if ('whole' in merged) {
      bad = nonFinite(merged.whole);
      events.part(merged.whole, true);
    } else {
      for await (const part of merged.parts()) {
        bad += nonFinite(part);
        events.part(part, false);
      }
    }
    if (large) {
      large();
      made = 0;
    }
    return bad;
  };
}

/** What a tensor in flight may hold: its inputs, its result, one tensor's worth for the whole-tensor step. */
export function tensorCost(t: PlannedTensor): number {
  return (t.models.length + 2) * numel(t.shape) * 4;
}

/**
 * The pool's memory for the tensor work: (models + 2) × the sum of the `workers` largest tensors
 * (as float32), so that every worker has work beside the largest tensor: runMerge's bound, plus
 * (models + 2) × the next largest tensor for each further worker.
 */
export function poolBudget(plan: { readonly tensors: readonly { readonly shape: readonly number[]; readonly models: ArrayLike<unknown> }[] }, workers: number): number {
  const sizes = plan.tensors.map((t) => numel(t.shape) * 4).sort((a, b) => b - a);
  const models = Math.max(0, ...plan.tensors.map((t) => t.models.length));
  return (models + 2) * sizes.slice(0, Math.max(1, workers)).reduce((s, b) => s + b, 0);
}

export interface RunPoolOptions extends Omit<RunMergeOptions, 'orderCache' | 'maxBlockBytes' | 'output'> {
  /**
   * Where the tensors go. One that writes them in `anyOrder` (placed-output.ts: each tensor at its
   * known place in the files) gets each tensor as soon as it is merged, several at once; any other
   * gets them in plan order, later tensors held until the ones before them are written.
   */
  readonly output: TensorOutput & { readonly anyOrder?: boolean };
  readonly workers: readonly MergeWorker[];
  /** Bytes the tensors in flight may hold together (default poolBudget). */
  readonly budgetBytes?: number;
}

/** One tensor between its read and its write. */
class Slot {
  /** Its write, started at once for an output that takes any order (else undefined until its turn). */
  writing: Promise<void> | undefined;
  readonly parts: Float32Array[] = [];
  whole = false;
  inputs: readonly number[] = [];
  readonly warnings: string[] = [];
  /** Output entries that are NaN or ±∞, once done. */
  outputBad = 0;
  done = false;
  error: unknown;
  private wake: (() => void) | undefined;

  constructor(readonly cost: number) {}

  readonly events: JobEvents = {
    inputs: (n) => void (this.inputs = n),
    part: (p, whole) => {
      this.whole = whole;
      this.parts.push(p);
      this.notify();
    },
    warning: (m) => void this.warnings.push(m),
  };

  settle(result: Promise<number>): void {
    result.then(
      (bad) => {
        this.outputBad = bad;
        this.done = true;
        this.notify();
      },
      (e: unknown) => {
        this.error = e;
        this.done = true;
        this.notify();
      },
    );
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** The parts as they come, each handed over once; throws the job's error. */
  async *drain(): AsyncGenerator<Float32Array> {
    for (;;) {
      if (this.error !== undefined) throw this.error;
      const next = this.parts.shift();
      if (next) yield next;
      else if (this.done) return;
      else await this.changed();
    }
  }

  /** Resolves once the job is done; throws its error. */
  async finished(): Promise<void> {
    while (!this.done) await this.changed();
    if (this.error !== undefined) throw this.error;
  }
}

/** Wakes whoever waits for a change (a worker freed, room in the budget, a tensor read, a failure). */
class Signal {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** runMerge on a pool of workers: the same tensors, warnings and progress, in the same order. */
export async function runMergePool(opts: RunPoolOptions): Promise<void> {
  const { plan, checkpoints, output, workers } = opts;
  if (workers.length === 0) throw new MergeLabError('INTERNAL', 'A merge pool needs at least one worker.');
  const budget = opts.budgetBytes ?? poolBudget(plan, workers.length);
  const started = Date.now();
  const bytesTotal = plan.tensors.reduce((s, t) => s + outputBytes(t), 0);
  const slots: Slot[] = [];
  const idle = [...workers];
  const signal = new Signal();
  const anyOrder = output.anyOrder === true;
  let inFlight = 0;
  let stopped = false;
  /** A tensor failed: read and start no more (the first failure in plan order is still the one reported). */
  let failing = false;
  let readError: { error: unknown } | undefined;
  /** Bytes read and written on this thread since the last collection. */
  let made = 0;
  const collect = () => {
    if (opts.collectGarbage && made >= COLLECT_EVERY_BYTES) {
      opts.collectGarbage();
      made = 0;
    }
  };

  const reader = (async () => {
    for (let i = 0; i < plan.tensors.length; i++) {
      const spec = plan.tensors[i]!;
      const cost = tensorCost(spec);
      // Room in the budget (or nothing else in flight); the reader itself keeps at most one tensor
      // read ahead of the workers, waiting for one of them to be free.
      while (!stopped && !failing && inFlight > 0 && inFlight + cost > budget) await signal.wait();
      if (stopped || failing) return;
      throwIfCancelled(opts.cancel);
      inFlight += cost;
      const slot = new Slot(cost);
      if (anyOrder) {
        // Written the moment it is merged; its room in the budget comes back once it is on disk.
        slot.writing = writeSlot(slot, spec, output, () => undefined);
        slot.writing.then(
          () => {
            inFlight -= slot.cost;
            signal.wake();
          },
          () => {
            failing = true;
            signal.wake();
          },
        );
      }
      slots[i] = slot;
      collect();
      let values: Float32Array[];
      try {
        values = await readInputs(spec, checkpoints, undefined, opts.freshReads);
      } catch (e) {
        // The writer meets the failure at this tensor, after writing the ones before it (as runMerge).
        slot.settle(Promise.reject(e));
        throw e;
      }
      made += numel(spec.shape) * 4 * values.length;
      // Inputs a checkpoint may hand out again (not fresh reads) go to the worker as copies.
      const own = opts.freshReads ? values : values.map((v) => v.slice());
      while (!stopped && idle.length === 0) await signal.wait();
      if (stopped) return;
      const worker = idle.shift()!;
      const job = worker.merge(i, own, slot.events);
      slot.settle(job);
      job.then(
        () => {
          idle.push(worker);
          signal.wake();
        },
        () => signal.wake(),
      );
      signal.wake();
    }
  })().catch((error: unknown) => {
    readError = { error };
    signal.wake();
  });

  const warned = new Set<string>();
  const warn = (m: string) => {
    if (warned.has(m)) return;
    warned.add(m);
    opts.onWarning?.(m);
  };
  try {
    let bytesDone = 0;
    for (let i = 0; i < plan.tensors.length; i++) {
      throwIfCancelled(opts.cancel);
      while (!slots[i]) {
        if (readError) throw readError.error;
        await signal.wait();
      }
      const slot = slots[i]!;
      const spec = plan.tensors[i]!;
      let warnedInputs = false;
      const reportInputs = () => {
        if (warnedInputs) return;
        warnedInputs = true;
        spec.models.forEach((m, j) => {
          const bad = slot.inputs[j] ?? 0;
          if (bad) warn(`Model "${m.model}" holds ${bad} NaN or infinite value(s) in ${spec.name}; they reach the merge as they are.`);
        });
      };
      // The method's warnings come once the tensor is merged (or failed): after its inputs', before its output's, as runMerge's.
      try {
        await (slot.writing ?? writeSlot(slot, spec, output, reportInputs));
      } finally {
        reportInputs();
        for (const m of slot.warnings) warn(m);
      }
      if (slot.outputBad) warn(`The merged ${spec.name} holds ${slot.outputBad} NaN or infinite value(s) (of ${numel(spec.shape)}); a model that loads it will compute NaNs.`);
      slots[i] = undefined as unknown as Slot;
      if (!anyOrder) inFlight -= slot.cost;
      made += numel(spec.shape) * 4;
      if (opts.collectGarbage && numel(spec.shape) * 4 >= COLLECT_FROM_BYTES) made = COLLECT_EVERY_BYTES;
      collect();
      signal.wake();
      bytesDone += outputBytes(spec);
      opts.onProgress?.({ tensorIndex: i + 1, tensorCount: plan.tensors.length, tensorName: spec.name, bytesDone, bytesTotal, elapsedMs: Date.now() - started });
    }
  } catch (e) {
    failing = true;
    throw e;
  } finally {
    stopped = true;
    signal.wake();
    await reader;
  }
}

/** Writes one tensor: its parts to the output as they arrive, or whole where the output or the result is whole. */
async function writeSlot(slot: Slot, spec: PlannedTensor, output: RunPoolOptions['output'], beforeWrite: () => void): Promise<void> {
  if (!output.writeTensorParts) {
    await slot.finished();
    beforeWrite();
    await output.writeTensor(spec.name, concat(slot.parts.splice(0), numel(spec.shape)));
    return;
  }
  // The first part says whether the result is whole (runMerge writes a whole result with writeTensor).
  const parts = slot.drain();
  const first = await parts.next();
  beforeWrite();
  if (first.done) {
    await output.writeTensor(spec.name, new Float32Array(0));
    return;
  }
  if (slot.whole) {
    await slot.finished();
    await output.writeTensor(spec.name, first.value);
    return;
  }
  await output.writeTensorParts(
    spec.name,
    (async function* () {
      yield first.value;
      yield* parts;
    })(),
  );
  await slot.finished();
}

function concat(parts: readonly Float32Array[], n: number): Float32Array {
  if (parts.length === 1 && parts[0]!.length === n) return parts[0]!;
  const out = new Float32Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
