/**
 * The forward pass of a transformer language model, from token ids to next-token logits, in pure
 * differentiable tfjs-core ops (so training can take tf.variableGrads of it, on every backend).
 * Llama, Mistral and Qwen2 follow transformers' modeling_llama/mistral/qwen2; GPT-2 its
 * modeling_gpt2. Each layer runs in its own tidy, so only one layer's activations are alive at a
 * time when no gradient is being recorded. (tfjs-core registers no gradients by itself: training
 * code imports '@tensorflow/tfjs-core/dist/register_all_gradients' once.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { CausalMasks, causalAttention, splitHeads } from './attention.js';
import { checkLmSequence, type Gpt2LmConfig, type LlamaLmConfig, type LmConfig } from './config.js';
import { embed } from './embedding.js';
import { conv1d, geluMlp, linear, swiGlu } from './mlp.js';
import { layerNorm, rmsNorm } from './norms.js';
import { applyRope, ropeTables } from './rope.js';
import { WeightLookup, type AnyLmWeights, type Projection } from './weights.js';

export type { AnyLmWeights, LmWeights, PreparedLmWeights } from './weights.js';

export interface LmForwardOptions {
  /** Attention takes at most this many query rows at a time (bounds the scores' buffer on a GPU). */
  readonly queryBlock?: number;
  /** Names the checkpoint in errors (default "the checkpoint"). */
  readonly where?: string;
  /** No gradient will be taken through this pass (scoring, not training): attention may then read its operands out of the backend (attention.ts). */
  readonly inference?: boolean;
}

/** Runs `step` on x in its own tidy and lets the previous x go (unless it is the caller's). */
function advance(x: tf.Tensor2D, step: (x: tf.Tensor2D) => tf.Tensor2D, keep: tf.Tensor): tf.Tensor2D {
  const next = tf.tidy(() => step(x));
  if (x !== keep) x.dispose();
  return next;
}

function* llamaHidden(config: LlamaLmConfig, w: WeightLookup, ids: tf.Tensor1D, batch: number, length: number, options: LmForwardOptions, masks: CausalMasks): Generator<void, tf.Tensor2D> {
  const { headDim, numHeads, numKvHeads, normEps } = config;
  const first = embed(w.tensor('model.embed_tokens.weight'), ids);
  const { cos, sin } = ropeTables(length, headDim, config.ropeTheta);
  const bias = (name: string, has: boolean): tf.Tensor | undefined => (has ? w.tensor(`${name}.bias`) : undefined);
  let x = first;
  try {
    for (let i = 0; i < config.numLayers; i++) {
      const p = `model.layers.${i}.`;
      x = advance(x, (x) => {
        const h = rmsNorm(x, w.tensor(`${p}input_layernorm.weight`), normEps) as tf.Tensor2D;
        const project = (name: string, heads: number): tf.Tensor4D =>
          splitHeads(linear(h, w.projection(`${p}self_attn.${name}.weight`), bias(`${p}self_attn.${name}`, config.qkvBias)), batch, length, heads, headDim);
        const q = applyRope(project('q_proj', numHeads), cos, sin);
        const k = applyRope(project('k_proj', numKvHeads), cos, sin);
        const v = project('v_proj', numKvHeads);
        const mixed = causalAttention(q, k, v, { scale: 1 / Math.sqrt(headDim), queryBlock: options.queryBlock, masks, inference: options.inference === true });
        const afterAttention = tf.add(x, linear(mixed, w.projection(`${p}self_attn.o_proj.weight`), bias(`${p}self_attn.o_proj`, config.oBias))) as tf.Tensor2D;
        const h2 = rmsNorm(afterAttention, w.tensor(`${p}post_attention_layernorm.weight`), normEps) as tf.Tensor2D;
        const mlp = (name: string) => ({ weight: w.projection(`${p}mlp.${name}.weight`), bias: bias(`${p}mlp.${name}`, config.mlpBias) });
        const [gate, up, down] = [mlp('gate_proj'), mlp('up_proj'), mlp('down_proj')];
        return tf.add(afterAttention, swiGlu(h2, { gate: gate.weight, gateBias: gate.bias, up: up.weight, upBias: up.bias, down: down.weight, downBias: down.bias }));
      }, first);
      yield;
    }
    const out = advance(x, (x) => rmsNorm(x, w.tensor('model.norm.weight'), normEps) as tf.Tensor2D, first);
    x = first;
    return out;
  } finally {
    // Stopped between layers: the last layer's output goes too.
    if (x !== first) x.dispose();
    first.dispose();
    cos.dispose();
    sin.dispose();
  }
}

