/**
 * Which tensors a merge writes, as mergekit decides it: for a model whose config.json names an
 * architecture mergekit defines, that definition's tensors (embedding, the layer templates times
 * num_hidden_layers, final norm, an optional head tied to the embedding); for any other, the
 * reference model's tensors (see inferWeights). Tensors outside a definition are not written (an
 * old checkpoint's `rotary_emb.inv_freq`, say), as mergekit leaves them out.
 *
 * The definitions below are ours, written from the tensor names the transformers classes save;
 * they list the same tensors as mergekit's architecture files for these classes.
 */
export interface WeightSpec {
  readonly name: string;
  /** Not every model has it: skipped when no model has it, else merged from the models that do. */
  readonly optional?: boolean;
  /** An embedding (or a head tied to one): vocabularies of different sizes merge on a common block. */
  readonly isEmbed?: boolean;
  /** Tensors to read instead when a model stores none under `name` (a head tied to the embedding). */
  readonly tiedNames?: readonly string[];
}

export interface Architecture {
  /** The class name in config.json's `architectures`, e.g. LlamaForCausalLM; 'inferred' otherwise. */
  readonly name: string;
  readonly weights: readonly WeightSpec[];
}

const EMBED = 'model.embed_tokens.weight';
const TIED_HEAD: WeightSpec = { name: 'lm_head.weight', optional: true, isEmbed: true, tiedNames: [EMBED] };
const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `self_attn.${p}.weight`);
const MLP = ['up_proj', 'gate_proj', 'down_proj'].map((p) => `mlp.${p}.weight`);
const LLAMA_LAYER = ['input_layernorm.weight', ...ATTENTION, 'post_attention_layernorm.weight', ...MLP];

/** A decoder laid out as Llama is: embedding, `model.layers.N.<layer>`, final norm, head. */
function decoder(layer: readonly (string | WeightSpec)[], head: WeightSpec | undefined = TIED_HEAD) {
  return (numLayers: number): WeightSpec[] => [
    { name: EMBED, isEmbed: true },
    ...Array.from({ length: numLayers }, (_, i) => layer.map((w) => (typeof w === 'string' ? { name: `model.layers.${i}.${w}` } : { ...w, name: `model.layers.${i}.${w.name}` }))).flat(),
    { name: 'model.norm.weight' },
    ...(head ? [head] : []),
  ];
}

const optional = (name: string): WeightSpec => ({ name, optional: true });

const KNOWN: Readonly<Record<string, (numLayers: number) => WeightSpec[]>> = {
  LlamaForCausalLM: decoder(LLAMA_LAYER),
  LLaMaForCausalLM: decoder(LLAMA_LAYER),
  MistralForCausalLM: decoder(LLAMA_LAYER),
  Qwen2ForCausalLM: decoder([...LLAMA_LAYER, 'self_attn.q_proj.bias', 'self_attn.k_proj.bias', 'self_attn.v_proj.bias']),
  Qwen3ForCausalLM: decoder([...LLAMA_LAYER, 'self_attn.q_norm.weight', 'self_attn.k_norm.weight']),
  GraniteForCausalLM: decoder([...LLAMA_LAYER, ...['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => optional(`self_attn.${p}.bias`)), ...['gate_proj', 'up_proj', 'down_proj'].map((p) => optional(`mlp.${p}.bias`))]),
  GemmaForCausalLM: decoder(LLAMA_LAYER, undefined),
  Gemma2ForCausalLM: decoder([...LLAMA_LAYER, 'pre_feedforward_layernorm.weight', 'post_feedforward_layernorm.weight']),
};

/** Embedding names, and heads that models with tied embeddings leave out, for architectures we infer. */
const INFERRED_EMBEDS = [EMBED, 'transformer.wte.weight', 'model.decoder.embed_tokens.weight', 'embed_tokens.weight'];
const INFERRED_HEADS: Readonly<Record<string, readonly string[]>> = { 'lm_head.weight': INFERRED_EMBEDS };

/**
 * For an architecture mergekit does not define, mergekit infers one from the models (a tensor not
 * every model has becomes optional). That inference needs transformers to build the model, which
 * cannot run beside the reference pipeline here, so it is unchecked, and we stay strict instead:
 * every model must have every tensor of the reference (the base, or the first model); a head some
 * models leave tied to their embedding is read from it, as the definitions above do.
 */
function inferWeights(reference: readonly string[], others: readonly (readonly string[])[]): WeightSpec[] {
  const names = [...reference];
  for (const head of Object.keys(INFERRED_HEADS)) if (!names.includes(head) && others.some((o) => o.includes(head))) names.push(head);
  return names.map((name) => ({
    name,
    ...(INFERRED_EMBEDS.includes(name) || name in INFERRED_HEADS ? { isEmbed: true } : {}),
    ...(INFERRED_HEADS[name] ? { tiedNames: INFERRED_HEADS[name] } : {}),
  }));
}

/**
 * The architecture mergekit would use: the one config.json names when it is one of those above
 * (and num_hidden_layers is known), else the reference model's tensors (see inferWeights).
 */
export function architectureFor(
  config: Readonly<Record<string, unknown>> | undefined,
  reference: readonly string[],
  others: readonly (readonly string[])[],
): Architecture {
  const names = Array.isArray(config?.architectures) ? (config.architectures as unknown[]) : [];
  const known = names.length === 1 && typeof names[0] === 'string' ? KNOWN[names[0]] : undefined;
  const layers = config?.num_hidden_layers;
  if (known && typeof layers === 'number' && Number.isInteger(layers) && layers > 0) return { name: names[0] as string, weights: known(layers) };
  return { name: 'inferred', weights: inferWeights(reference, others) };
}
