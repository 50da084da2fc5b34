/**
 * Routing on mixed inputs: the demo's tasks are told apart perfectly, so soft routing (the
 * router's weights as they come) and hard routing (all weight on its largest) give the same
 * answers on the tasks' own inputs. A blend of two tasks' views of one digit — pixel by pixel,
 * half of task a's transform and half of task b's — belongs to neither task, which is where the
 * router's weights spread and soft and hard routing can part. Ours: the paper evaluates on each
 * task's own inputs only.
 *
 * For every pair of scored tasks with the same label shift, the blends of the test split's digits
 * (sample i of both tasks is the same digit, so the label is shared), and on them: the router's
 * mean largest weight, the weight it puts on the two tasks blended, and the twin's accuracy with
 * soft routing, with hard routing, and with half the weight on each of the two tasks; beside them
 * each of the two experts alone.
 */
import type { LabeledSet } from '../../demo/dataset.js';
import type { Weights } from '../../demo/load.js';
import type { Architecture } from '../../demo/manifest.js';
import { taskAccuracies } from '../../eval/score.js';
import { argmaxTasks, meanLargestWeight, routerLogits, routingWeights } from '../../router/route.js';
import type { RouterWeights, RoutingOptions } from '../../router/types.js';
import { accuraciesOf, type Stacked } from './stacked.js';
import { dynamicLogits, sharedFeatures } from './dynamic.js';
import type { ExclusiveKnowledge, TensorValues } from './exclusive.js';

/** Blends of two tasks' test inputs. */
export interface MixedPair {
  readonly a: string;
  readonly b: string;
  readonly set: LabeledSet;
}

/** One pair's numbers (accuracies 0..1). */
export interface MixedPairReport {
  readonly a: string;
  readonly b: string;
  readonly samples: number;
  readonly meanLargestWeight: number;
  /** Mean of w_a + w_b: how much of the weight the router puts on the two tasks blended. */
  readonly weightOnPair: number;
  readonly soft: number;
  readonly hard: number;
  /** Half the weight on a, half on b (the blend's own proportions). */
  readonly even: number;
  readonly expertA: number;
  readonly expertB: number;
}

export interface MixedReport {
  readonly pairs: readonly MixedPairReport[];
  /** Means over pairs. */
  readonly meanLargestWeight: number;
  readonly weightOnPair: number;
  readonly soft: number;
  readonly hard: number;
  readonly even: number;
  /** The better of the two experts, per pair, averaged. */
  readonly bestExpert: number;
}

/**
 * The blends of every pair of `tasks` (in order, a before b) whose test sets hold the same digits
 * with the same labels: x = (x_a + x_b) / 2.
 */
export function mixedPairs(tasks: readonly string[], sets: Readonly<Record<string, LabeledSet>>): MixedPair[] {
  const out: MixedPair[] = [];
  for (let i = 0; i < tasks.length; i++) {
    for (let j = i + 1; j < tasks.length; j++) {
      const a = sets[tasks[i]!]!;
      const b = sets[tasks[j]!]!;
      if (a.count !== b.count || a.labels.some((l, k) => l !== b.labels[k])) continue;
      const inputs = Float32Array.from(a.inputs.subarray(0, a.count * a.features), (x, k) => (x + b.inputs[k]!) / 2);
      out.push({ a: tasks[i]!, b: tasks[j]!, set: { count: a.count, features: a.features, inputs, labels: a.labels } });
    }
  }
  return out;
}

/** The twin and the router on every blend; see the file header. */
export async function mixedRouting(o: {
  readonly arch: Architecture;
  readonly shared: TensorValues;
  /** What the router's features are computed with (θ*, excluded tensors filled in); default `shared`. */
  readonly featureModel?: TensorValues;
  readonly exclusive: ExclusiveKnowledge;
  readonly router: RouterWeights;
  readonly routing?: RoutingOptions;
  /** Every routed task, in the router's order. */
  readonly tasks: readonly string[];
  readonly experts: Readonly<Record<string, Weights>>;
  readonly pairs: readonly MixedPair[];
}): Promise<MixedReport> {
  const T = o.tasks.length;
  const reports: MixedPairReport[] = [];
  for (const p of o.pairs) {
    const n = p.set.count;
    const data: Stacked = { inputs: p.set.inputs, labels: p.set.labels, taskOf: new Int32Array(n), count: n };
    const soft = routingWeights(await routerLogits(o.router, await sharedFeatures(o.arch, o.featureModel ?? o.shared, p.set.inputs, n), n), T, o.routing);
    const chosen = argmaxTasks(soft, T);
    const hard = new Float32Array(n * T);
    for (let s = 0; s < n; s++) hard[s * T + chosen[s]!] = 1;
    const ia = o.tasks.indexOf(p.a);
    const ib = o.tasks.indexOf(p.b);
    const even = new Float32Array(n * T);
    let onPair = 0;
    for (let s = 0; s < n; s++) {
      even[s * T + ia] = 0.5;
      even[s * T + ib] = 0.5;
      onPair += soft[s * T + ia]! + soft[s * T + ib]!;
    }
    // taskOf is all 0 here: accuraciesOf's first entry is the whole blend's accuracy.
    const acc = async (w: Float32Array) => accuraciesOf(await dynamicLogits(o.arch, o.shared, o.exclusive, p.set.inputs, n, w), o.arch.classes, data, 1)[0]!;
    const expert = async (t: string) => (await taskAccuracies(o.arch, o.experts[t]!, { mix: p.set }))['mix']!;
    reports.push({
      a: p.a,
      b: p.b,
      samples: n,
      meanLargestWeight: meanLargestWeight(soft, T),
      weightOnPair: n ? onPair / n : 0,
      soft: await acc(soft),
      hard: await acc(hard),
      even: await acc(even),
      expertA: await expert(p.a),
      expertB: await expert(p.b),
    });
  }
  const mean = (f: (r: MixedPairReport) => number) => (reports.length ? reports.reduce((s, r) => s + f(r), 0) / reports.length : 0);
  return {
    pairs: reports,
    meanLargestWeight: mean((r) => r.meanLargestWeight),
    weightOnPair: mean((r) => r.weightOnPair),
    soft: mean((r) => r.soft),
    hard: mean((r) => r.hard),
    even: mean((r) => r.even),
    bestExpert: mean((r) => Math.max(r.expertA, r.expertB)),
  };
}
