/**
 * The files beside a model's weights — config.json, the tokenizer's files, a chat template — as
 * the output folder needs them: listed by name and read whole (they are small). One
 * implementation over dropped files (Blobs, in the browser's worker); node-model-files.ts reads a
 * folder on disk.
 */
import { MergeLabError } from '../errors.js';

/** The files of one model's folder (top level only), by name. */
export interface ModelFiles {
  /** The model as messages name it (the recipe's name for it). */
  readonly label: string;
  /** File names in the model's folder, e.g. ['config.json', 'model.safetensors', 'tokenizer.json']. */
  readonly names: readonly string[];
  /** A file's bytes; READ_FAILED when it cannot be read. */
  read(name: string): Promise<Uint8Array>;
}

/** No side files at all (a loose .safetensors file, or a demo model). */
export function noModelFiles(label: string): ModelFiles {
  return {
    label,
    names: [],
    read: async (name) => {
      throw new MergeLabError('READ_FAILED', `${label} has no ${name}.`);
    },
  };
}

/**
 * A dropped model's files (paths relative to what was dropped, '/'-separated). The folder that
 * counts is the one holding the weights: the shallowest folder with a weights file or index, as
 * the checkpoint reader picks it (io/file-list-checkpoint.ts). For a LoRA adapter dropped with its
 * base (io/lora-files.ts), that is the base's folder: the adapter's own files are not the model's.
 */
export function listedModelFiles(label: string, files: readonly { readonly path: string; readonly blob: Blob }[]): ModelFiles {
  const paths = files.map((f) => f.path.replace(/\\/g, '/').replace(/^\.?\//, ''));
  const depth = (p: string) => p.split('/').length;
  const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
  const adapterConfig = paths.filter((p) => p === 'adapter_config.json' || p.endsWith('/adapter_config.json')).sort((a, b) => depth(a) - depth(b))[0];
  const adapterDir = adapterConfig === undefined ? undefined : dirOf(adapterConfig);
  const inAdapter = (p: string) => adapterDir !== undefined && (dirOf(p) === adapterDir || (adapterDir !== '' && p.startsWith(`${adapterDir}/`)));
  const weights = paths.filter((p) => !inAdapter(p) && /\.(safetensors|bin|pt|pth)(\.index\.json)?$/i.test(p));
  const top = weights.length ? weights.reduce((a, b) => (depth(b) < depth(a) ? b : a)) : '';
  const dir = top.includes('/') ? top.slice(0, top.lastIndexOf('/') + 1) : '';
  const byName = new Map<string, Blob>();
  paths.forEach((p, i) => {
    if (!p.startsWith(dir) || inAdapter(p)) return;
    const rest = p.slice(dir.length);
    if (rest !== '' && !rest.includes('/')) byName.set(rest, files[i]!.blob);
  });
  return {
    label,
    names: [...byName.keys()],
    async read(name) {
      const blob = byName.get(name);
      if (!blob) throw new MergeLabError('READ_FAILED', `${label} has no ${name}.`);
      try {
        return new Uint8Array(await blob.arrayBuffer());
      } catch (e) {
        throw new MergeLabError('READ_FAILED', `${name} of ${label} cannot be read (${(e as Error).message}); drop the model again.`);
      }
    },
  };
}

/** A file's text (UTF-8). */
export async function readText(files: ModelFiles, name: string): Promise<string> {
  return new TextDecoder().decode(await files.read(name));
}

/** A JSON file's top-level object; READ_FAILED naming the file when it is not one. */
export async function readJsonObject(files: ModelFiles, name: string): Promise<Record<string, unknown>> {
  const text = await readText(files, name);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new MergeLabError('READ_FAILED', `${name} of ${files.label} is not valid JSON (${(e as Error).message}); fix or remove it.`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MergeLabError('READ_FAILED', `${name} of ${files.label} is not a JSON object; fix or remove it.`);
  return v as Record<string, unknown>;
}
