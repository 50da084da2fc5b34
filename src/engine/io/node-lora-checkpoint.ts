/**
 * Node-only: opens a base model and a PEFT adapter folder (adapter_config.json +
 * adapter_model.safetensors) from disk as one LoRA-applied checkpoint (lora-checkpoint.ts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MergeLabError } from '../errors.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, openLoraCheckpoint, parseAdapterConfig, type LoraAdapterConfig } from './lora-checkpoint.js';
import { openCheckpointPath } from './node-checkpoint.js';
import { readJsonFile } from './node-file.js';
import type { Checkpoint } from './types.js';

/** Files that make a folder a model of its own, even if it also holds an adapter_config.json. */
const MODEL_WEIGHTS = /^(?!adapter_model\.)(.+\.safetensors|.+\.safetensors\.index\.json|pytorch_model.*\.bin)$/i;

/**
 * True when `p` is a PEFT adapter folder rather than a model: it holds adapter_config.json and no
 * model weights of its own (a folder with both is read as the model, as mergekit would).
 */
export function isAdapterFolder(p: string): boolean {
  try {
    if (!statSync(p).isDirectory() || !existsSync(path.join(p, ADAPTER_CONFIG_FILE))) return false;
    return !readdirSync(p).some((f) => MODEL_WEIGHTS.test(f));
  } catch {
    return false;
  }
}

/** adapter_config.json of the adapter folder `dir`, parsed and checked (LORA_INVALID). */
export async function readAdapterConfig(dir: string): Promise<LoraAdapterConfig> {
  const file = path.join(dir, ADAPTER_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new MergeLabError('LORA_INVALID', `${dir} is not a PEFT adapter folder: it has no readable ${ADAPTER_CONFIG_FILE}.`);
  }
  return parseAdapterConfig(text, file);
}


export interface NodeLoraOptions {
  /** mergekit's `lora_merge_dtype` (float32, float16, bfloat16). */
  readonly mergeDtype?: string;
  /** Shown in messages; default `<base>+<adapter>`. */
  readonly name?: string;
}

/**
 * Opens the model at `basePath` (anything openCheckpointPath opens) with the adapter folder
 * `adapterPath` applied. LORA_INVALID when `adapterPath` is no adapter folder, holds no
 * adapter_model.safetensors, or does not fit the base; the base's own errors otherwise.
 */
export async function openLoraPaths(basePath: string, adapterPath: string, options: NodeLoraOptions = {}): Promise<Checkpoint> {
  if (isAdapterFolder(basePath)) {
    throw new MergeLabError('LORA_INVALID', `${basePath} is itself a LoRA adapter, not a base model; give the model it was trained on before the "+".`);
  }
  const config = await readAdapterConfig(adapterPath);
  const weights = path.join(adapterPath, ADAPTER_WEIGHTS_FILE);
  const pickled = path.join(adapterPath, 'adapter_model.bin');
  // adapter_model.bin goes through openCheckpointPath, which says how pickle files are handled.
  const adapterFile = existsSync(weights) ? weights : existsSync(pickled) ? pickled : undefined;
  if (!adapterFile) throw new MergeLabError('LORA_INVALID', `${adapterPath} has ${ADAPTER_CONFIG_FILE} but no ${ADAPTER_WEIGHTS_FILE}.`);
  const base = await openCheckpointPath(basePath);
  let adapter: Checkpoint | undefined;
  try {
    adapter = await openCheckpointPath(adapterFile);
    const baseDir = statSync(basePath).isDirectory() ? basePath : path.dirname(basePath);
    const baseConfig = await readJsonFile(path.join(baseDir, 'config.json'));
    return openLoraCheckpoint(base, adapter, config, {
      name: options.name ?? `${basePath}+${adapterPath}`,
      ...(baseConfig ? { baseConfig } : {}),
      ...(options.mergeDtype !== undefined ? { mergeDtype: options.mergeDtype } : {}),
    });
  } catch (e) {
    await Promise.allSettled([base.close(), ...(adapter ? [adapter.close()] : [])]);
    throw e;
  }
}
