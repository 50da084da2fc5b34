/**
 * A transformer language model's shape, read from its Hugging Face `config.json`: the Llama family
 * (model_type llama, mistral, qwen2) and GPT-2. Whatever the forward does not implement (a rope
 * scaling, a sliding window, another activation) is refused here, naming the field, rather than
 * scored wrongly. `lmTensorShapes` lists the tensors a checkpoint of that shape holds, under the
 * names transformers saves them with.
 */
import { MergeLabError } from '../errors.js';

interface LmConfigBase {
  /** config.json's model_type. */
  readonly modelType: 'llama' | 'mistral' | 'qwen2' | 'gpt2';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  /** The longest sequence the model was built for (max_position_embeddings, GPT-2's n_positions). */
  readonly maxPositions: number;
  readonly normEps: number;
  /** The output head is the token embedding's transpose (no lm_head.weight in the checkpoint). */
  readonly tieWordEmbeddings: boolean;
}

/** Llama, Mistral and Qwen2: RMSNorm, RoPE, grouped-query attention, SwiGLU. */
export interface LlamaLmConfig extends LmConfigBase {
  readonly family: 'llama';
  readonly modelType: 'llama' | 'mistral' | 'qwen2';
  readonly numKvHeads: number;
  readonly ropeTheta: number;
  /** q_proj, k_proj and v_proj carry biases (Qwen2 always; Llama's attention_bias). */
  readonly qkvBias: boolean;
  /** o_proj carries a bias (Llama's attention_bias; never Qwen2 or Mistral). */
  readonly oBias: boolean;
  /** gate_proj, up_proj and down_proj carry biases (Llama's mlp_bias). */
  readonly mlpBias: boolean;
  /**
   * Keys further back than this many positions are not attended to (Mistral's sliding_window,
   * Qwen2's with use_sliding_window); null when attention is full. The forward implements full
   * attention only, so sequences longer than this are refused (`checkLmSequence`).
   */
  readonly slidingWindow: number | null;
}

/** GPT-2: LayerNorm, learned positions, gelu_new, Conv1D weights stored [in, out]. */
export interface Gpt2LmConfig extends LmConfigBase {
  readonly family: 'gpt2';
  readonly modelType: 'gpt2';
  readonly activation: 'gelu_new' | 'gelu';
  /** Scores divided by √head_dim (scale_attn_weights, on by default). */
  readonly scaleAttnWeights: boolean;
  /** Layer i's scores also divided by i + 1 (scale_attn_by_inverse_layer_idx). */
  readonly scaleAttnByInverseLayerIdx: boolean;
}

export type LmConfig = LlamaLmConfig | Gpt2LmConfig;

export const LM_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'gpt2'] as const;

/** Reads config.json's fields with errors that name `where` and the field. */
class Fields {
  constructor(
    private readonly json: Record<string, unknown>,
    private readonly where: string,
  ) {}

  fail(field: string, problem: string): never {
    throw new MergeLabError('LM_CONFIG_INVALID', `${this.where}: field "${field}" ${problem}; fix config.json (it should be the one transformers saved with the checkpoint).`);
  }

