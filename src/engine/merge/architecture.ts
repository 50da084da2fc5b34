/**
 * Which tensors a merge writes, as mergekit decides it: for a model whose config.json names an
 * architecture mergekit defines, that definition's modules — each its tensors before the layers,
 * its layer templates, its tensors after them, under its weight prefix — with its layer counts
 * from config.json; for any other, the reference model's tensors (see inferModules). Tensors
 * outside a definition are not written (an old checkpoint's `rotary_emb.inv_freq`, say), as
 * mergekit leaves them out.
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
  /** Other names a model may store it under (read, and written under `name`). */
  readonly aliases?: readonly string[];
  /** Tensors to read instead when a model stores none under `name` or an alias (a head tied to the embedding). */
  readonly tiedNames?: readonly string[];
}

/** One module of an architecture (mergekit's ModuleArchitecture under its weight prefix); names include the prefix. */
export interface ModuleArchitecture {
  /** mergekit's module name: 'default' for a one-module model, else e.g. text_decoder, vision_tower. */
  readonly name: string;
  /** Tensors before the first layer (embeddings): a slices recipe takes them from its first slice. */
  readonly pre: readonly WeightSpec[];
  /** Tensors after the last layer (final norm, head): from the last slice. */
  readonly post: readonly WeightSpec[];
  /** Layer `index`'s tensors, in template order. */
  layer(index: number): readonly WeightSpec[];
  /** The config key of the layer count, dotted into nested configs (text_config.num_hidden_layers); none for a module without layers or an inferred one (counted from the tensor names). */
  readonly layersKey?: string;
}

export interface Architecture {
  /** The class name in config.json's `architectures`, e.g. LlamaForCausalLM; 'inferred' otherwise. */
  readonly name: string;
  /** In mergekit's order. */
  readonly modules: readonly ModuleArchitecture[];
  /** Every tensor of a `models:` recipe, in the order written: each module's pre, layers and post; an inferred architecture's in the reference's order. */
  readonly weights: readonly WeightSpec[];
}

const EMBED = 'model.embed_tokens.weight';
const TIED_HEAD: WeightSpec = { name: 'lm_head.weight', optional: true, isEmbed: true, tiedNames: [EMBED] };
const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `self_attn.${p}.weight`);
const MLP = ['up_proj', 'gate_proj', 'down_proj'].map((p) => `mlp.${p}.weight`);
const LLAMA_LAYER = ['input_layernorm.weight', ...ATTENTION, 'post_attention_layernorm.weight', ...MLP];

type Template = string | WeightSpec;

/** A module definition: its tensors written with `{i}` for the layer index, each name under `prefix`. */
function moduleOf(name: string, prefix: string, pre: readonly Template[], layer: readonly Template[], post: readonly Template[], layersKey?: string): ModuleArchitecture {
  const spec = (t: Template, i?: number): WeightSpec => {
    const w = typeof t === 'string' ? { name: t } : t;
    const fill = (s: string) => prefix + (i === undefined ? s : s.replaceAll('{i}', String(i)));
    return { ...w, name: fill(w.name), ...(w.aliases ? { aliases: w.aliases.map(fill) } : {}), ...(w.tiedNames ? { tiedNames: w.tiedNames.map(fill) } : {}) };
  };
  return {
    name,
    pre: pre.map((t) => spec(t)),
    post: post.map((t) => spec(t)),
    layer: (i) => layer.map((t) => spec(t, i)),
    ...(layersKey !== undefined ? { layersKey } : {}),
  };
}

/** A decoder laid out as Llama is: embedding, `model.layers.N.<layer>`, final norm, head. */
function decoder(layer: readonly Template[], head: WeightSpec | undefined = TIED_HEAD, prefix = '', name = 'default', layersKey = 'num_hidden_layers'): ModuleArchitecture {
  return moduleOf(name, prefix, [{ name: EMBED, isEmbed: true }], layer.map((w) => (typeof w === 'string' ? `model.layers.{i}.${w}` : { ...w, name: `model.layers.{i}.${w.name}` })), ['model.norm.weight', ...(head ? [head] : [])], layersKey);
}

