/**
 * A language model's weights by their Hugging Face names, looked up with the errors a user can act
 * on: which tensor is missing or of the wrong shape. GPT-2 checkpoints come both with the
 * `transformer.` prefix (GPT2LMHeadModel) and without it (GPT2Model, the original uploads).
 *
 * Weights come as the checkpoint stores them (nn.Linear's [out, in]), or prepared for inference
 * (`prepareLmWeights`): every projection and the output head transposed once to [in, out]. tfjs'
 * wasm backend multiplies x·W fast (XNNPACK) but x·Wᵀ about ten times slower (measured here:
 * 274 ms against 30 ms for [256, 576]·[576, 1536]), so a model scored many times is prepared once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { lmTensorShapes, type LmConfig } from './config.js';

/** Tensors by the names the checkpoint stores them under. Extra tensors (GPT-2's attn.bias masks) are ignored. */
export type LmWeights = ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>;

/**
 * Weights laid out for inference: under the lmTensorShapes names, with every Llama projection
 * (q/k/v/o, gate/up/down) and lm_head.weight stored [in, out] — a tied model gets an
 * lm_head.weight of its own, the embedding transposed. Made by prepareLmWeights.
 */
export interface PreparedLmWeights {
  readonly layout: 'in-out';
  readonly tensors: ReadonlyMap<string, tf.Tensor>;
}

export type AnyLmWeights = LmWeights | PreparedLmWeights;

/** A projection's weight and whether it is already [in, out]. */
export interface Projection {
  readonly weight: tf.Tensor;
  readonly inOut: boolean;
}

export function isPrepared(weights: AnyLmWeights): weights is PreparedLmWeights {
  return !(weights instanceof Map) && (weights as Partial<PreparedLmWeights>).layout === 'in-out' && (weights as Partial<PreparedLmWeights>).tensors instanceof Map;
}

/** The tensors a prepared model stores [in, out]. */
function transposedInPrepared(name: string): boolean {
  return name === 'lm_head.weight' || /\.(q|k|v|o|gate|up|down)_proj\.weight$/.test(name);
}

function get(weights: LmWeights, name: string): tf.Tensor | undefined {
  if (weights instanceof Map) return weights.get(name);
  const record = weights as Readonly<Record<string, tf.Tensor>>;
  return Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
}

/** The names `canonical` (an lmTensorShapes name) may be stored under, in order of preference. */
export function storedNames(canonical: string): string[] {
  return canonical.startsWith('transformer.') ? [canonical, canonical.slice('transformer.'.length)] : [canonical];
}

/** Looks tensors up by their lmTensorShapes names and checks their shapes against the config. */
export class WeightLookup {
  private readonly shapes: Map<string, number[]>;
  private readonly prepared: boolean;
  private readonly weights: LmWeights;

  constructor(
    readonly config: LmConfig,
    weights: AnyLmWeights,
    /** Names the checkpoint in errors. */
    private readonly where = 'the checkpoint',
  ) {
    this.shapes = lmTensorShapes(config);
    this.prepared = isPrepared(weights);
    this.weights = isPrepared(weights) ? weights.tensors : weights;
    if (this.prepared) {
      for (const [name, shape] of this.shapes) if (transposedInPrepared(name)) this.shapes.set(name, [...shape].reverse());
      this.shapes.set('lm_head.weight', [config.hiddenSize, config.vocabSize]);
    }
  }

  /** The tensor the config expects under `name`; TENSOR_MISSING or SHAPE_MISMATCH naming it otherwise. */
  tensor(name: string): tf.Tensor {
    const expected = this.shapes.get(name);
    if (!expected) throw new MergeLabError('INTERNAL', `lm: no tensor "${name}" in a ${this.config.modelType} model`);
    for (const stored of storedNames(name)) {
      const t = get(this.weights, stored);
      if (!t) continue;
      if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
        throw new MergeLabError('SHAPE_MISMATCH', `${this.where}: tensor "${stored}" has shape [${t.shape.join(', ')}] but config.json describes [${expected.join(', ')}]; the checkpoint and its config.json do not belong together.`);
      }
      return t;
    }
    throw new MergeLabError('TENSOR_MISSING', `${this.where}: tensor "${name}" is missing, which a ${this.config.modelType} model with this config.json needs; check that the checkpoint is complete and matches its config.json.`);
  }

  /** A Llama projection (nn.Linear) weight, [out, in] as stored or [in, out] when prepared. */
  projection(name: string): Projection {
    return { weight: this.tensor(name), inOut: this.prepared };
  }

  /** The output head: [vocab, hidden] (the token embedding when tied), or [hidden, vocab] when prepared. */
  head(): Projection {
    if (this.prepared) return { weight: this.tensor('lm_head.weight'), inOut: true };
    if (!this.config.tieWordEmbeddings) return { weight: this.tensor('lm_head.weight'), inOut: false };
    return { weight: this.tensor(this.config.family === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight'), inOut: false };
  }

  /** Checks every tensor at once, so a bad checkpoint fails before any work. */
  checkAll(): void {
    for (const name of this.shapes.keys()) this.tensor(name);
  }
}

/**
 * `weights` laid out for inference (see PreparedLmWeights). The answer's tensors are new (clones
 * share their data): dispose them with disposeLmWeights(prepared.tensors); `weights` stay the caller's.
 */
export function prepareLmWeights(config: LmConfig, weights: LmWeights, where?: string): PreparedLmWeights {
  const lookup = new WeightLookup(config, weights, where);
  lookup.checkAll();
  const tensors = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    for (const name of lmTensorShapes(config).keys()) {
      const t = lookup.tensor(name);
      tensors.set(name, tf.keep(transposedInPrepared(name) ? tf.transpose(t) : tf.clone(t)));
    }
    if (!tensors.has('lm_head.weight')) tensors.set('lm_head.weight', tf.keep(tf.transpose(lookup.head().weight)));
  });
  return { layout: 'in-out', tensors };
}
