/** The digits file: gunzipped and parsed by the engine, then checked against the manifest. */
import { decodeDigitsCsv, gunzip, type Digits } from '../../engine/demo/dataset.js';
import type { DemoManifest } from '../../engine/demo/manifest.js';
import { MergeLabError } from '../../engine/errors.js';

/** True when `bytes` start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export async function parseDigits(bytes: Uint8Array, name: string, manifest: DemoManifest): Promise<Digits> {
  // A server that labels .gz files Content-Encoding: gzip makes fetch hand back the CSV already
  // inflated; accept both rather than fail on a server setting.
  let csv: Uint8Array;
  try {
    csv = isGzip(bytes) ? await gunzip(bytes) : bytes;
  } catch (e) {
    throw new MergeLabError('DEMO_DATA_INVALID', `${name} is not a valid gzip file (${(e as Error).message}). Restore it from the repository (data/digits/).`);
  }
  const { features, classes, maxValue, rows } = manifest.dataset;
  const digits = decodeDigitsCsv(csv, { features, classes, maxValue, name });
  if (digits.count !== rows) {
    throw new MergeLabError('DEMO_DATA_INVALID', `${name} has ${digits.count} samples but the manifest expects ${rows}; use the data that shipped with the demo.`);
  }
  return digits;
}
