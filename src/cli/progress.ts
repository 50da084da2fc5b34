/**
 * The merge progress bar on stderr (tensors, bytes, rate, ETA), drawn with cli-progress so it
 * degrades to plain periodic lines when stderr is not a terminal (CI logs).
 */
import cliProgress from 'cli-progress';
import type { MergeProgress } from '../engine/merge/progress.js';
import { fmtBytes } from '../engine/routed/report.js';

/** The engine's byte formatting (its reports and the command line read alike). */
export const formatBytes = fmtBytes;

export interface ProgressBar {
  update(p: MergeProgress): void;
  stop(): void;
  /** Whether a bar is on screen (a warning then starts on a fresh line). */
  active(): boolean;
}

export function createProgressBar(enabled: boolean): ProgressBar {
  if (!enabled) return { update() {}, stop() {}, active: () => false };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'merging [{bar}] {tensor}/{tensors} tensors | {done}/{totalBytes} | {rate}/s | ETA {eta_formatted}',
      barsize: 24,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const t0 = Date.now();
  return {
    update(p) {
      const payload = {
        tensor: p.tensorIndex,
        tensors: p.tensorCount,
        done: formatBytes(p.bytesDone),
        totalBytes: formatBytes(p.bytesTotal),
        rate: formatBytes(p.bytesDone / Math.max(1e-3, (Date.now() - t0) / 1000)),
      };
      if (!started) {
        bar.start(Math.max(1, p.bytesTotal), p.bytesDone, payload);
        started = true;
      } else {
        bar.update(p.bytesDone, payload);
      }
    },
    active: () => started,
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
