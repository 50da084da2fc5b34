/**
 * Where a transformer checkpoint's tensor sits in its model, from its name alone: a decoder
 * layer's module (q, k, v, o, gate, up, down, the two norms), or a part outside the stack
 * (embeddings, learned positions, the final norm, the LM head). Two families are read: the Llama
 * family as transformers names it (Llama, Mistral, Qwen2: `model.layers.N.self_attn.q_proj.weight`,
 * biases folded into their module) and GPT-2 (`transformer.h.N.attn.c_attn.weight` or without the
 * prefix), whose fused c_attn holds q, k and v side by side in its columns. A name neither family
 * has is "other": reported, never an error.
 */

/** A decoder layer's modules, in the order the per-layer charts draw them. */
export const LAYER_MODULES = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'attn_norm', 'mlp_norm'] as const;
export type LayerModule = (typeof LAYER_MODULES)[number];

/** Parts outside the layer stack, in drawing order; "other" holds every name neither family has. */
export const APART_PARTS = ['embeddings', 'positions', 'final_norm', 'lm_head', 'other'] as const;
export type ApartPart = (typeof APART_PARTS)[number];

export type LayerFamily = 'llama' | 'gpt2';

export type TensorPlace =
  | { readonly kind: 'layer'; readonly family: LayerFamily; readonly layer: number; readonly module: LayerModule }
  /** GPT-2's c_attn: q, k and v are its output columns, in thirds, in that order. */
  | { readonly kind: 'fused'; readonly family: 'gpt2'; readonly layer: number; readonly modules: readonly ['q', 'k', 'v'] }
  | { readonly kind: 'apart'; readonly family?: LayerFamily; readonly part: Exclude<ApartPart, 'other'> }
  | { readonly kind: 'other' };

const LLAMA_MODULES: Readonly<Record<string, LayerModule>> = {
  'self_attn.q_proj': 'q',
  'self_attn.k_proj': 'k',
  'self_attn.v_proj': 'v',
  'self_attn.o_proj': 'o',
  'mlp.gate_proj': 'gate',
  'mlp.up_proj': 'up',
  'mlp.down_proj': 'down',
  input_layernorm: 'attn_norm',
  post_attention_layernorm: 'mlp_norm',
};

/**
 * GPT-2's blocks as the Llama family's modules: attn.c_proj is the attention's output projection
 * (o); the MLP's c_fc widens (up) and its c_proj narrows back (down); ln_1 normalises before the
 * attention, ln_2 before the MLP. GPT-2 has no gate.
 */
const GPT2_MODULES: Readonly<Record<string, LayerModule>> = {
  'attn.c_proj': 'o',
  'mlp.c_fc': 'up',
  'mlp.c_proj': 'down',
  ln_1: 'attn_norm',
  ln_2: 'mlp_norm',
};

const LLAMA_LAYER = /^model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj|input_layernorm|post_attention_layernorm)\.(?:weight|bias)$/;
const GPT2_LAYER = /^(?:transformer\.)?h\.(\d+)\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj|ln_1|ln_2)\.(?:weight|bias)$/;

// A Map, not an object: a tensor may be named `__proto__`.
const LLAMA_APART: ReadonlyMap<string, Exclude<ApartPart, 'other'>> = new Map([
  ['model.embed_tokens.weight', 'embeddings'],
  ['model.norm.weight', 'final_norm'],
  ['model.norm.bias', 'final_norm'],
]);
const GPT2_APART = /^(?:transformer\.)?(wte|wpe|ln_f)\.(?:weight|bias)$/;
const GPT2_PARTS: Readonly<Record<string, Exclude<ApartPart, 'other'>>> = { wte: 'embeddings', wpe: 'positions', ln_f: 'final_norm' };

/** Where tensor `name` sits; "other" for any name neither family has (an old `rotary_emb.inv_freq`, GPT-2's `attn.bias` mask). */
export function tensorPlace(name: string): TensorPlace {
  let m = LLAMA_LAYER.exec(name);
  if (m) return { kind: 'layer', family: 'llama', layer: Number(m[1]), module: LLAMA_MODULES[m[2]!]! };
  m = GPT2_LAYER.exec(name);
  if (m) {
    const layer = Number(m[1]);
    if (m[2] === 'attn.c_attn') return { kind: 'fused', family: 'gpt2', layer, modules: ['q', 'k', 'v'] };
    return { kind: 'layer', family: 'gpt2', layer, module: GPT2_MODULES[m[2]!]! };
  }
  const llama = LLAMA_APART.get(name);
  if (llama) return { kind: 'apart', family: 'llama', part: llama };
  m = GPT2_APART.exec(name);
  if (m) return { kind: 'apart', family: 'gpt2', part: GPT2_PARTS[m[1]!]! };
  // Both families call the head lm_head (tied models store none).
  if (name === 'lm_head.weight' || name === 'lm_head.bias') return { kind: 'apart', part: 'lm_head' };
  return { kind: 'other' };
}

/**
 * The column thirds of a fused q/k/v tensor: GPT-2's Conv1D keeps its weight as [in, out], so q,
 * k and v are the output columns [0, n), [n, 2n), [2n, 3n) of every row (the bias: its thirds).
 * Undefined when the last dimension does not split in three (the tensor is then "other").
 */
export function fusedThirds(shape: readonly number[]): { readonly rows: number; readonly columns: number; readonly third: number } | undefined {
  if (shape.length < 1 || shape.length > 2) return undefined;
  const columns = shape[shape.length - 1]!;
  if (columns < 3 || columns % 3 !== 0) return undefined;
  return { rows: shape.length === 2 ? shape[0]! : 1, columns, third: columns / 3 };
}

/** Part `p` (0 q, 1 k, 2 v) of a fused tensor's values, row-major [rows, third] (a copy of the same type). */
export function fusedPart<A extends Float32Array | Float64Array>(values: A, split: { readonly rows: number; readonly columns: number; readonly third: number }, p: number): A {
  const { rows, columns, third } = split;
  if (values.length !== rows * columns) throw new RangeError(`fusedPart: ${values.length} values do not fill ${rows} × ${columns}`);
  const out = (values instanceof Float64Array ? new Float64Array(rows * third) : new Float32Array(rows * third)) as A;
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * columns + p * third, r * columns + (p + 1) * third), r * third);
  return out;
}
