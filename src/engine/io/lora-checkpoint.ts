/**
 * A PEFT LoRA adapter applied to its base, as a Checkpoint: the base's tensor names and shapes,
 * and each targeted weight read as the model mergekit merges when a recipe names `base+adapter`.
 *
 * mergekit (common.py, ModelReference.merged) loads the base with transformers, wraps it with
 * `peft.PeftModel.from_pretrained(model, adapter)`, calls `merge_and_unload()` and saves the result;
 * the merge then reads that model. What that does to the numbers (peft 0.18, transformers 5):
 * - the model is loaded in one dtype L: `lora_merge_dtype` if given, else config.json's `dtype` /
 *   `torch_dtype`, else the dtype of the first floating tensor ("auto"). Every floating tensor is
 *   cast to L and saved in L;
 * - lora_A / lora_B are float32 whatever L is (peft's `autocast_adapter_dtype` upcasts them before
 *   the adapter's stored values are copied in);
 * - Linear: `W += (B @ A) * scaling` in place: a float32 delta, the sum rounded to float32, then to
 *   L (torch's mixed-dtype in-place add); `fan_in_fan_out` transposes the delta; `lora_B.bias`
 *   (lora_bias) adds `bias * scaling` to the base's bias the same way;
 * - Embedding: `W += ((B @ A).T * scaling).to(L)`: its delta is rounded to L before the add;
 * - scaling = lora_alpha / r (use_rslora: lora_alpha / sqrt(r)), with r and alpha per module from
 *   `rank_pattern` / `alpha_pattern` (peft's get_pattern_key); the Python float is cast to float32
 *   before torch multiplies;
 * - `modules_to_save`: the adapter's full tensors replace the base's, cast to L.
 * B @ A accumulates over the rank in order, each product rounded to float32 and added in float32,
 * as torch 1.13's CPU matmul did on the reference machine (test/fixtures/lora/, scripts/lora-fixture.py).
 * Other BLAS builds (MKL, cuBLAS) may fuse or reorder that sum and differ by an ulp of float32.
 *
 * Only headers are read when opening; every adapter tensor is checked against the base then.
 */
import { MergeLabError } from '../errors.js';
import { DTYPE_SIZES, decodeToFloat32, encodeFromFloat32, numel } from './dtypes.js';
import type { Checkpoint, DType, TensorInfo } from './types.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** Every key of an adapter file starts with this (peft's PeftModel → LoraModel → the transformers model). */
const KEY_PREFIX = 'base_model.model.';

/** The fields of adapter_config.json that change the merged weights. */
export interface LoraAdapterConfig {
  readonly r: number;
  readonly loraAlpha: number;
  readonly useRslora: boolean;
  readonly fanInFanOut: boolean;
  /** Python regexes matched against a module's name as `(.*\.)?(key)$`, in file order. */
  readonly rankPattern: readonly (readonly [string, number])[];
  readonly alphaPattern: readonly (readonly [string, number])[];
  /** `base_model_name_or_path`: where the base was (a path or a Hub id), when the config says. */
  readonly baseModel?: string;
}

const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['F64', 'F32', 'F16', 'BF16']);
/** Dtypes a model can be loaded in for the merge (transformers' float dtypes that we can round to). */
const LOAD_DTYPES: Readonly<Record<string, DType>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float: 'F32', half: 'F16' };

