/**
 * A recipe's model string as mergekit reads it (common.py, ModelReference): `<model>` or
 * `<model>+<lora>`, a base model with a PEFT LoRA adapter applied. Also, beyond mergekit, an
 * adapter folder named alone stands for its base (adapter_config.json's `base_model_name_or_path`)
 * with the adapter applied. Every path resolves as resolve-model.ts does.
 */
import path from 'node:path';
import { MergeLabError } from '../engine/errors.js';
import { openCheckpointPath } from '../engine/io/node-checkpoint.js';
import { isAdapterFolder, openLoraPaths, readAdapterConfig } from '../engine/io/node-lora-checkpoint.js';
import type { Checkpoint } from '../engine/io/types.js';
import { resolveModelPath } from './resolve-model.js';

export interface ModelRef {
  /** The model on disk (with an adapter: its base). */
  readonly path: string;
  /** A PEFT adapter folder to apply to it. */
  readonly adapter?: string;
}

function looked(recipeDir: string): string {
  return `looked in ${process.cwd()} and ${recipeDir}`;
}

/**
 * Where `model` points, or undefined when nothing is there (the caller says so, as before).
 * Throws PATH_NOT_FOUND for a `base+adapter` whose part is missing, RECIPE_INVALID for more than
 * one "+", LORA_NEEDS_BASE for an adapter alone whose base cannot be found, LORA_INVALID for a bad
 * adapter_config.json. A path that exists with a "+" in its name is taken whole when splitting it
 * finds nothing.
 */
export async function resolveModelRef(model: string, recipeDir: string): Promise<ModelRef | undefined> {
  const whole = resolveModelPath(model, recipeDir);
  const parts = model.split('+');
  if (parts.length > 1) {
    const [basePart, loraPart] = parts.map((p) => p.trim());
    const base = basePart ? resolveModelPath(basePart, recipeDir) : undefined;
    const lora = loraPart ? resolveModelPath(loraPart, recipeDir) : undefined;
    if (parts.length === 2 && base && lora) return { path: base, adapter: lora };
    if (whole) return { path: whole };
    if (parts.length !== 2 || !basePart || !loraPart) {
      throw new MergeLabError('RECIPE_INVALID', `Model "${model}" cannot be read: mergekit's syntax is "<model>+<lora adapter>", with one "+".`);
    }
    const missing = !base ? `the base model "${basePart}"` : `the LoRA adapter "${loraPart}"`;
    throw new MergeLabError('PATH_NOT_FOUND', `Model "${model}": ${missing} was not found (${looked(recipeDir)}). Check the path in the recipe.`);
  }
  if (!whole) return undefined;
  if (!isAdapterFolder(whole)) return { path: whole };
  const config = await readAdapterConfig(whole);
  const named = config.baseModel;
  if (!named) {
    throw new MergeLabError('LORA_NEEDS_BASE', `Model "${model}" is a LoRA adapter whose adapter_config.json names no base model; write "model: <base model>+${model}" in the recipe.`);
  }
  const base = resolveModelPath(named, recipeDir);
  if (!base) {
    throw new MergeLabError(
      'LORA_NEEDS_BASE',
      `Model "${model}" is a LoRA adapter for "${named}" (base_model_name_or_path in its adapter_config.json), which was not found (${looked(recipeDir)}); write "model: <path to that model>+${model}" in the recipe.`,
    );
  }
  if (isAdapterFolder(base)) {
    throw new MergeLabError('LORA_INVALID', `Model "${model}": its base_model_name_or_path "${named}" is itself a LoRA adapter; give the base model with "<base>+${model}".`);
  }
  return { path: base, adapter: whole };
}

/** Opens what resolveModelRef found; with an adapter, the base with the adapter applied. */
export function openModelRef(ref: ModelRef, options: { readonly loraMergeDtype?: string } = {}): Promise<Checkpoint> {
  if (!ref.adapter) return openCheckpointPath(ref.path);
  return openLoraPaths(ref.path, ref.adapter, {
    name: `${path.relative(process.cwd(), ref.path) || '.'}+${path.relative(process.cwd(), ref.adapter) || '.'}`,
    ...(options.loraMergeDtype !== undefined ? { mergeDtype: options.loraMergeDtype } : {}),
  });
}
