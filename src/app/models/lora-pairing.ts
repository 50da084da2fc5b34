/**
 * Pairs a dropped PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) with
 * the base model it is applied to, as mergekit's `base+adapter`: the pair becomes one model whose
 * files are the base's under `<base>/` and the adapter's under `<adapter>/` (the engine applies
 * the adapter on load: src/engine/io/lora-files.ts). The base is a model dropped together with the
 * adapter, or else the list's base model. An adapter with no base to pair is passed on alone; the
 * engine then says, on its row, what to drop.
 */
import type { DroppedGroup } from '../store/types.js';

const ADAPTER_CONFIG = 'adapter_config.json';

/** A dropped folder that holds a LoRA adapter at its top level. */
export function isAdapterGroup(g: DroppedGroup): boolean {
  return g.files.some((f) => f.path === ADAPTER_CONFIG);
}

/** A model's files, paths relative to its folder. */
type Files = DroppedGroup['files'];

/** One model from `base` with `adapter` applied, named `base+adapter`. */
export function pairGroup(base: { readonly name: string; readonly files: Files }, adapter: DroppedGroup): DroppedGroup {
  const basePrefix = base.name;
  const adapterPrefix = adapter.name === base.name ? `${adapter.name}-adapter` : adapter.name;
  return {
    name: `${base.name}+${adapter.name}`,
    files: [...base.files.map((f) => ({ path: `${basePrefix}/${f.path}`, blob: f.blob })), ...adapter.files.map((f) => ({ path: `${adapterPrefix}/${f.path}`, blob: f.blob }))],
  };
}

/** base_model_name_or_path's last segment, to choose among several dropped models. */
async function namedBase(adapter: DroppedGroup): Promise<string | undefined> {
  const file = adapter.files.find((f) => f.path === ADAPTER_CONFIG);
  try {
    const v: unknown = JSON.parse(await file!.blob.text());
    const named = typeof v === 'object' && v !== null ? (v as { base_model_name_or_path?: unknown }).base_model_name_or_path : undefined;
    return typeof named === 'string' ? named.replace(/[\\/]+$/, '').split(/[\\/]/).pop() : undefined;
  } catch {
    return undefined; // the engine reports a broken adapter_config.json on the row
  }
}

/**
 * The groups of one drop with each adapter paired: with the one model dropped beside it, or the
 * one whose name is its base_model_name_or_path's last segment, or else `listBase` (the list's
 * base model, when it is a plain model). Models come first, so that a base dropped with its
 * adapter into an empty list becomes the base.
 */
export async function pairAdapters(groups: readonly DroppedGroup[], listBase?: { readonly name: string; readonly files: Files }): Promise<DroppedGroup[]> {
  const models = groups.filter((g) => !isAdapterGroup(g));
  const adapters = groups.filter(isAdapterGroup);
  if (adapters.length === 0) return [...groups];
  const usableBase = listBase && !listBase.files.some((f) => f.path.endsWith(ADAPTER_CONFIG)) ? listBase : undefined;
  const paired: DroppedGroup[] = [];
  for (const a of adapters) {
    let base: { readonly name: string; readonly files: Files } | undefined = models.length === 1 ? models[0] : undefined;
    if (!base && models.length > 1) {
      const named = await namedBase(a);
      base = models.find((m) => m.name === named);
    }
    base ??= models.length === 0 ? usableBase : undefined;
    paired.push(base ? pairGroup(base, a) : a);
  }
  return [...models, ...paired];
}