  unsupported(field: string, problem: string): never {
    throw new MergeLabError('LM_UNSUPPORTED', `${this.where}: ${problem} (field "${field}"); merge-lab evaluates full-attention models with plain RoPE only, so this checkpoint cannot be scored.`);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  raw(field: string): unknown {
    return this.json[field];
  }

  int(field: string, fallback?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, 'is missing');
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) this.fail(field, `must be a positive integer (got ${JSON.stringify(v)})`);
    return v;
  }

  positive(field: string, fallback?: number): number {
    const v = this.json[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(field, 'is missing');
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(field, `must be a positive number (got ${JSON.stringify(v)})`);
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(field, `must be true or false (got ${JSON.stringify(v)})`);
    return v;
  }

  string(field: string, fallback: string): string {
    const v = this.json[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') this.fail(field, `must be a string (got ${JSON.stringify(v)})`);
    return v;
  }
}

/**
 * RoPE's base, from transformers 5's `rope_parameters` or the older top-level `rope_theta` and
 * `rope_scaling`. Only the plain ('default') rotation is implemented: a scaled one (linear,
 * dynamic, yarn, llama3, …) changes the frequencies and would score the model wrongly.
 */
function readRope(f: Fields): number {
  let theta = f.positive('rope_theta', 10000);
  const params = f.raw('rope_parameters');
  if (params !== undefined && params !== null) {
    if (typeof params !== 'object' || Array.isArray(params)) f.fail('rope_parameters', 'must be an object');
    const p = params as Record<string, unknown>;
    const kind = p.rope_type ?? p.type ?? 'default';
    if (kind !== 'default') f.unsupported('rope_parameters.rope_type', `RoPE scaling "${String(kind)}" is not supported`);
    if (p.rope_theta !== undefined) {
      if (typeof p.rope_theta !== 'number' || !(p.rope_theta > 0)) f.fail('rope_parameters.rope_theta', `must be a positive number (got ${JSON.stringify(p.rope_theta)})`);
      theta = p.rope_theta;
    }
  }
  const scaling = f.raw('rope_scaling');
  if (scaling !== undefined && scaling !== null) {
    if (typeof scaling !== 'object' || Array.isArray(scaling)) f.fail('rope_scaling', 'must be an object or null');
    const s = scaling as Record<string, unknown>;
    const kind = s.rope_type ?? s.type ?? 'default';
    if (kind !== 'default') f.unsupported('rope_scaling', `RoPE scaling "${String(kind)}" is not supported`);
  }
  if (f.has('partial_rotary_factor') && f.raw('partial_rotary_factor') !== 1) {
    f.unsupported('partial_rotary_factor', 'a partial rotary embedding is not supported');
  }
  return theta;
}

function readSlidingWindow(f: Fields, modelType: LlamaLmConfig['modelType']): number | null {
  if (modelType === 'llama') return null;
  // Qwen2 slides only with use_sliding_window; Mistral whenever sliding_window is set.
  if (modelType === 'qwen2' && !f.bool('use_sliding_window', false)) return null;
  if (!f.has('sliding_window')) return null;
  return f.int('sliding_window');
}

function readLlama(f: Fields, modelType: LlamaLmConfig['modelType']): LlamaLmConfig {
  const hiddenSize = f.int('hidden_size');
  const numHeads = f.int('num_attention_heads');
  const numKvHeads = f.int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) f.fail('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  if (!f.has('head_dim') && hiddenSize % numHeads !== 0) f.fail('num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize}) when head_dim is not given`);
  const headDim = f.int('head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0) f.fail('head_dim', `must be even for RoPE (got ${headDim})`);
  const act = f.string('hidden_act', 'silu');
  if (act !== 'silu') f.unsupported('hidden_act', `activation "${act}" is not supported (only "silu", SwiGLU)`);
  const attentionBias = f.bool('attention_bias', false);
  return {
    family: 'llama',
    modelType,
    vocabSize: f.int('vocab_size'),
    hiddenSize,
    intermediateSize: f.int('intermediate_size'),
    numLayers: f.int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositions: f.int('max_position_embeddings'),
    normEps: f.positive('rms_norm_eps', 1e-6),
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    ropeTheta: readRope(f),
    // Qwen2's q/k/v projections always carry biases and its o_proj never does (modeling_qwen2.py).
    qkvBias: modelType === 'qwen2' ? true : modelType === 'llama' && attentionBias,
    oBias: modelType === 'llama' && attentionBias,
    mlpBias: modelType === 'llama' && f.bool('mlp_bias', false),
    slidingWindow: readSlidingWindow(f, modelType),
  };
}

function readGpt2(f: Fields): Gpt2LmConfig {
  const hiddenSize = f.int('n_embd');
  const numHeads = f.int('n_head');
  if (hiddenSize % numHeads !== 0) f.fail('n_head', `(${numHeads}) must divide n_embd (${hiddenSize})`);
  const act = f.string('activation_function', 'gelu_new');
  // gelu_pytorch_tanh is the same tanh approximation as gelu_new.
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh' && act !== 'gelu') f.unsupported('activation_function', `activation "${act}" is not supported (only gelu_new, gelu_pytorch_tanh and gelu)`);
  return {
    family: 'gpt2',
    modelType: 'gpt2',
    vocabSize: f.int('vocab_size'),
    hiddenSize,
    intermediateSize: f.int('n_inner', 4 * hiddenSize),
    numLayers: f.int('n_layer'),
    numHeads,
    headDim: hiddenSize / numHeads,
    maxPositions: f.int('n_positions'),
    normEps: f.positive('layer_norm_epsilon', 1e-5),
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    activation: act === 'gelu' ? 'gelu' : 'gelu_new',
    scaleAttnWeights: f.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: f.bool('scale_attn_by_inverse_layer_idx', false),
  };
}

/**
 * The model shape `json` (a parsed config.json) describes. `where` names the file in errors.
 * Throws LM_CONFIG_INVALID for a malformed or missing field and LM_UNSUPPORTED for a model
 * merge-lab cannot score (another model_type, a rope scaling, another activation).
 */
export function readLmConfig(json: unknown, where: string): LmConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new MergeLabError('LM_CONFIG_INVALID', `${where}: a model's config.json must hold a JSON object; give the config.json transformers saved with the checkpoint.`);
  }
  const f = new Fields(json as Record<string, unknown>, where);
  const modelType = (json as Record<string, unknown>).model_type;
  if (typeof modelType !== 'string') f.fail('model_type', `is missing; it must be one of ${LM_MODEL_TYPES.join(', ')}`);
  switch (modelType) {
    case 'llama':
    case 'mistral':
    case 'qwen2':
      return readLlama(f, modelType);
    case 'gpt2':
      return readGpt2(f);
    default:
      throw new MergeLabError('LM_UNSUPPORTED', `${where}: model_type "${modelType}" is not supported; merge-lab scores ${LM_MODEL_TYPES.join(', ')} language models.`);
  }
}

