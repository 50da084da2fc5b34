/**
 * Channel Merging in the language-model lab, as the worker's API takes and answers it: a request of
 * lmLab.evaluate may carry `channel` (its recipe is then not scored: every window is scored with one
 * task's looked-up rows, services/lm-lab-channel.ts), and the answer says how each window was
 * routed, as Twin-Merging's does (LmLabRouting: the router's weights; the lookup takes the largest).
 */
import type { GroupMethodSpec } from '../methods/channel/group-method.js';
import type { LmLabRequest } from './engine-api.js';

/** An lmLab.evaluate request, with Channel Merging's settings when it asks for it. */
export interface LmLabChannelRequest extends LmLabRequest {
  readonly channel?: LmLabChannel;
}

/** Channel Merging's settings in the language-model lab. */
export interface LmLabChannel {
  /** Groups per channel, 1..the number of experts. */
  readonly K: number;
  /** The within-group method (average, task_arithmetic or ties with its parameters). */
  readonly method: GroupMethodSpec;
  readonly clustering: 'kmeans' | 'average_linkage';
  /** Windows of a task with an expert look their own task up (oracle); windows without one are still routed. */
  readonly oracle?: boolean;
  /** The router (default: the small one, seed 0); it reads the base's mean final hidden state over a window. */
  readonly router?: { readonly architecture?: 'paper' | 'small'; readonly seed?: number };
  /** The router's training text of each expert, cut into windows of the context. */
  readonly training: readonly { readonly expert: string; readonly text: string }[];
  /** At most this many training windows per expert, spread over its text (default 24). */
  readonly windowsPerExpert?: number;
}