function* gpt2Hidden(config: Gpt2LmConfig, w: WeightLookup, ids: tf.Tensor1D, batch: number, length: number, options: LmForwardOptions, masks: CausalMasks): Generator<void, tf.Tensor2D> {
  const { hiddenSize, numHeads, headDim, normEps } = config;
  const first = tf.tidy(() => {
    const tokens = tf.reshape(embed(w.tensor('transformer.wte.weight'), ids), [batch, length, hiddenSize]);
    const positions = tf.slice(w.tensor('transformer.wpe.weight'), [0, 0], [length, hiddenSize]);
    return tf.reshape(tf.add(tokens, positions), [batch * length, hiddenSize]) as tf.Tensor2D;
  });
  let x = first;
  try {
    for (let i = 0; i < config.numLayers; i++) {
      const p = `transformer.h.${i}.`;
      const t = (name: string) => w.tensor(`${p}${name}`);
      const scale = (config.scaleAttnWeights ? 1 / Math.sqrt(headDim) : 1) / (config.scaleAttnByInverseLayerIdx ? i + 1 : 1);
      x = advance(x, (x) => {
        const h = layerNorm(x, t('ln_1.weight'), t('ln_1.bias'), normEps) as tf.Tensor2D;
        const qkv = tf.split(conv1d(h, t('attn.c_attn.weight'), t('attn.c_attn.bias')), 3, 1) as tf.Tensor2D[];
        const [q, k, v] = qkv.map((m) => splitHeads(m, batch, length, numHeads, headDim)) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const mixed = causalAttention(q, k, v, { scale, queryBlock: options.queryBlock, masks, inference: options.inference === true });
        const afterAttention = tf.add(x, conv1d(mixed, t('attn.c_proj.weight'), t('attn.c_proj.bias'))) as tf.Tensor2D;
        const h2 = layerNorm(afterAttention, t('ln_2.weight'), t('ln_2.bias'), normEps) as tf.Tensor2D;
        const mlp = geluMlp(h2, { fc: t('mlp.c_fc.weight'), fcBias: t('mlp.c_fc.bias'), proj: t('mlp.c_proj.weight'), projBias: t('mlp.c_proj.bias') }, config.activation === 'gelu');
        return tf.add(afterAttention, mlp);
      }, first);
      yield;
    }
    const out = advance(x, (x) => layerNorm(x, w.tensor('transformer.ln_f.weight'), w.tensor('transformer.ln_f.bias'), normEps) as tf.Tensor2D, first);
    x = first;
    return out;
  } finally {
    if (x !== first) x.dispose();
    first.dispose();
  }
}

function checkTokens(config: LmConfig, tokens: tf.Tensor, where: string): [number, number] {
  if (tokens.rank !== 2 || tokens.dtype !== 'int32') {
    throw new MergeLabError('PARAMETER_INVALID', `lm: tokens must be an int32 tensor [batch, length] (got ${tokens.dtype} [${tokens.shape.join(', ')}])`);
  }
  const [batch, length] = tokens.shape as [number, number];
  if (batch === 0 || length === 0) throw new MergeLabError('PARAMETER_INVALID', 'lm: no tokens to score (an empty batch or window)');
  checkLmSequence(config, length, where);
  return [batch, length];
}

/**
 * The final hidden states (after the last norm) as rows [batch · length, hidden], for tokens
 * [batch, length]. Every window starts at position 0. Throws TENSOR_MISSING / SHAPE_MISMATCH
 * naming a tensor the config needs, PARAMETER_OUT_OF_RANGE for a window past the model's positions.
 */
export function lmHidden(config: LmConfig, weights: AnyLmWeights, tokens: tf.Tensor2D, options: LmForwardOptions = {}): tf.Tensor2D {
  const steps = lmHiddenSteps(config, weights, tokens, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * lmHidden one layer at a time: the generator stops after each layer, and its answer is lmHidden's,
 * the same ops in the same order. A caller that awaits between steps lets a worker take its
 * messages while a long pass runs; one that stops early calls return(), which frees what the pass
 * holds. The checks are made on the first next(), before any layer.
 */
export function* lmHiddenSteps(config: LmConfig, weights: AnyLmWeights, tokens: tf.Tensor2D, options: LmForwardOptions = {}): Generator<void, tf.Tensor2D> {
  const where = options.where ?? 'the checkpoint';
  const [batch, length] = checkTokens(config, tokens, where);
  const lookup = new WeightLookup(config, weights, where);
  lookup.checkAll();
  const ids = tf.reshape(tokens, [batch * length]) as tf.Tensor1D;
  const masks = new CausalMasks();
  try {
    return yield* config.family === 'gpt2' ? gpt2Hidden(config, lookup, ids, batch, length, options, masks) : llamaHidden(config, lookup, ids, batch, length, options, masks);
  } finally {
    ids.dispose();
    masks.dispose();
  }
}

/** The output head: lm_head.weight, or the token embedding when tied ([vocab, hidden]; [hidden, vocab] when prepared). */
export function lmHead(config: LmConfig, weights: AnyLmWeights, where?: string): Projection {
  return new WeightLookup(config, weights, where).head();
}

/**
 * Next-token logits [batch, length, vocab] for int32 tokens [batch, length]: logits[b, t] predicts
 * token t + 1. `weights` as the checkpoint names and stores them (or prepareLmWeights' layout).
 * Differentiable in every weight (tf.variableGrads, optimizers). For long windows or large
 * vocabularies prefer score.ts, which never holds all the logits at once.
 */
export function lmLogits(config: LmConfig, weights: AnyLmWeights, tokens: tf.Tensor2D, options: LmForwardOptions = {}): tf.Tensor3D {
  const hidden = lmHidden(config, weights, tokens, options);
  try {
    return tf.tidy(() => tf.reshape(linear(hidden, lmHead(config, weights, options.where)), [tokens.shape[0], tokens.shape[1], config.vocabSize]) as tf.Tensor3D);
  } finally {
    hidden.dispose();
  }
}