function invalid(message: string): never {
  throw new MergeLabError('LORA_INVALID', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compilePattern(key: string, where: string): RegExp {
  try {
    return new RegExp(`^(?:.*\\.)?(?:${key})$`);
  } catch {
    return invalid(`${where}: "${key}" is not a regular expression we can read.`);
  }
}

/**
 * Reads adapter_config.json (`fileName` names it in messages). LORA_INVALID, naming the file and
 * field, for another peft_type, a missing or bad `r` / `lora_alpha`, and what the merge cannot
 * reproduce (DoRA, target_parameters, trainable_token_indices, layer_replication).
 */
export function parseAdapterConfig(text: string, fileName: string): LoraAdapterConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return invalid(`${fileName} is not valid JSON (${(e as Error).message}).`);
  }
  if (!isObject(json)) return invalid(`${fileName} is not a JSON object; a PEFT adapter_config.json is expected.`);
  const c = json;
  if (c.peft_type !== 'LORA') {
    invalid(`${fileName}: peft_type is ${c.peft_type === undefined ? 'missing' : JSON.stringify(c.peft_type)}; only "LORA" adapters can be applied.`);
  }
  const positiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (!positiveInt(c.r)) invalid(`${fileName}: "r" is ${c.r === undefined ? 'missing' : JSON.stringify(c.r)}; it must be the adapter's rank (a positive integer).`);
  if (typeof c.lora_alpha !== 'number' || !Number.isFinite(c.lora_alpha)) {
    invalid(`${fileName}: "lora_alpha" is ${c.lora_alpha === undefined ? 'missing' : JSON.stringify(c.lora_alpha)}; it must be a number (the update is scaled by lora_alpha / r).`);
  }
  if (c.use_dora === true) invalid(`${fileName}: use_dora is true; DoRA adapters are not supported (only plain LoRA).`);
  const unsupported: [string, string][] = [
    ['target_parameters', 'LoRA on bare parameters'],
    ['trainable_token_indices', 'trainable tokens'],
    ['layer_replication', 'layer replication'],
  ];
  for (const [key, what] of unsupported) {
    const v = c[key];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(isObject(v) && Object.keys(v).length === 0)) {
      invalid(`${fileName}: "${key}" is set; ${what} cannot be applied (only plain LoRA on Linear and Embedding modules).`);
    }
  }
  const pattern = (key: string): [string, number][] => {
    const v = c[key];
    if (v === undefined || v === null) return [];
    if (!isObject(v)) return invalid(`${fileName}: "${key}" must be an object of module patterns and numbers.`);
    return Object.entries(v).map(([k, n]) => {
      if (typeof n !== 'number' || !Number.isFinite(n) || (key === 'rank_pattern' && !positiveInt(n))) {
        invalid(`${fileName}: ${key}["${k}"] is ${JSON.stringify(n)}; it must be a ${key === 'rank_pattern' ? 'positive integer' : 'number'}.`);
      }
      compilePattern(k, `${fileName}: ${key}`);
      return [k, n];
    });
  };
  for (const key of ['use_rslora', 'fan_in_fan_out'] as const) {
    if (c[key] !== undefined && c[key] !== null && typeof c[key] !== 'boolean') invalid(`${fileName}: "${key}" must be true or false.`);
  }
  return {
    r: c.r as number,
    loraAlpha: c.lora_alpha as number,
    useRslora: c.use_rslora === true,
    fanInFanOut: c.fan_in_fan_out === true,
    rankPattern: pattern('rank_pattern'),
    alphaPattern: pattern('alpha_pattern'),
    ...(typeof c.base_model_name_or_path === 'string' && c.base_model_name_or_path !== '' ? { baseModel: c.base_model_name_or_path } : {}),
  };
}

/**
 * The dtype transformers loads the base in (and mergekit's merged copy is saved in): `mergeDtype`
 * (mergekit's `lora_merge_dtype`), else config.json's `dtype` or `torch_dtype`, else the dtype of
 * the base's first floating tensor. DTYPE_UNSUPPORTED-like problems are LORA_INVALID here.
 */
export function loraLoadDtype(base: Checkpoint, baseConfig?: Readonly<Record<string, unknown>>, mergeDtype?: string): DType {
  const named = (v: unknown): DType | undefined => (typeof v === 'string' ? LOAD_DTYPES[v.replace(/^torch\./, '')] : undefined);
  if (mergeDtype !== undefined) {
    const d = named(mergeDtype);
    if (!d) invalid(`lora_merge_dtype "${mergeDtype}" is not one of float32, float16, bfloat16.`);
    return d;
  }
  const fromConfig = named(baseConfig?.dtype) ?? named(baseConfig?.torch_dtype);
  if (fromConfig) return fromConfig;
  for (const n of base.tensorNames) {
    const d = base.info(n)?.dtype;
    if (d && FLOAT_DTYPES.has(d)) return d === 'F64' ? 'F32' : d;
  }
  return 'F32';
}

/** One module the adapter changes. */
type Update =
  | { readonly kind: 'linear'; readonly a: string; readonly b: string; readonly scaling: number; readonly transpose: boolean }
  | { readonly kind: 'embedding'; readonly a: string; readonly b: string; readonly scaling: number }
  | { readonly kind: 'bias'; readonly bias: string; readonly scaling: number }
  | { readonly kind: 'replace'; readonly tensor: string };

