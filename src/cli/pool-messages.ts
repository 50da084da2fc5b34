/** The messages between the CLI's merge pool (pool.ts) and its worker threads (pool-worker.ts). */
import type { BackendName } from '../engine/backend.js';
import type { PoolPlan } from '../engine/merge/pool.js';

export type FromHost =
  | { readonly type: 'init'; readonly plan: PoolPlan; readonly backend: BackendName }
  /** Tensor `index` of the plan; `values` are handed over. */
  | { readonly type: 'job'; readonly id: number; readonly index: number; readonly values: Float32Array[] };

export type ToHost =
  | { readonly type: 'ready' }
  | { readonly type: 'inputs'; readonly id: number; readonly nonFinite: number[] }
  | { readonly type: 'part'; readonly id: number; readonly part: Float32Array; readonly whole: boolean }
  | { readonly type: 'warning'; readonly id: number; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly outputNonFinite: number }
  /** id −1: the worker could not start. */
  | { readonly type: 'failed'; readonly id: number; readonly code: string; readonly message: string };
