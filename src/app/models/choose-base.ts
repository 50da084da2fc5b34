/**
 * Which of the models dropped together is the base — said by the files, never by their order:
 * a model named "base" (the word, in a file or folder name such as base-model or llama_base), else
 * the model whose folder name the others' config.json name as where they came from
 * (`_name_or_path`, as transformers writes it when fine-tuning). Otherwise none: the lab asks (the
 * recipe then says to choose "base" as a role).
 */
import type { DroppedGroup } from '../store/types.js';

const NAMED_BASE = /(^|[^a-z0-9])base([^a-z0-9]|$)/i;

/** The stem of a file or folder name: "base-model.safetensors" → "base-model". */
function stem(name: string): string {
  return name.replace(/\.(safetensors|bin|pt|pth)$/i, '');
}

export async function chooseBase(groups: readonly DroppedGroup[]): Promise<number | undefined> {
  const named = groups.flatMap((g, i) => (NAMED_BASE.test(stem(g.name)) ? [i] : []));
  if (named.length === 1) return named[0];
  // config.json's _name_or_path of each model: a fine-tune names the model it started from.
  const origins = await Promise.all(
    groups.map(async (g) => {
      const config = g.files.find((f) => f.path === 'config.json' || f.path.endsWith('/config.json'));
      if (!config) return undefined;
      try {
        const v = (JSON.parse(await config.blob.text()) as { _name_or_path?: unknown })._name_or_path;
        return typeof v === 'string' ? v.replace(/\/+$/, '').split('/').pop() : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  const named2 = groups.flatMap((g, i) => (origins.some((o, j) => j !== i && o !== undefined && o === stem(g.name)) ? [i] : []));
  return named2.length === 1 ? named2[0] : undefined;
}
