/** The done merge's line in the Merge panel says how many merge workers merged, only when more than one did. */
import { describe, expect, it } from 'vitest';
import { mergedLine } from '../../src/app/format.js';

describe('mergedLine', () => {
  const r = { tensors: 210, backend: 'wasm', milliseconds: 1500, bytes: 3 * 2 ** 20 };
  it('names the merge workers of a pooled merge', () => {
    expect(mergedLine({ ...r, workers: 2 })).toBe(mergedLine(r).replace('on wasm in', 'on wasm (2 merge workers) in'));
  });
  it('says nothing of workers for the engine worker alone', () => {
    expect(mergedLine({ ...r, workers: 1 })).toBe(mergedLine(r));
    expect(mergedLine(r)).toMatch(/^Merged 210 tensors on wasm in .+: model\.safetensors, 3\.15 MB\.$/);
    expect(mergedLine(r)).not.toMatch(/worker/);
  });
});