export interface LoraCheckpointOptions {
  /** Shown in messages; default `<base>+<adapter>`. */
  readonly name?: string;
  /** The base's config.json, for the dtype it is loaded in. */
  readonly baseConfig?: Readonly<Record<string, unknown>>;
  /** mergekit's `lora_merge_dtype`: float32, float16 or bfloat16. */
  readonly mergeDtype?: string;
  /** Close the base when this checkpoint is closed (default true). */
  readonly closeBase?: boolean;
}

/**
 * `base` with `adapter` (the opened adapter_model.safetensors) applied per `config`, as mergekit
 * merges `base+adapter`. Checks every adapter tensor against the base first (LORA_INVALID: a key
 * outside peft's layout, one that names no base tensor, shapes that do not fit the base or the
 * rank, lora_A without lora_B). On failure nothing is closed; on success, closing this closes the
 * adapter and (unless `closeBase: false`) the base.
 */
export function openLoraCheckpoint(base: Checkpoint, adapter: Checkpoint, config: LoraAdapterConfig, options: LoraCheckpointOptions = {}): Checkpoint {
  const file = adapter.name;
  const loadDtype = loraLoadDtype(base, options.baseConfig, options.mergeDtype);
  const updates = planUpdates(base, adapter, config, file);
  const name = options.name ?? `${base.name}+${adapter.name}`;

  const infoOf = (n: string): TensorInfo | undefined => {
    const i = base.info(n);
    if (!i || !FLOAT_DTYPES.has(i.dtype) || i.dtype === loadDtype) return i;
    return { ...i, dtype: loadDtype, end: i.begin + numel(i.shape) * DTYPE_SIZES[loadDtype] };
  };
  /** The base tensor as loaded (cast to L), float32 values. */
  const loaded = async (n: string): Promise<Float32Array> => {
    const v = await base.readFloat32(n);
    const d = base.info(n)!.dtype;
    return FLOAT_DTYPES.has(d) && d !== loadDtype ? roundTo(loadDtype, v) : v;
  };
  const readFloat32 = async (n: string): Promise<Float32Array> => {
    const u = updates.get(n);
    if (!u) return loaded(n);
    if (u.kind === 'replace') return roundTo(loadDtype, await adapter.readFloat32(u.tensor));
    const w = await loaded(n);
    if (u.kind === 'bias') {
      const b = await adapter.readFloat32(u.bias);
      const s = Math.fround(u.scaling);
      for (let i = 0; i < w.length; i++) w[i] = w[i]! + Math.fround(b[i]! * s);
      return roundTo(loadDtype, w);
    }
    const [a, b] = await Promise.all([adapter.readFloat32(u.a), adapter.readFloat32(u.b)]);
    const r = adapter.info(u.a)!.shape[0]!;
    const out = adapter.info(u.b)!.shape[0]!;
    const inn = adapter.info(u.a)!.shape[1]!;
    const transposed = u.kind === 'embedding' || u.transpose;
    const delta = scaledProduct(b, a, out, r, inn, u.scaling, transposed);
    // Embedding.merge rounds its delta to the weight's dtype before adding; Linear adds float32.
    if (u.kind === 'embedding') roundTo(loadDtype, delta);
    for (let i = 0; i < w.length; i++) w[i] = w[i]! + delta[i]!; // Float32Array: the sum rounds to float32
    return roundTo(loadDtype, w);
  };

  return {
    name,
    tensorNames: base.tensorNames,
    metadata: base.metadata,
    info: infoOf,
    readFloat32,
    async readRaw(n) {
      const i = base.info(n);
      if (!i) return base.readRaw(n); // the base's own TENSOR_NOT_FOUND
      if (!updates.has(n) && infoOf(n)!.dtype === i.dtype) return base.readRaw(n);
      return encodeFromFloat32(loadDtype, await readFloat32(n));
    },
    async close() {
      await Promise.allSettled([adapter.close(), ...(options.closeBase === false ? [] : [base.close()])]);
    },
  };
}

