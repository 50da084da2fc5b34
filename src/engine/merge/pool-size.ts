/** How many workers a merge gains from, in the CLI and in the page alike. */
import type { BackendName } from '../backend.js';
import { numel } from '../io/dtypes.js';
import type { MergePlanToRun } from './run-merge.js';

/**
 * Below this many bytes of inputs (float32) a merge takes a second or two on one thread, about
 * what starting a worker costs (its own context, tfjs and backend: ~1 s of CPU here), so it stays
 * on one.
 */
export const POOL_FROM_BYTES = 256 << 20;

/**
 * One worker per core, but no more than the merge has work for beside its largest tensor (the
 * inputs' bytes over the largest tensor's, so a checkpoint that is mostly one embedding stays on
 * one worker and its memory), and 1 for a merge whose inputs are under POOL_FROM_BYTES. WebGPU
 * merges on one worker: one GPU, one device.
 */
export function autoWorkerCount(plan: Pick<MergePlanToRun, 'tensors'>, cores: number, backend: BackendName): number {
  if (backend === 'webgpu') return 1;
  const total = plan.tensors.reduce((s, t) => s + numel(t.shape) * 4 * t.models.length, 0);
  if (total < POOL_FROM_BYTES) return 1;
  const largest = Math.max(...plan.tensors.map((t) => numel(t.shape) * 4 * t.models.length));
  return Math.max(1, Math.min(Math.floor(cores), Math.floor(total / largest)));
}