const optional = (name: string): WeightSpec => ({ name, optional: true });

/** GPT-2 (mergekit's gpt2.json): its tensors also read without the `transformer.` prefix (a GPT2Model's). */
function gpt2(): ModuleArchitecture {
  const w = (name: string, extra: Partial<WeightSpec> = {}): WeightSpec => ({ name: `transformer.${name}`, aliases: [name], ...extra });
  const layer = ['attn.c_attn.weight', 'attn.c_attn.bias', 'attn.c_proj.weight', 'attn.c_proj.bias', 'ln_1.weight', 'ln_1.bias', 'ln_2.weight', 'ln_2.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias'];
  return moduleOf(
    'default',
    '',
    [w('wte.weight', { isEmbed: true }), w('wpe.weight')],
    layer.map((n) => w(`h.{i}.${n}`)),
    [w('ln_f.weight'), w('ln_f.bias'), { name: 'lm_head.weight', isEmbed: true, optional: true, tiedNames: ['transformer.wte.weight', 'wte.weight'] }],
    'n_layer',
  );
}

/** Mistral3ForConditionalGeneration (mergekit's mistral3.json): a Mistral text decoder, a Pixtral vision tower and the projector between them. */
function mistral3(): ModuleArchitecture[] {
  const vision = ['ffn_norm.weight', 'feed_forward.down_proj.weight', 'feed_forward.gate_proj.weight', 'feed_forward.up_proj.weight', 'attention_norm.weight', ...['k', 'o', 'q', 'v'].map((p) => `attention.${p}_proj.weight`)];
  return [
    decoder(LLAMA_LAYER, TIED_HEAD, 'language_model.', 'text_decoder', 'text_config.num_hidden_layers'),
    moduleOf('multi_modal_projector', 'multi_modal_projector.', ['linear_1.weight', 'linear_2.weight', 'norm.weight', 'patch_merger.merging_layer.weight'], [], []),
    moduleOf('vision_tower', 'vision_tower.', ['patch_conv.weight', 'ln_pre.weight'], vision.map((n) => `transformer.layers.{i}.${n}`), [], 'vision_config.num_hidden_layers'),
  ];
}

