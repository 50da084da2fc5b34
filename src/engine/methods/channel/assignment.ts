/**
 * Chart data for Channel Merging's assignment map: which group each task's row falls in, channel
 * by channel, for one tensor; how often two tasks share a group; and which partitions occur.
 */
import type { ChannelTensor } from './channel-merge.js';

/** Which group each task's row falls in, per channel of one tensor (chart data). */
export interface AssignmentMap {
  readonly tensor: string;
  readonly K: number;
  readonly tasks: readonly string[];
  readonly channels: number;
  /** groups[c][t]: the group of task t at channel c. */
  readonly groups: readonly (readonly number[])[];
  /** together[i][j]: the share of channels where tasks i and j are in one group. */
  readonly together: readonly (readonly number[])[];
  /** The distinct partitions (canonical labels per task) with how many channels use each, most common first. */
  readonly partitions: readonly { readonly labels: readonly number[]; readonly channels: number }[];
}

/** The assignment chart's data for one tensor. */
export function assignmentMap(tensor: ChannelTensor, tasks: readonly string[], K: number): AssignmentMap {
  const T = tasks.length;
  const C = tensor.channels;
  const groups: number[][] = [];
  const together = Array.from({ length: T }, () => new Array<number>(T).fill(0));
  const partitions = new Map<string, number>();
  for (let c = 0; c < C; c++) {
    const labels = Array.from({ length: T }, (_, t) => tensor.index[t * C + c]!);
    groups.push(labels);
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) if (labels[i] === labels[j]) together[i]![j]!++;
    const key = labels.join(',');
    partitions.set(key, (partitions.get(key) ?? 0) + 1);
  }
  return {
    tensor: tensor.name,
    K,
    tasks,
    channels: C,
    groups,
    together: together.map((row) => row.map((n) => (C ? n / C : 0))),
    partitions: [...partitions.entries()]
      .map(([k, n]) => ({ labels: k.split(',').map(Number), channels: n }))
      .sort((a, b) => b.channels - a.channels || a.labels.join(',').localeCompare(b.labels.join(','))),
  };
}
