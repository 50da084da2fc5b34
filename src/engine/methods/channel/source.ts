/**
 * Where Channel Merging reads a base and its T experts from, one tensor at a time: opened
 * checkpoints (dropped files, the CLI) or float32 weights already in memory (the demo). Shapes are
 * checked up front so a wrong expert is reported before any clustering, naming the tensor.
 */
import type { Weights } from '../../demo/load.js';
import { MergeLabError } from '../../errors.js';
import type { Checkpoint } from '../../io/types.js';
import { MAX_TASKS } from './cluster.js';

export interface ChannelTensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface ChannelSource {
  /** Task (expert) names in task order: row t of every index table. */
  readonly tasks: readonly string[];
  /** The base's name (sort-order cache keys, channel.json). */
  readonly baseName: string;
  readonly tensors: readonly ChannelTensorSpec[];
  /** θ0 and θt (task order) of one tensor, float32, row-major. */
  read(name: string): Promise<{ readonly base: Float32Array; readonly experts: readonly Float32Array[] }>;
}

/** Weights in memory; `shapes` lists the tensors to merge, in order. */
export function weightsSource(args: {
  readonly base: Weights;
  readonly experts: readonly Weights[];
  readonly tasks: readonly string[];
  readonly shapes: readonly ChannelTensorSpec[];
  readonly baseName?: string;
}): ChannelSource {
  checkTasks(args.tasks, args.experts.length);
  for (const s of args.shapes) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const check = (w: Weights, who: string) => {
      const v = w[s.name];
      if (!v) throw new MergeLabError('TENSOR_MISSING', `${who} has no tensor ${s.name}; Channel Merging needs it in the base and every expert.`);
      if (v.length !== n) throw new MergeLabError('SHAPE_MISMATCH', `Tensor ${s.name} of ${who} has ${v.length} values, [${s.shape.join(', ')}] needs ${n}; every expert must have the base's shapes.`);
    };
    check(args.base, 'the base');
    args.experts.forEach((e, t) => check(e, `expert "${args.tasks[t]}"`));
  }
  return {
    tasks: args.tasks,
    baseName: args.baseName ?? 'base',
    tensors: args.shapes,
    read: async (name) => ({ base: args.base[name]!, experts: args.experts.map((e) => e[name]!) }),
  };
}

/**
 * Opened checkpoints: `base` and `tasks` are keys of `checkpoints`. Every float tensor of the base
 * is merged; a tensor an expert lacks or holds in another shape is an error (Channel Merging
 * looks rows up per task, so it cannot skip an expert for one tensor as mergekit's TIES does).
 */
export function checkpointSource(checkpoints: ReadonlyMap<string, Checkpoint>, base: string, tasks: readonly string[]): ChannelSource {
  checkTasks(tasks, tasks.length);
  const get = (key: string) => {
    const c = checkpoints.get(key);
    if (!c) throw new MergeLabError('NO_CHECKPOINT', `No checkpoint "${key}" is open; Channel Merging needs the base and each expert.`);
    return c;
  };
  const b = get(base);
  const experts = tasks.map(get);
  const tensors: ChannelTensorSpec[] = [];
  for (const name of b.tensorNames) {
    const info = b.info(name)!;
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) continue;
    for (const [t, e] of experts.entries()) {
      const other = e.info(name);
      if (!other) throw new MergeLabError('TENSOR_MISSING', `Expert "${tasks[t]}" has no tensor ${name}, which the base "${base}" has; all models must share one architecture.`);
      if (other.shape.join(',') !== info.shape.join(',')) {
        throw new MergeLabError('SHAPE_MISMATCH', `Tensor ${name} of expert "${tasks[t]}" is [${other.shape.join(', ')}], the base's [${info.shape.join(', ')}]; Channel Merging needs equal shapes.`);
      }
    }
    tensors.push({ name, shape: [...info.shape] });
  }
  return {
    tasks,
    baseName: base,
    tensors,
    read: async (name) => ({ base: await b.readFloat32(name), experts: await Promise.all(experts.map((e) => e.readFloat32(name))) }),
  };
}

function checkTasks(tasks: readonly string[], experts: number): void {
  if (tasks.length !== experts) throw new MergeLabError('PARAMETER_INVALID', `Channel Merging got ${experts} experts but ${tasks.length} task names; give one name per expert.`);
  if (tasks.length < 1) throw new MergeLabError('TOO_FEW_MODELS', 'Channel Merging needs at least one expert besides the base.');
  if (tasks.length > MAX_TASKS) throw new MergeLabError('TOO_MANY_MODELS', `Channel Merging stores task indices as uint8: at most ${MAX_TASKS} experts, got ${tasks.length}.`);
  const seen = new Set<string>();
  for (const t of tasks) {
    if (seen.has(t)) throw new MergeLabError('PARAMETER_INVALID', `Task "${t}" is listed twice; Channel Merging needs one expert per task.`);
    seen.add(t);
  }
}
