/**
 * The merged model's config.json, as mergekit makes it (merge.py, `_model_out_config`): the base
 * model's config (or the first model's), its dtype set to out_dtype or else dtype, the layer
 * count of a `slices:` recipe summed over its slices, and — when the recipe builds the tokenizer
 * (tokenizer_source) — vocab_size set to the tokenizer's size. mergekit saves it through
 * transformers' `save_pretrained`; transformers 5 writes the dtype under `dtype` (it reads the
 * older `torch_dtype` but no longer writes it) and sorts the keys, and so do we.
 */
import { knownModules } from '../merge/architecture.js';
import { slicedLayerCounts } from '../merge/slices.js';
import type { Recipe } from '../recipe/types.js';

/** The keys a config may give the layer count under, in the order the planner reads them (recipe/resolve.ts). */
const LAYER_KEYS = ['num_hidden_layers', 'n_layer', 'num_layers', 'n_layers'];

export interface OutputConfigOptions {
  /** The output tokenizer's vocabulary size, when the recipe builds the tokenizer (tokenizer_source). */
  readonly vocabSize?: number;
}

/** The output config as an object (a new one; `config` is not changed). */
export function outputConfig(config: Readonly<Record<string, unknown>>, recipe: Recipe, options: OutputConfigOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  // transformers 5 reads torch_dtype into `dtype` and writes only `dtype`.
  if ('torch_dtype' in out) {
    if (!('dtype' in out)) out.dtype = out.torch_dtype;
    delete out.torch_dtype;
  }
  const dtype = recipe.outDtype ?? recipe.dtype;
  if (dtype) out.dtype = dtype;
  // mergekit: per module given slices, the sum over them of (layer_range end − start), set under the
  // module's layer key (dotted into a nested config: text_config.num_hidden_layers). For an
  // architecture mergekit does not define it sets none (its config then has the wrong count): we set
  // the first of LAYER_KEYS the config has.
  const known = knownModules(config);
  for (const { module, layers } of slicedLayerCounts(recipe)) {
    const key = known ? known.modules.find((m) => m.name === module)?.layersKey : (LAYER_KEYS.find((k) => typeof out[k] === 'number') ?? 'num_hidden_layers');
    if (key !== undefined) setDotted(out, key, layers);
  }
  if (options.vocabSize !== undefined) out.vocab_size = options.vocabSize;
  return out;
}

/** JSON as transformers writes a config: keys sorted at every level, two-space indent, a final newline. */
export function configJson(config: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(sortKeys(config), null, 2) + '\n';
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, sortKeys(o[k])]),
  );
}

/** Sets a dotted key, copying the nested objects on the way (the input config is not changed); a missing level is left alone, as mergekit cannot set it. */
function setDotted(out: Record<string, unknown>, key: string, value: number): void {
  const parts = key.split('.');
  let at = out;
  for (const part of parts.slice(0, -1)) {
    const next = at[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return;
    at = at[part] = { ...(next as Record<string, unknown>) };
  }
  at[parts.at(-1)!] = value;
}
