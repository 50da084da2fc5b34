/**
 * A language model's weights from an opened checkpoint, as float32 tfjs tensors under the names
 * lmTensorShapes gives (whatever the checkpoint's dtype: bf16 and f16 are widened on read). Only
 * the tensors the config needs are read; every one is checked by name and shape first, so a bad
 * checkpoint fails before any tensor is read.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MergeLabError } from '../errors.js';
import type { Checkpoint } from '../io/types.js';
import type { CancelToken } from '../merge/progress.js';
import { lmTensorShapes, type LmConfig } from './config.js';
import { storedNames } from './weights.js';

/** Where each needed tensor is stored in `checkpoint`; TENSOR_MISSING or SHAPE_MISMATCH naming the first bad one. */
export function planLmWeights(config: LmConfig, checkpoint: Checkpoint): Map<string, string> {
  const plan = new Map<string, string>();
  for (const [name, shape] of lmTensorShapes(config)) {
    const stored = storedNames(name).find((n) => checkpoint.info(n) !== undefined);
    if (stored === undefined) {
      throw new MergeLabError('TENSOR_MISSING', `${checkpoint.name}: tensor "${name}" is missing, which a ${config.modelType} model with this config.json needs; check that the checkpoint is complete and matches its config.json.`);
    }
    const got = checkpoint.info(stored)!.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new MergeLabError('SHAPE_MISMATCH', `${checkpoint.name}: tensor "${stored}" has shape [${got.join(', ')}] but config.json describes [${shape.join(', ')}]; the checkpoint and its config.json do not belong together.`);
    }
    plan.set(name, stored);
  }
  return plan;
}

/** Reads the tensors `config` needs; the caller disposes them (disposeLmWeights). */
export async function loadLmWeights(config: LmConfig, checkpoint: Checkpoint, options: { readonly cancel?: CancelToken } = {}): Promise<Map<string, tf.Tensor>> {
  const plan = planLmWeights(config, checkpoint);
  const shapes = lmTensorShapes(config);
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [name, stored] of plan) {
      if (options.cancel?.cancelled) throw new MergeLabError('CANCELLED', 'Loading the model was cancelled.');
      weights.set(name, tf.tensor(await checkpoint.readFloat32(stored), shapes.get(name)!, 'float32'));
    }
    return weights;
  } catch (e) {
    disposeLmWeights(weights);
    throw e;
  }
}

export function disposeLmWeights(weights: ReadonlyMap<string, tf.Tensor>): void {
  for (const t of weights.values()) t.dispose();
}
