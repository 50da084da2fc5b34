/**
 * Twin-Merging in the language-model lab, as the worker's API takes and answers it: a request of
 * lmLab.evaluate may carry `twin` (its recipe is then the shared expert's, and every window is
 * scored with its own routed merge: services/lm-lab-twin.ts), and the answer then says how each
 * window was routed.
 */
import type { LmLabAnswer, LmLabRequest } from './engine-api.js';

/** An lmLab.evaluate request, with Twin-Merging's settings when it asks for it. */
export interface LmLabTwinRequest extends LmLabRequest {
  readonly twin?: LmLabTwin;
}

/** An lmLab.evaluate answer, with the routing when the request asked for Twin-Merging. */
export interface LmLabTwinAnswer extends LmLabAnswer {
  readonly routing?: LmLabRouting;
}

/** Twin-Merging's settings in the language-model lab. */
export interface LmLabTwin {
  /** The exclusive parts' rank: a fixed rank, or rankRatio · min(m, n) per matrix. */
  readonly rank?: number;
  readonly rankRatio?: number;
  /** softmax(logits / temperature) (default 1); topK keeps the k largest weights. */
  readonly temperature?: number;
  readonly topK?: number;
  /** Windows of a task with an expert go wholly to it (oracle routing); windows without one are still routed. */
  readonly oracle?: boolean;
  /** The router (default: the small one, seed 0). */
  readonly router?: { readonly architecture?: 'paper' | 'small'; readonly seed?: number };
  /** The router's training text of each expert, cut into windows of the context. */
  readonly training: readonly { readonly expert: string; readonly text: string }[];
  /** At most this many training windows per expert, spread over its text (default 24). */
  readonly windowsPerExpert?: number;
}

/** How Twin-Merging routed each window of an answer. */
export interface LmLabRouting {
  /** The tasks routed between: the request's experts, in order. */
  readonly experts: readonly string[];
  /** Per task of the request, each window's weights over `experts` (those it was scored with). */
  readonly tasks: readonly { readonly name: string; readonly weights: readonly (readonly number[])[] }[];
  readonly router: {
    readonly architecture: string;
    readonly epochs: number;
    readonly bestEpoch: number;
    readonly samples: { readonly training: number; readonly heldOut: number };
    /** Share of the held-out training windows whose largest weight is their expert, at the epoch kept. */
    readonly heldOutAccuracy: number | null;
  };
}
