/** mergekit's per-tensor reference outputs (test/fixtures/README.md), as the parity suites read them. */
import { readFileSync } from 'node:fs';

export interface FixtureCase {
  method: string;
  tensor: string;
  shape: number[];
  base: string;
  models: { model: string; values: string; params: Record<string, number | boolean> }[];
  global: Record<string, number | boolean>;
  expected: string;
}

const load = (file: string) => (JSON.parse(readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')) as { cases: FixtureCase[] }).cases;

/**
 * Every case. The second file holds trims where equal |τ| straddle the cut in tensors of more
 * than 16 entries: there only torch's own (unstable) sort order gives mergekit's result.
 */
export const FIXTURE_CASES: readonly FixtureCase[] = [...load('mergekit-reference.json'), ...load('mergekit-reference-tie-order.json')];

/** Base64 little-endian float32, copied so the view is aligned. */
export function decodeFloat32(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
