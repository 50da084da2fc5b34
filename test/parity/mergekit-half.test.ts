/**
 * 16-bit recipes against mergekit's real pipeline (test/fixtures/mergekit-half/): mergekit's
 * examples/*.yml and the cases of its tests/test_basic_merges.py on tiny Llama checkpoints, plus
 * fine-tune-like variants, with and without `dtype`. Our default arithmetic must give mergekit's
 * bytes, tensor for tensor; `math: float32` must not (it rounds once, so it is more precise).
 */
import { describe, expect, it } from 'vitest';
import { decodeToFloat32 } from '../../src/engine/io/dtypes.js';
import { HALF_CASES, byteDifferences, expectedTensors, mergedTensors, type WrittenTensor } from './half-fixtures.js';

const decode = (t: WrittenTensor) => decodeToFloat32(t.dtype, t.bytes);

describe('16-bit recipes: the same bytes as mergekit', () => {
  it('has the fixtures of every deterministic method in bfloat16 and float16', () => {
    expect(HALF_CASES.length).toBeGreaterThanOrEqual(20);
    for (const m of ['linear', 'task_arithmetic', 'ties', 'breadcrumbs', 'breadcrumbs_ties', 'slerp', 'model_stock']) {
      expect(HALF_CASES.some((c) => c.includes(m) || c.includes(m.replace('_', '')))).toBe(true);
    }
  });

  for (const name of HALF_CASES) {
    it(name, { timeout: 60_000 }, async () => {
      const [got, want] = await Promise.all([mergedTensors(name), expectedTensors(name)]);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      expect(byteDifferences(got, want, decode)).toEqual([]);
    });
  }

  it('math: float32 computes once in float32, which is not mergekit\'s bytes for 16-bit recipes', async () => {
    const [got, want] = await Promise.all([mergedTensors('basic_ties', (r) => `${r}\nmath: float32\n`), expectedTensors('basic_ties')]);
    const differences = byteDifferences(got, want, decode);
    // Rounding changes which entries the trim keeps: many tensors differ, by far more than an ulp.
    expect(differences.length).toBeGreaterThan(5);
    expect(differences.some((d) => Number(/max \|Δ\| (\S+)/.exec(d)?.[1]) > 1e-2)).toBe(true);
  });

  it('model_stock in float16 is refused, naming the tensor, as mergekit fails there', async () => {
    await expect(mergedTensors('basic_model_stock', (r) => r.replace('dtype: bfloat16', 'dtype: float16'))).rejects.toMatchObject({
      code: 'DTYPE_UNSUPPORTED',
      message: expect.stringMatching(/model_stock cannot run in float16 .*tensor \S+/),
    });
  });
});