/** `values` rounded to `dtype` in place (float32 already is), torch's round-to-nearest-even. */
function roundTo(dtype: DType, values: Float32Array): Float32Array {
  if (dtype === 'F32' || dtype === 'F64') return values;
  values.set(decodeToFloat32(dtype, encodeFromFloat32(dtype, values), true));
  return values;
}

/**
 * fround(fround(B @ A) · fround(scaling)), [out, in] row-major or, `transposed`, [in, out].
 * B is [out, r], A is [r, in]. Each entry sums over k in order, every product and partial sum
 * rounded to float32 (torch 1.13's CPU sgemm on the reference machine). Rows of A are streamed.
 */
function scaledProduct(b: Float32Array, a: Float32Array, out: number, r: number, inn: number, scaling: number, transposed: boolean): Float32Array {
  const result = new Float32Array(out * inn);
  const scratch = transposed ? new Float32Array(inn) : undefined;
  const s = Math.fround(scaling);
  for (let i = 0; i < out; i++) {
    const row = scratch ?? result.subarray(i * inn, (i + 1) * inn);
    if (scratch) scratch.fill(0);
    for (let k = 0; k < r; k++) {
      const bik = b[i * r + k]!;
      const ak = a.subarray(k * inn, (k + 1) * inn);
      // A float64 product of two float32 values is exact; storing into the Float32Array rounds once.
      for (let j = 0; j < inn; j++) row[j] = row[j]! + Math.fround(bik * ak[j]!);
    }
    if (scratch) for (let j = 0; j < inn; j++) result[j * out + i] = scratch[j]! * s;
    else for (let j = 0; j < inn; j++) row[j] = row[j]! * s;
  }
  return result;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** peft's get_pattern_key: the value of the first pattern matching the module name, else the default. */
function patternValue(patterns: readonly (readonly [RegExp, number])[], module: string, fallback: number): number {
  for (const [re, value] of patterns) if (re.test(module)) return value;
  return fallback;
}

/** Maps every adapter tensor to the base tensor it changes, checking names and shapes. */
function planUpdates(base: Checkpoint, adapter: Checkpoint, config: LoraAdapterConfig, file: string): Map<string, Update> {
  type Pair = { a?: string; b?: string; bias?: string; embedding: boolean };
  const modules = new Map<string, Pair>();
  const updates = new Map<string, Update>();
  const rankPattern = config.rankPattern.map(([k, v]) => [compilePattern(k, 'rank_pattern'), v] as const);
  const alphaPattern = config.alphaPattern.map(([k, v]) => [compilePattern(k, 'alpha_pattern'), v] as const);
  const baseInfo = (tensor: string, key: string): TensorInfo => {
    const i = base.info(tensor);
    if (!i) invalid(`${file}: "${key}" changes ${tensor}, which ${base.name} does not have. Is this adapter for another model?`);
    if (!FLOAT_DTYPES.has(i.dtype)) invalid(`${file}: "${key}" changes ${tensor}, which is ${i.dtype} in ${base.name}; only float tensors can take a LoRA update.`);
    return i;
  };

  for (const key of adapter.tensorNames) {
    if (!key.startsWith(KEY_PREFIX)) {
      invalid(`${file}: tensor "${key}" is not in peft's layout ("${KEY_PREFIX}<module>.lora_A.weight" and so on).`);
    }
    const rest = key.slice(KEY_PREFIX.length);
    const m = /^(.+)\.lora_(A|B)\.(weight|bias)$/.exec(rest) ?? /^(.+)\.lora_embedding_(A|B)()$/.exec(rest);
    if (m) {
      const [, module, ab, part] = m as unknown as [string, string, 'A' | 'B', string];
      const p = modules.get(module) ?? { embedding: part === '' };
      if (p.embedding !== (part === '')) invalid(`${file}: module ${module} has both lora_A/lora_B and lora_embedding tensors.`);
      if (part === 'bias') {
        if (ab === 'A') invalid(`${file}: tensor "${key}": lora_A has no bias in peft.`);
        p.bias = key;
      } else if (ab === 'A') p.a = key;
      else p.b = key;
      modules.set(module, p);
      continue;
    }
    if (/\.lora_/.test(rest)) {
      const what = /lora_magnitude_vector/.test(rest) ? ' (a DoRA magnitude: DoRA is not supported)' : '';
      invalid(`${file}: tensor "${key}" is not a LoRA weight merge-lab can apply${what}.`);
    }
    // A full tensor (modules_to_save, or a saved embedding layer): it replaces the base's.
    const target = baseInfo(rest, key);
    const own = adapter.info(key)!;
    if (!sameShape(own.shape, target.shape)) {
      invalid(`${file}: "${key}" has shape ${shapeText(own.shape)} but ${rest} in ${base.name} is ${shapeText(target.shape)}.`);
    }
    updates.set(rest, { kind: 'replace', tensor: key });
  }

  for (const [module, p] of modules) {
    const aName = p.embedding ? 'lora_embedding_A' : 'lora_A.weight';
    const bName = p.embedding ? 'lora_embedding_B' : 'lora_B.weight';
    if (!p.a || !p.b) {
      const has = p.a ? aName : p.b ? bName : 'lora_B.bias';
      invalid(`${file}: module ${module} has ${has} but no ${p.a ? bName : p.b ? aName : `${aName} / ${bName}`}.`);
    }
    const weight = `${module}.weight`;
    const w = baseInfo(weight, p.a);
    const a = adapter.info(p.a)!;
    const b = adapter.info(p.b)!;
    for (const [t, info] of [[p.a, a], [p.b, b]] as const) {
      if (!FLOAT_DTYPES.has(info.dtype)) invalid(`${file}: "${t}" is ${info.dtype}; LoRA weights must be float tensors.`);
    }
    if (w.shape.length !== 2) invalid(`${file}: "${p.a}" targets ${weight}, which has shape ${shapeText(w.shape)}; only 2-D weights (Linear, Embedding) are supported.`);
    if (a.shape.length !== 2 || b.shape.length !== 2) invalid(`${file}: "${p.a}" ${shapeText(a.shape)} and "${p.b}" ${shapeText(b.shape)} must both be 2-D.`);
    const r = a.shape[0]!;
    const rank = patternValue(rankPattern, module, config.r);
    const alpha = patternValue(alphaPattern, module, config.loraAlpha);
    if (r !== rank) invalid(`${file}: "${p.a}" has rank ${r} (shape ${shapeText(a.shape)}) but adapter_config.json gives r = ${rank} for ${module}.`);
    // Linear: W [out, in] (fan_in_fan_out: [in, out]), A [r, in], B [out, r].
    // Embedding: W [num_embeddings, dim], A [r, num_embeddings], B [dim, r].
    const transposed = p.embedding || config.fanInFanOut;
    const [out, inn] = transposed ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
    if (a.shape[1] !== inn || b.shape[0] !== out || b.shape[1] !== r) {
      const layout = p.embedding ? 'embedding' : config.fanInFanOut ? 'fan_in_fan_out' : 'Linear';
      invalid(`${file}: "${p.a}" ${shapeText(a.shape)} and "${p.b}" ${shapeText(b.shape)} do not fit ${weight} ${shapeText(w.shape)} in ${base.name} (${layout}: expected [${r}, ${inn}] and [${out}, ${r}]).`);
    }
    const scaling = config.useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
    if (updates.has(weight)) invalid(`${file}: ${weight} is both replaced by a full tensor and changed by a LoRA.`);
    updates.set(weight, p.embedding ? { kind: 'embedding', a: p.a, b: p.b, scaling } : { kind: 'linear', a: p.a, b: p.b, scaling, transpose: config.fanInFanOut });
    if (p.bias) {
      const bias = `${module}.bias`;
      const bi = base.info(bias);
      if (!bi) invalid(`${file}: "${p.bias}" (lora_bias) needs ${bias}, which ${base.name} does not have.`);
      const own = adapter.info(p.bias)!;
      if (!sameShape(own.shape, bi.shape) || bi.shape.length !== 1 || bi.shape[0] !== out) {
        invalid(`${file}: "${p.bias}" has shape ${shapeText(own.shape)} but ${bias} in ${base.name} is ${shapeText(bi.shape)}.`);
      }
      if (updates.has(bias)) invalid(`${file}: ${bias} is both replaced by a full tensor and changed by lora_bias.`);
      updates.set(bias, { kind: 'bias', bias: p.bias, scaling });
    }
  }
  return updates;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
