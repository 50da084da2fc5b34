/**
 * Channel Merging at inference (spec "Channel Merging" 4): task t's weights are looked up row by
 * row through the index table, W_t[c] = G[idx[t][c]][c]. The task comes per sample from outside —
 * the true task (oracle) or a router's argmax (shared with Twin-Merging) — and accuracy is measured
 * by grouping samples by their chosen task and running each group with that task's weights.
 */
import type { LabeledSet } from '../../demo/dataset.js';
import type { TaskSets, Weights } from '../../demo/load.js';
import type { Architecture } from '../../demo/manifest.js';
import { MergeLabError } from '../../errors.js';
import { predictSets } from '../../eval/forward.js';
import { normalizedScore, type TaskAccuracies } from '../../eval/score.js';
import { argmaxTasks } from '../../router/route.js';
import type { ChannelModel, ChannelTensor } from './channel-merge.js';

/** One tensor of task t: each channel's row copied from its group. */
export function lookupTensor(m: ChannelTensor, t: number, tasks: number): Float32Array {
  if (!Number.isInteger(t) || t < 0 || t >= tasks) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Task index ${t} is outside 0..${tasks - 1} for tensor ${m.name}.`);
  const n = m.shape.reduce((a, b) => a * b, 1);
  const width = m.channels === 0 ? 0 : n / m.channels;
  const out = new Float32Array(n);
  for (let c = 0; c < m.channels; c++) {
    const g = m.index[t * m.channels + c]!;
    out.set(m.groups.subarray(g * n + c * width, g * n + (c + 1) * width), c * width);
  }
  return out;
}

/** Every tensor of task t (by index or name). */
export function taskWeights(model: ChannelModel, task: number | string): Record<string, Float32Array> {
  const t = typeof task === 'number' ? task : model.tasks.indexOf(task);
  if (t < 0) throw new MergeLabError('PARAMETER_INVALID', `Task "${task}" is not one of this Channel Merging model's tasks (${model.tasks.join(', ')}).`);
  return Object.fromEntries(model.tensors.map((m) => [m.name, lookupTensor(m, t, model.tasks.length)]));
}

/**
 * Routes per true task: routes[s][i] is the task index whose weights sample i of task s's set runs
 * with. Oracle routing is routes[s][i] = index of s.
 */
export type Routes = Readonly<Record<string, Int32Array>>;

/** The oracle: every sample runs with its own task's weights. */
export function oracleRoutes(tasks: readonly string[], sets: TaskSets): Routes {
  return Object.fromEntries(tasks.map((s, i) => [s, new Int32Array(sets[s]?.count ?? 0).fill(i)]));
}

/** A router's per-sample weights (count × T, row-major) reduced to its argmax (first maximum), the sizes checked. */
export function argmaxRoutes(weights: Float32Array, count: number, T: number): Int32Array {
  if (weights.length !== count * T) throw new MergeLabError('SHAPE_MISMATCH', `Routing weights have ${weights.length} values; ${count} samples × ${T} tasks need ${count * T}.`);
  return argmaxTasks(weights, T);
}

export interface RoutedScore {
  /** Accuracy (0..1) on each true task's set. */
  readonly accuracies: TaskAccuracies;
  /** Mean over tasks of accuracy / expert accuracy, percent (absent without expert accuracies). */
  readonly normalized?: number;
  /** Fraction of samples routed to their own task. */
  readonly routingAccuracy: number;
}

/**
 * Accuracy of `model` on `sets` with each sample run through the weights of the task its route
 * names: one forward pass per routed-to task, over all samples routed there. `tasksToScore`
 * defaults to the model's tasks (each must have a set and routes of the set's length).
 */
export async function routedAccuracy(
  arch: Architecture,
  model: ChannelModel | ((t: number) => Weights),
  sets: TaskSets,
  routes: Routes,
  expertAccuracies?: TaskAccuracies,
  tasksToScore?: readonly string[],
): Promise<RoutedScore> {
  return (await routedAccuracies(arch, model, sets, [routes], expertAccuracies, tasksToScore))[0]!;
}