const KNOWN: Readonly<Record<string, () => ModuleArchitecture[]>> = {
  LlamaForCausalLM: () => [decoder(LLAMA_LAYER)],
  LLaMaForCausalLM: () => [decoder(LLAMA_LAYER)],
  MistralForCausalLM: () => [decoder(LLAMA_LAYER)],
  Qwen2ForCausalLM: () => [decoder([...LLAMA_LAYER, 'self_attn.q_proj.bias', 'self_attn.k_proj.bias', 'self_attn.v_proj.bias'])],
  Qwen3ForCausalLM: () => [decoder([...LLAMA_LAYER, 'self_attn.q_norm.weight', 'self_attn.k_norm.weight'])],
  GraniteForCausalLM: () => [decoder([...LLAMA_LAYER, ...['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => optional(`self_attn.${p}.bias`)), ...['gate_proj', 'up_proj', 'down_proj'].map((p) => optional(`mlp.${p}.bias`))])],
  GemmaForCausalLM: () => [decoder(LLAMA_LAYER, undefined)],
  Gemma2ForCausalLM: () => [decoder([...LLAMA_LAYER, 'pre_feedforward_layernorm.weight', 'post_feedforward_layernorm.weight'])],
  GPT2LMHeadModel: () => [gpt2()],
  Mistral3ForConditionalGeneration: mistral3,
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
  return names.map(inferredSpec);
}

function inferredSpec(name: string): WeightSpec {
  return {
    name,
    ...(INFERRED_EMBEDS.includes(name) || name in INFERRED_HEADS ? { isEmbed: true } : {}),
    ...(INFERRED_HEADS[name] ? { tiedNames: INFERRED_HEADS[name] } : {}),
  };
}

/** mergekit's layer index in an inferred architecture: the first `.N.` of a name. */
const LAYER_INDEX = /\.(\d+)\./;

/**
 * The modules mergekit infers (architecture/auto.py): one per prefix before a layer index, holding
 * that prefix's layer templates; every tensor without a layer index goes before the layers of the
 * default module (the only one when one prefix has layers), so a slices recipe takes it from its
 * first slice. A model's layer count in a module is read from its tensor names (moduleLayers).
 */
function inferModules(weights: readonly WeightSpec[]): ModuleArchitecture[] {
  // Sets, not arrays searched per tensor: an MoE checkpoint has thousands of templates under one prefix.
  const sets = new Map<string, Set<string>>();
  const loose: WeightSpec[] = [];
  for (const w of weights) {
    const m = LAYER_INDEX.exec(w.name);
    if (!m) {
      loose.push(w);
      continue;
    }
    const prefix = w.name.slice(0, m.index);
    let t = sets.get(prefix);
    if (!t) sets.set(prefix, (t = new Set()));
    t.add(w.name.replace(LAYER_INDEX, '.{i}.'));
  }
  const templates = new Map([...sets].map(([prefix, t]) => [prefix, [...t]] as const));
  const layered = (name: string, t: readonly string[], pre: readonly WeightSpec[]): ModuleArchitecture => ({
    name,
    pre,
    post: [],
    layer: (i) => t.map((n) => inferredSpec(n.replace('{i}', String(i)))),
  });
  if (templates.size <= 1) return [layered('default', [...templates.values()][0] ?? [], loose)];
  const out = [...templates].map(([prefix, t]) => layered(prefix, t, []));
  if (loose.length > 0) out.push(layered('default', [], loose));
  return out;
}

/** A dotted config key's value (text_config.num_hidden_layers), as mergekit's get_config_value reads it. */
export function configValue(config: Readonly<Record<string, unknown>> | undefined, key: string): unknown {
  let at: unknown = config;
  for (const part of key.split('.')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** The modules of the architecture config.json names, when mergekit defines it (and we do); else undefined. */
export function knownModules(config: Readonly<Record<string, unknown>> | undefined): { name: string; modules: ModuleArchitecture[] } | undefined {
  const names = Array.isArray(config?.architectures) ? (config.architectures as unknown[]) : [];
  const known = names.length === 1 && typeof names[0] === 'string' && Object.hasOwn(KNOWN, names[0]) ? KNOWN[names[0]] : undefined;
  return known ? { name: names[0] as string, modules: known() } : undefined;
}

/** A module's layer count in a model: its config's, else the most layers whose tensors the model has (none for a module without layers). */
export function moduleLayers(module: ModuleArchitecture, tensorNames: readonly string[], config?: Readonly<Record<string, unknown>>): number {
  const v = module.layersKey === undefined ? undefined : configValue(config, module.layersKey);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  const have = new Set(tensorNames);
  let n = 0;
  while (module.layer(n).some((w) => have.has(w.name) || w.aliases?.some((a) => have.has(a)))) n++;
  return n;
}

/**
 * The architecture mergekit would use: the one config.json names when it is one of those above
 * (and its layer counts are known), else the reference model's tensors (see inferWeights).
 */
export function architectureFor(
  config: Readonly<Record<string, unknown>> | undefined,
  reference: readonly string[],
  others: readonly (readonly string[])[],
): Architecture {
  const known = knownModules(config);
  if (known && known.modules.every((m) => m.layersKey === undefined || positiveInteger(configValue(config, m.layersKey)))) {
    const weights = known.modules.flatMap((m) => {
      const n = moduleLayers(m, reference, config);
      return [...m.pre, ...Array.from({ length: n }, (_, i) => m.layer(i)).flat(), ...m.post];
    });
    return { name: known.name, modules: known.modules, weights };
  }
  const weights = inferWeights(reference, others);
  return { name: 'inferred', modules: inferModules(weights), weights };
}

function positiveInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}
