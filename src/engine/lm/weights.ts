/**
 * A language model's weights by their Hugging Face names, looked up with the errors a user can act
 * on: which tensor is missing or of the wrong shape. GPT-2 checkpoints come both with the
 * `transformer.` prefix (GPT2LMHeadModel) and without it (GPT2Model, the original uploads).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import { lmTensorShapes, type LmConfig } from './config.js';

/** Tensors by the names the checkpoint stores them under. Extra tensors (GPT-2's attn.bias masks) are ignored. */
export type LmWeights = ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>;

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

  constructor(
    readonly config: LmConfig,
    private readonly weights: LmWeights,
    /** Names the checkpoint in errors. */
    private readonly where = 'the checkpoint',
  ) {
    this.shapes = lmTensorShapes(config);
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

  /** The output head [vocab, hidden]: the token embedding when tied. */
  head(): tf.Tensor {
    if (!this.config.tieWordEmbeddings) return this.tensor('lm_head.weight');
    return this.tensor(this.config.family === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight');
  }

  /** Checks every tensor at once, so a bad checkpoint fails before any work. */
  checkAll(): void {
    for (const name of this.shapes.keys()) this.tensor(name);
  }
}