/**
 * routedAccuracy for several routings of the same samples at once (the oracle's and a router's):
 * each (sample, task weights) pair any of them asks for is run once, so a router that mostly agrees
 * with the oracle costs only its disagreements. The same numbers as one call per routing: each
 * sample's logits are its own row of the same products, whatever else is in the batch.
 */
export async function routedAccuracies(
  arch: Architecture,
  model: ChannelModel | ((t: number) => Weights),
  sets: TaskSets,
  routings: readonly Routes[],
  expertAccuracies?: TaskAccuracies,
  tasksToScore: readonly string[] = typeof model === 'function' ? Object.keys(sets) : model.tasks,
): Promise<RoutedScore[]> {
  const T = typeof model === 'function' ? tasksToScore.length : model.tasks.length;
  const weightsOf = typeof model === 'function' ? model : (t: number) => taskWeights(model, t);
  const features = arch.input.height * arch.input.width;
  // wanted[t][si]: which samples of set si some routing sends to task t's weights.
  const wanted = Array.from({ length: T }, () => tasksToScore.map((s) => new Uint8Array(sets[s]?.count ?? 0)));
  for (const routes of routings) {
    for (const [si, s] of tasksToScore.entries()) {
      const set = sets[s];
      const r = routes[s];
      if (!set) throw new MergeLabError('PARAMETER_INVALID', `No data for task "${s}" to score.`);
      if (!r || r.length !== set.count) throw new MergeLabError('SHAPE_MISMATCH', `Task "${s}" has ${set.count} samples but ${r?.length ?? 0} routes; give one task index per sample.`);
      for (let i = 0; i < r.length; i++) {
        const t = r[i]!;
        if (!Number.isInteger(t) || t < 0 || t >= T) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `Route ${t} of sample ${i} of task "${s}" is outside 0..${T - 1}.`);
        wanted[t]![si]![i] = 1;
      }
    }
  }
  // right[t][si][i]: whether sample i of set si is classified right with task t's weights (if asked).
  const right = Array.from({ length: T }, () => tasksToScore.map((s) => new Uint8Array(sets[s]!.count)));
  for (let t = 0; t < T; t++) {
    const parts: { si: number; picks: number[] }[] = [];
    wanted[t]!.forEach((w, si) => {
      const picks: number[] = [];
      for (let i = 0; i < w.length; i++) if (w[i]) picks.push(i);
      if (picks.length) parts.push({ si, picks });
    });
    if (!parts.length) continue;
    const subsets: LabeledSet[] = parts.map(({ si, picks }) => subset(sets[tasksToScore[si]!]!, picks, features));
    const predictions = await predictSets(arch, weightsOf(t), subsets);
    parts.forEach(({ si, picks }, k) => {
      const labels = subsets[k]!.labels;
      const p = predictions[k]!;
      for (let j = 0; j < p.length; j++) right[t]![si]![picks[j]!] = p[j] === labels[j] ? 1 : 0;
    });
  }
  return routings.map((routes) => {
    let own = 0;
    let total = 0;
    const accuracies = Object.fromEntries(
      tasksToScore.map((s, si) => {
        const r = routes[s]!;
        let correct = 0;
        for (let i = 0; i < r.length; i++) {
          correct += right[r[i]!]![si]![i]!;
          if (r[i] === si) own++;
        }
        total += r.length;
        return [s, r.length ? correct / r.length : 0];
      }),
    );
    return {
      accuracies,
      ...(expertAccuracies ? { normalized: normalizedScore(accuracies, expertAccuracies, tasksToScore) } : {}),
      routingAccuracy: total ? own / total : 0,
    };
  });
}

function subset(set: LabeledSet, picks: readonly number[], features: number): LabeledSet {
  const inputs = new Float32Array(picks.length * features);
  const labels = new Uint8Array(picks.length);
  picks.forEach((i, k) => {
    inputs.set(set.inputs.subarray(i * features, (i + 1) * features), k * features);
    labels[k] = set.labels[i]!;
  });
  return { count: picks.length, features, inputs, labels };
}
