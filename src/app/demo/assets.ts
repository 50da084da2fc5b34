/**
 * The demo's bytes, kept out of the store (which holds only descriptions): checkpoint blobs by
 * file name and the parsed digits. The worker issue hands these to the engine worker.
 */
import type { Digits } from '../../engine/demo/dataset.js';
import type { DemoManifest } from '../../engine/demo/manifest.js';

const blobs = new Map<string, Blob>();
let manifest: DemoManifest | undefined;
let digits: Digits | undefined;

export const demoAssets = {
  clear(): void {
    blobs.clear();
    manifest = undefined;
    digits = undefined;
  },
  setManifest(m: DemoManifest): void {
    manifest = m;
  },
  manifest(): DemoManifest | undefined {
    return manifest;
  },
  setCheckpoint(file: string, blob: Blob): void {
    blobs.set(file, blob);
  },
  /** A loaded checkpoint's bytes; undefined if it failed or is still loading. */
  checkpoint(file: string): Blob | undefined {
    return blobs.get(file);
  },
  setDigits(d: Digits): void {
    digits = d;
  },
  digits(): Digits | undefined {
    return digits;
  },
};
