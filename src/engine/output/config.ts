/**
 * The merged model's config.json, as mergekit makes it (merge.py, `_model_out_config`): the base
 * model's config (or the first model's), its dtype set to out_dtype or else dtype, the layer
 * count of a `slices:` recipe summed over its slices, and — when the recipe builds the tokenizer
 * (tokenizer_source) — vocab_size set to the tokenizer's size. mergekit saves it through
 * transformers' `save_pretrained`; transformers 5 writes the dtype under `dtype` (it reads the
 * older `torch_dtype` but no longer writes it) and sorts the keys, and so do we.
 */
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
  // mergekit: sum over slices of (layer_range end − start), set under the architecture's layer key.
  // merge-lab reads one slice covering the whole stack, so this is that slice's length.
  if (recipe.layerRange) {
    const key = LAYER_KEYS.find((k) => typeof out[k] === 'number') ?? 'num_hidden_layers';
    out[key] = recipe.layerRange[1] - recipe.layerRange[0];
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
