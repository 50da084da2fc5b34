/**
 * Which tensors a merge writes, and from which models, when checkpoints differ, against mergekit's
 * real pipeline (test/fixtures/mergekit-tensors/): a tensor only the base has (not in the Llama
 * definition: not written), embeddings of other vocabulary sizes (a common block), tied heads; and
 * the cases where mergekit stops (a required tensor missing, a smaller vocabulary under a task-vector
 * method), where we stop too, with one error naming the tensor and model.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeToFloat32 } from '../../src/engine/io/dtypes.js';
import { TENSOR_FIXTURES, byteDifferences, expectedTensors, fixtureCases, mergedTensors, type WrittenTensor } from './half-fixtures.js';

const decode = (t: WrittenTensor) => decodeToFloat32(t.dtype, t.bytes);
const CASES = fixtureCases(TENSOR_FIXTURES);
const failing = (c: string) => existsSync(path.join(TENSOR_FIXTURES, c, 'expected-error.txt'));

/** What we must say where mergekit failed: the code, and what the message must name. */
const OUR_ERRORS: Record<string, { code: string; names: RegExp }> = {
  required_tensor_missing: { code: 'TENSOR_MISSING', names: /Model "\.\.\/models\/ft_b_lacking_up_proj" has no tensor model\.layers\.1\.mlp\.up_proj\.weight, which the LlamaForCausalLM architecture/ },
  vocab_smaller_task_arithmetic: { code: 'SHAPE_MISMATCH', names: /model\.embed_tokens\.weight of model "\.\.\/models\/ft_b_vocab_24" has shape \[24, 16\]/ },
};

describe('tensor lists and shapes as mergekit decides them', () => {
  it('has the cases', () => {
    expect(CASES).toEqual(expect.arrayContaining(['base_only_inv_freq', 'vocab_linear', 'vocab_larger_ties', 'tied_base_untied_models', 'tied_all', ...Object.keys(OUR_ERRORS)]));
    for (const c of CASES.filter(failing)) expect(Object.keys(OUR_ERRORS), `an expectation for ${c}`).toContain(c);
  });

  for (const name of CASES.filter((c) => !failing(c))) {
    it(`${name}: the same tensor names and bytes`, async () => {
      const [got, want] = await Promise.all([mergedTensors(name, undefined, TENSOR_FIXTURES), expectedTensors(name, TENSOR_FIXTURES)]);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      expect(byteDifferences(got, want, decode)).toEqual([]);
    });
  }

  for (const name of CASES.filter(failing)) {
    it(`${name}: mergekit stops (${readFileSync(path.join(TENSOR_FIXTURES, name, 'expected-error.txt'), 'utf8').trim().slice(0, 60)}…), and so do we`, async () => {
      const want = OUR_ERRORS[name]!;
      await expect(mergedTensors(name, undefined, TENSOR_FIXTURES)).rejects.toMatchObject({ code: want.code, message: expect.stringMatching(want.names) });
    });
  }
});