/**
 * Refuses a sequence the forward cannot score as the model would: longer than its positions, or
 * than a sliding window (within the window, sliding and full attention agree).
 */
export function checkLmSequence(config: LmConfig, length: number, where: string): void {
  if (length > config.maxPositions) {
    const field = config.family === 'gpt2' ? 'n_positions' : 'max_position_embeddings';
    throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `${where}: a context of ${length} tokens is longer than the model's ${field} (${config.maxPositions}); choose a context of at most ${config.maxPositions}.`);
  }
  if (config.family === 'llama' && config.slidingWindow !== null && length > config.slidingWindow) {
    throw new MergeLabError('LM_UNSUPPORTED', `${where}: a context of ${length} tokens is longer than the model's sliding_window (${config.slidingWindow}), which merge-lab does not implement; choose a context of at most ${config.slidingWindow}.`);
  }
}

/**
 * Every tensor a checkpoint of `config` holds, with its shape, under the names transformers'
 * save_pretrained writes (GPT-2's with the `transformer.` prefix). Weights are [out, in] for the
 * Llama family (nn.Linear) and [in, out] for GPT-2 (Conv1D). A tied model has no lm_head.weight.
 */
export function lmTensorShapes(config: LmConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const { hiddenSize: h, intermediateSize: inner, vocabSize: v } = config;
  if (config.family === 'gpt2') {
    shapes.set('transformer.wte.weight', [v, h]);
    shapes.set('transformer.wpe.weight', [config.maxPositions, h]);
    for (let i = 0; i < config.numLayers; i++) {
      const p = `transformer.h.${i}.`;
      shapes.set(`${p}ln_1.weight`, [h]);
      shapes.set(`${p}ln_1.bias`, [h]);
      shapes.set(`${p}attn.c_attn.weight`, [h, 3 * h]);
      shapes.set(`${p}attn.c_attn.bias`, [3 * h]);
      shapes.set(`${p}attn.c_proj.weight`, [h, h]);
      shapes.set(`${p}attn.c_proj.bias`, [h]);
      shapes.set(`${p}ln_2.weight`, [h]);
      shapes.set(`${p}ln_2.bias`, [h]);
      shapes.set(`${p}mlp.c_fc.weight`, [h, inner]);
      shapes.set(`${p}mlp.c_fc.bias`, [inner]);
      shapes.set(`${p}mlp.c_proj.weight`, [inner, h]);
      shapes.set(`${p}mlp.c_proj.bias`, [h]);
    }
    shapes.set('transformer.ln_f.weight', [h]);
    shapes.set('transformer.ln_f.bias', [h]);
    if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [v, h]);
    return shapes;
  }
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  shapes.set('model.embed_tokens.weight', [v, h]);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}input_layernorm.weight`, [h]);
    const proj = (name: string, out: number, inp: number, bias: boolean): void => {
      shapes.set(`${p}${name}.weight`, [out, inp]);
      if (bias) shapes.set(`${p}${name}.bias`, [out]);
    };
    proj('self_attn.q_proj', q, h, config.qkvBias);
    proj('self_attn.k_proj', kv, h, config.qkvBias);
    proj('self_attn.v_proj', kv, h, config.qkvBias);
    proj('self_attn.o_proj', h, q, config.oBias);
    shapes.set(`${p}post_attention_layernorm.weight`, [h]);
    proj('mlp.gate_proj', inner, h, config.mlpBias);
    proj('mlp.up_proj', inner, h, config.mlpBias);
    proj('mlp.down_proj', h, inner, config.mlpBias);
  }
  shapes.set('model.norm.weight', [h]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [v, h]);
  return shapes;
}
