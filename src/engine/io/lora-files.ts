/**
 * Dropped files as a model, where they may hold a PEFT LoRA adapter: a folder with
 * adapter_config.json and adapter_model.safetensors, plus the files of its base model outside that
 * folder (the lab pairs them: src/app/models/lora-pairing.ts). Without adapter_config.json this is
 * openCheckpointFiles. Browser-safe.
 */
import { MergeLabError } from '../errors.js';
import { joinRelative, openCheckpointFiles, openCheckpointFromListing, type ListedFile } from './file-list-checkpoint.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, openLoraCheckpoint, parseAdapterConfig } from './lora-checkpoint.js';
import type { ByteSource, Checkpoint } from './types.js';

/** What a base model's weights may be stored as (openCheckpointFromListing says which it reads). */
const MODEL_FILE = /\.(safetensors|bin|pt|pth)(\.index\.json)?$/i;

function dirOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function baseNameOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

async function text(source: ByteSource): Promise<string> {
  return new TextDecoder().decode(await source.read(0, source.size));
}

/**
 * Opens `files` as one checkpoint. When they hold an adapter_config.json (the shallowest one), the
 * files in its folder are the adapter and the files outside it the base: the result is the base
 * with the adapter applied as mergekit applies it. LORA_NEEDS_BASE when there is no base beside
 * the adapter; LORA_INVALID for a broken adapter.
 */
export async function openModelFiles(files: readonly ListedFile[], label?: string): Promise<Checkpoint> {
  const byPath = new Map<string, ByteSource>();
  for (const f of files) byPath.set(joinRelative('', f.name.replace(/\\/g, '/')), f.source);
  const configs = [...byPath.keys()].filter((p) => baseNameOf(p) === ADAPTER_CONFIG_FILE).sort((a, b) => a.split('/').length - b.split('/').length);
  const configPath = configs[0];
  if (configPath === undefined) return openCheckpointFiles(files, label);

  const dir = dirOf(configPath);
  const inAdapter = (p: string) => dirOf(p) === dir || (dir !== '' && p.startsWith(`${dir}/`));
  const adapterLabel = dir ? baseNameOf(dir) : (label ?? 'the adapter');
  const config = parseAdapterConfig(await text(byPath.get(configPath)!), `${adapterLabel}/${ADAPTER_CONFIG_FILE}`);
  const baseNames = [...byPath.keys()].filter((p) => !inAdapter(p));
  if (!baseNames.some((p) => MODEL_FILE.test(p))) {
    const forWhat = config.baseModel ? ` for "${config.baseModel}"` : '';
    throw new MergeLabError(
      'LORA_NEEDS_BASE',
      `${adapterLabel} is a PEFT LoRA adapter${forWhat}, not a model: it is applied to a base model. Drop it while that base model is the list's base, or drop the base model's folder and the adapter's folder together.`,
    );
  }
  const inDir = (f: string) => (dir ? `${dir}/${f}` : f);
  // adapter_model.bin goes through the listing opener, which says how pickle files are handled.
  const weights = [ADAPTER_WEIGHTS_FILE, 'adapter_model.bin'].map(inDir).find((p) => byPath.has(p));
  if (!weights) throw new MergeLabError('LORA_INVALID', `${adapterLabel} has ${ADAPTER_CONFIG_FILE} but no ${ADAPTER_WEIGHTS_FILE}.`);

  const tops = new Set(baseNames.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '')));
  const baseLabel = tops.size === 1 && !tops.has('') ? [...tops][0]! : 'the base model';
  const base = await openCheckpointFromListing(baseLabel, baseNames, async (p) => byPath.get(p));
  let adapter: Checkpoint | undefined;
  try {
    adapter = await openCheckpointFromListing(adapterLabel, [weights], async (p) => byPath.get(p));
    // The base's config.json (the shallowest one outside the adapter) says which dtype it loads in.
    const configJson = baseNames.filter((p) => baseNameOf(p) === 'config.json').sort((a, b) => a.split('/').length - b.split('/').length)[0];
    let baseConfig: Record<string, unknown> | undefined;
    if (configJson) {
      try {
        const v: unknown = JSON.parse(await text(byPath.get(configJson)!));
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) baseConfig = v as Record<string, unknown>;
      } catch {
        // An unreadable config.json only loses the dtype hint: the tensors' dtype decides.
      }
    }
    return openLoraCheckpoint(base, adapter, config, { name: label ?? `${baseLabel}+${adapterLabel}`, ...(baseConfig ? { baseConfig } : {}) });
  } catch (e) {
    await Promise.allSettled([base.close(), ...(adapter ? [adapter.close()] : [])]);
    throw e;
  }
}
