/**
 * The demo's bytes, kept out of the store (which holds only descriptions): the manifest's text,
 * checkpoint blobs by file name, the digits data as downloaded and parsed. The engine client
 * (src/app/engine/) hands the raw files to the engine worker.
 */
import type { Digits } from '../../engine/demo/dataset.js';
import type { DemoManifest } from '../../engine/demo/manifest.js';
import type { HardDemoBlobs } from '../../engine/api/engine-api.js';

const blobs = new Map<string, Blob>();
let manifest: DemoManifest | undefined;
let manifestText: string | undefined;
let digits: Digits | undefined;
let digitsBlob: Blob | undefined;
let hard: HardDemoBlobs | undefined;

export const demoAssets = {
  clear(): void {
    blobs.clear();
    manifest = undefined;
    manifestText = undefined;
    digits = undefined;
    digitsBlob = undefined;
    hard = undefined;
  },
  setManifest(m: DemoManifest, text: string): void {
    manifest = m;
    manifestText = text;
  },
  /** manifest.json as downloaded (the worker parses it itself). */
  manifestText(): string | undefined {
    return manifestText;
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
  /** The parsed data and the file as downloaded (gzip, or inflated by the server's Content-Encoding). */
  setDigits(d: Digits, blob: Blob): void {
    digits = d;
    digitsBlob = blob;
  },
  digitsBlob(): Blob | undefined {
    return digitsBlob;
  },
  digits(): Digits | undefined {
    return digits;
  },
  /** Hard mode's files (manifest-hard.json and the hard experts), once fetched. */
  setHard(h: HardDemoBlobs): void {
    hard = h;
  },
  hard(): HardDemoBlobs | undefined {
    return hard;
  },
};
