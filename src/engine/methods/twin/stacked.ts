/**
 * Every task's set of one split stacked into one batch (inputs, labels, each row's task index), and
 * per-task accuracy of logits over such a stack: what the twin's demo, lab and mixed inputs score with.
 */
import type { LabeledSet } from '../../demo/dataset.js';
import { argmaxTasks } from '../../router/route.js';

/** All tasks' sets of one split stacked: inputs, labels and each row's task index. */
export interface Stacked {
  readonly inputs: Float32Array;
  readonly labels: Uint8Array;
  readonly taskOf: Int32Array;
  readonly count: number;
}

export function stack(sets: readonly LabeledSet[]): Stacked {
  const count = sets.reduce((n, s) => n + s.count, 0);
  const features = sets[0]?.features ?? 0;
  const inputs = new Float32Array(count * features);
  const labels = new Uint8Array(count);
  const taskOf = new Int32Array(count);
  let at = 0;
  sets.forEach((s, t) => {
    inputs.set(s.inputs.subarray(0, s.count * features), at * features);
    labels.set(s.labels.subarray(0, s.count), at);
    taskOf.fill(t, at, at + s.count);
    at += s.count;
  });
  return { inputs, labels, taskOf, count };
}

/** Per-task accuracy (0..1) of logits against a stack's labels, by task index. */
export function accuraciesOf(logits: Float32Array, classes: number, data: Stacked, tasks: number): number[] {
  const predicted = argmaxTasks(logits, classes);
  const right = new Array<number>(tasks).fill(0);
  const n = new Array<number>(tasks).fill(0);
  for (let i = 0; i < data.count; i++) {
    const t = data.taskOf[i]!;
    n[t]!++;
    if (predicted[i] === data.labels[i]) right[t]!++;
  }
  return right.map((r, t) => (n[t]! > 0 ? r / n[t]! : 0));
}
