/**
 * Tensor names → where they sit in a transformer (layer-names.ts): the Llama family (Llama,
 * Mistral, Qwen2 with its q/k/v biases) and GPT-2 with and without the `transformer.` prefix,
 * parts outside the stack, and names neither family has (reported as "other", never an error);
 * GPT-2's fused c_attn split into its q, k, v column thirds.
 */
import { describe, expect, it } from 'vitest';
import { fusedPart, fusedThirds, tensorPlace, type TensorPlace } from '../../src/engine/diagnostics/layer-names.js';

const CASES: readonly (readonly [string, TensorPlace])[] = [
  ['model.layers.0.self_attn.q_proj.weight', { kind: 'layer', family: 'llama', layer: 0, module: 'q' }],
  ['model.layers.12.self_attn.k_proj.weight', { kind: 'layer', family: 'llama', layer: 12, module: 'k' }],
  // Qwen2's biases are folded into their module.
  ['model.layers.3.self_attn.v_proj.bias', { kind: 'layer', family: 'llama', layer: 3, module: 'v' }],
  ['model.layers.3.self_attn.o_proj.weight', { kind: 'layer', family: 'llama', layer: 3, module: 'o' }],
  ['model.layers.1.mlp.gate_proj.weight', { kind: 'layer', family: 'llama', layer: 1, module: 'gate' }],
  ['model.layers.1.mlp.up_proj.weight', { kind: 'layer', family: 'llama', layer: 1, module: 'up' }],
  ['model.layers.1.mlp.down_proj.weight', { kind: 'layer', family: 'llama', layer: 1, module: 'down' }],
  ['model.layers.2.input_layernorm.weight', { kind: 'layer', family: 'llama', layer: 2, module: 'attn_norm' }],
  ['model.layers.2.post_attention_layernorm.weight', { kind: 'layer', family: 'llama', layer: 2, module: 'mlp_norm' }],
  ['model.embed_tokens.weight', { kind: 'apart', family: 'llama', part: 'embeddings' }],
  ['model.norm.weight', { kind: 'apart', family: 'llama', part: 'final_norm' }],
  ['lm_head.weight', { kind: 'apart', part: 'lm_head' }],
  ['transformer.h.0.attn.c_attn.weight', { kind: 'fused', family: 'gpt2', layer: 0, modules: ['q', 'k', 'v'] }],
  ['h.5.attn.c_attn.bias', { kind: 'fused', family: 'gpt2', layer: 5, modules: ['q', 'k', 'v'] }],
  ['transformer.h.0.attn.c_proj.weight', { kind: 'layer', family: 'gpt2', layer: 0, module: 'o' }],
  ['h.0.mlp.c_fc.bias', { kind: 'layer', family: 'gpt2', layer: 0, module: 'up' }],
  ['transformer.h.7.mlp.c_proj.weight', { kind: 'layer', family: 'gpt2', layer: 7, module: 'down' }],
  ['h.7.ln_1.weight', { kind: 'layer', family: 'gpt2', layer: 7, module: 'attn_norm' }],
  ['transformer.h.7.ln_2.bias', { kind: 'layer', family: 'gpt2', layer: 7, module: 'mlp_norm' }],
  ['transformer.wte.weight', { kind: 'apart', family: 'gpt2', part: 'embeddings' }],
  ['wpe.weight', { kind: 'apart', family: 'gpt2', part: 'positions' }],
  ['transformer.ln_f.bias', { kind: 'apart', family: 'gpt2', part: 'final_norm' }],
  // Names neither family has.
  ['model.layers.0.self_attn.rotary_emb.inv_freq', { kind: 'other' }],
  ['model.layers.0.self_attn.q_norm.weight', { kind: 'other' }],
  ['h.0.attn.bias', { kind: 'other' }],
  ['model.layers.x.mlp.up_proj.weight', { kind: 'other' }],
  ['language_model.model.layers.0.self_attn.q_proj.weight', { kind: 'other' }],
  ['hidden.weight', { kind: 'other' }],
  ['__proto__', { kind: 'other' }],
  ['', { kind: 'other' }],
];

describe('tensorPlace', () => {
  it.each(CASES)('%s', (name, want) => {
    expect(tensorPlace(name)).toEqual(want);
  });
});

describe('fused q/k/v', () => {
  it('splits the last dimension in thirds, or not at all', () => {
    expect(fusedThirds([4, 12])).toEqual({ rows: 4, columns: 12, third: 4 });
    expect(fusedThirds([12])).toEqual({ rows: 1, columns: 12, third: 4 });
    expect(fusedThirds([4, 10])).toBeUndefined();
    expect(fusedThirds([2, 3, 3])).toBeUndefined();
    expect(fusedThirds([])).toBeUndefined();
  });

  it('takes each third of every row (Conv1D keeps [in, out])', () => {
    const values = Float32Array.from({ length: 12 }, (_, i) => i);
    const split = fusedThirds([2, 6])!;
    expect([...fusedPart(values, split, 0)]).toEqual([0, 1, 6, 7]);
    expect([...fusedPart(values, split, 1)]).toEqual([2, 3, 8, 9]);
    expect([...fusedPart(values, split, 2)]).toEqual([4, 5, 10, 11]);
    expect(fusedPart(Float64Array.from(values), split, 1)).toBeInstanceOf(Float64Array);
    expect(() => fusedPart(values, fusedThirds([3, 6])!, 0)).toThrow(RangeError);
  });
});
