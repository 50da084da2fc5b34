/**
 * Reading a mergekit YAML recipe into a Recipe. Every structural problem is collected and reported
 * together, each naming the key at fault; checks that need the method's schema or the checkpoints
 * happen when planning (merge/plan-merge.ts).
 */
import { parseDocument } from 'yaml';
import { MergeLabError, combineProblems } from '../errors.js';
import { readTokenizerKeys } from './tokenizer-keys.js';
import { RECIPE_DTYPES, RECIPE_MATHS, STRING_LIST_OPTION_KEYS, STRING_OPTION_KEYS, type RecipeMath, type Conditional, type ParameterMap, type ParameterSetting, type Recipe, type RecipeDtype, type RecipeModel, type RecipeModule, type RecipeSlice, type RecipeSliceSource } from './types.js';

const KNOWN_KEYS = ['merge_method', 'base_model', 'models', 'slices', 'parameters', 'dtype', 'out_dtype', 'random_seed', 'tokenizer_source', 'tokenizer', 'chat_template', 'name', 'modules', 'math'];
/** mergekit keys we read but that change nothing in the tensors we write. */
const IGNORED_KEYS: Record<string, string> = {
  name: 'it only names the merge',
};

/** Parses `text` (the recipe file `fileName`) or throws one MergeLabError listing every problem. */
export function parseRecipe(text: string, fileName = 'recipe'): Recipe {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    throw new MergeLabError('RECIPE_INVALID_YAML', `${fileName} is not valid YAML${where}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}. Fix the syntax and try again.`);
  }
  let root: unknown;
  try {
    // yaml stops alias expansion past maxAliasCount (a "billion laughs" recipe); deep nesting can
    // exhaust the stack. Both are recipes no merge needs.
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const why = e instanceof RangeError ? 'it is nested too deeply' : /alias/i.test((e as Error).message) ? 'its aliases expand too far (more than 100 references)' : (e as Error).message.split('\n')[0];
    throw new MergeLabError('RECIPE_INVALID_YAML', `${fileName} cannot be read as a recipe: ${why}. A mergekit recipe needs no more than a few aliases.`);
  }
  const problems: MergeLabError[] = [];
  const warnings: string[] = [];
  const problem = (code: 'RECIPE_INVALID' | 'PARAMETER_INVALID' | 'MISSING_PARAMETER', message: string) => problems.push(new MergeLabError(code, `${fileName}: ${message}`));

  if (!isObject(root)) {
    throw new MergeLabError('RECIPE_INVALID', `${fileName}: a recipe is a YAML mapping with merge_method, models and so on; this file holds ${describe(root)}.`);
  }
  for (const key of Object.keys(root)) {
    if (!KNOWN_KEYS.includes(key)) warnings.push(`${fileName}: key "${key}" is not a mergekit recipe key and is ignored${suggest(key, KNOWN_KEYS)}.`);
    else if (IGNORED_KEYS[key] && root[key] !== null && root[key] !== undefined) warnings.push(`${fileName}: "${key}" is ignored: ${IGNORED_KEYS[key]}.`);
  }

  const method = root.merge_method;
  if (typeof method !== 'string' || method.trim() === '') problem('RECIPE_INVALID', 'merge_method is missing; name one, e.g. "merge_method: ties" (see merge-lab --help).');
  const baseModel = optionalString(root, 'base_model', problem);
  const dtype = optionalDtype(root, 'dtype', problem);
  const outDtype = optionalDtype(root, 'out_dtype', problem);
  let randomSeed: number | undefined;
  if (root.random_seed !== undefined && root.random_seed !== null) {
    if (typeof root.random_seed === 'number' && Number.isSafeInteger(root.random_seed) && root.random_seed >= 0) randomSeed = root.random_seed;
    else if (typeof root.random_seed === 'number' && Number.isInteger(root.random_seed) && root.random_seed > 0) {
      // Past 2^53 neighbouring integers are the same number here: 1e300 would silently be some other seed.
      problem('PARAMETER_INVALID', `random_seed ${root.random_seed} is too large to keep exactly; use an integer from 0 to ${Number.MAX_SAFE_INTEGER}.`);
    } else problem('PARAMETER_INVALID', `random_seed must be a non-negative integer, got ${describe(root.random_seed)}.`);
  }
  let math: RecipeMath | undefined;
  if (root.math !== undefined && root.math !== null) {
    if (RECIPE_MATHS.includes(root.math as RecipeMath)) math = root.math as RecipeMath;
    else problem('PARAMETER_INVALID', `math must be "mergekit" (16-bit recipes computed op by op in dtype, as mergekit does) or "float32" (float32 math rounded once at the output), got ${describe(root.math)}.`);
  }
  const tokenizerKeys = readTokenizerKeys(root, problem);
  const options: Record<string, string> = {};
  const listOptions: Record<string, string[]> = {};
  const parameters = parameterMap(root.parameters, 'parameters', problem, options, listOptions);
  let models: RecipeModel[] = [];
  let slices: RecipeSlice[] | undefined;
  let modules: Record<string, RecipeModule> | undefined;
  let sliceParameters: ParameterMap | undefined;
  let layerRange: [number, number] | undefined;
  let sliceBase: string | undefined;
  const given = (['models', 'slices', 'modules'] as const).filter((k) => root[k] !== undefined && root[k] !== null);
  if (given.length !== 1) {
    problem('RECIPE_INVALID', given.length > 1 ? `give either "models" or "slices" (or "modules"), not ${given.map((k) => `"${k}"`).join(' and ')}.` : 'the recipe lists no models; add "models:" with one "- model: <path>" entry per checkpoint.');
  } else if (given[0] === 'models') {
    models = modelList(root.models, 'models', 'model', problem);
  } else if (given[0] === 'slices') {
    const read = sliceList(root.slices, 'slices', problem, warnings, fileName);
    const one = read?.length === 1 ? read[0]! : undefined;
    const range = one?.sources[0]?.layerRange;
    // One slice whose sources share one range, and whose base is the recipe's, reads as "models" with
    // that range: the form the lab and the recipe import know.
    if (one && range && one.sources.every((s) => s.layerRange[0] === range[0] && s.layerRange[1] === range[1]) && (one.baseModel === undefined || baseModel === undefined || one.baseModel === baseModel)) {
      models = one.sources.map((s) => ({ model: s.model, ...(s.parameters ? { parameters: s.parameters } : {}) }));
      layerRange = [range[0], range[1]];
      sliceParameters = one.parameters;
      if (one.baseModel !== undefined && baseModel === undefined) {
        sliceBase = one.baseModel;
        warnings.push(`${fileName}: slices[0].base_model is used as the base_model.`);
      }
    } else if (read) {
      slices = read;
      models = firstMentions(read.flatMap((s) => s.sources.map((x) => x.model)));
    }
  } else {
    modules = moduleMap(root.modules, problem, warnings, fileName);
    if (modules) models = firstMentions(Object.values(modules).flatMap((m) => [...(m.models ?? []).map((x) => x.model), ...(m.slices ?? []).flatMap((s) => s.sources.map((x) => x.model))]));
  }

  if (!slices && !modules) duplicateModels(models.map((m) => m.model), '', problem);

  if (problems.length > 0) throw combineProblems(problems);
  const base = baseModel ?? sliceBase;
  return {
    mergeMethod: (method as string).trim(),
    ...(base !== undefined ? { baseModel: base } : {}),
    models,
    ...(slices ? { slices } : {}),
    ...(modules ? { modules } : {}),
    ...(parameters ? { parameters } : {}),
    ...(sliceParameters ? { sliceParameters } : {}),
    ...(layerRange ? { layerRange } : {}),
    ...(dtype ? { dtype } : {}),
    ...(outDtype ? { outDtype } : {}),
    ...(randomSeed !== undefined ? { randomSeed } : {}),
    ...(math ? { math } : {}),
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ...(Object.keys(listOptions).length > 0 ? { listOptions } : {}),
    ...tokenizerKeys,
    warnings,
  };
}

type Problem = (code: 'RECIPE_INVALID' | 'PARAMETER_INVALID' | 'MISSING_PARAMETER', message: string) => void;

function modelList(value: unknown, where: string, key: string, problem: Problem): RecipeModel[] {
  if (!Array.isArray(value) || value.length === 0) {
    problem('RECIPE_INVALID', `${where} must be a list of entries like "- ${key}: path/to/model".`);
    return [];
  }
  const out: RecipeModel[] = [];
  value.forEach((entry, i) => {
    if (!isObject(entry) || typeof entry[key] !== 'string' || (entry[key] as string).trim() === '') {
      problem('RECIPE_INVALID', `${where}[${i}] needs "${key}: <path or id>" (got ${describe(entry)}).`);
      return;
    }
    const name = (entry[key] as string).trim();
    const parameters = parameterMap(entry.parameters, `parameters of model "${name}"`, problem);
    out.push({ model: name, ...(parameters ? { parameters } : {}) });
  });
  return out;
}

/** Keys of a slice and of its sources, as mergekit's InputSliceDefinition and OutputSliceDefinition have them. */
const SLICE_KEYS = ['sources', 'base_model', 'parameters', 'residual_weight'];
const SOURCE_KEYS = ['model', 'layer_range', 'parameters'];
const MODULE_KEYS = ['slices', 'models', 'parameters'];

/** A `slices:` list (at `where`), or undefined when it is no list; every problem is reported. */
function sliceList(value: unknown, where: string, problem: Problem, warnings: string[], fileName: string): RecipeSlice[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    problem('RECIPE_INVALID', `${where} must be a list of slices, each "- sources: [{model: <path>, layer_range: [start, end]}, …]".`);
    return undefined;
  }
  const out: RecipeSlice[] = [];
  value.forEach((slice, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(slice)) {
      problem('RECIPE_INVALID', `${at} must be a mapping with "sources:" (got ${describe(slice)}).`);
      return;
    }
    for (const key of Object.keys(slice)) {
      if (key === 'residual_weight') warnings.push(`${fileName}: ${at}.residual_weight is ignored: mergekit reads it but nothing uses it.`);
      else if (key === 'merge_method') warnings.push(`${fileName}: ${at}.merge_method is not a key of a slice and is ignored: mergekit merges every slice with the top-level merge_method.`);
      else if (!SLICE_KEYS.includes(key)) warnings.push(`${fileName}: ${at}: key "${key}" is not a key of a slice and is ignored${suggest(key, SLICE_KEYS)}.`);
    }
    const sources: RecipeSliceSource[] = [];
    if (!Array.isArray(slice.sources) || slice.sources.length === 0) {
      problem('RECIPE_INVALID', `${at}.sources must be a list of entries like "- model: path/to/model" with "layer_range: [start, end]".`);
    } else {
      slice.sources.forEach((source: unknown, j: number) => {
        const sat = `${at}.sources[${j}]`;
        if (!isObject(source) || typeof source.model !== 'string' || source.model.trim() === '') {
          problem('RECIPE_INVALID', `${sat} needs "model: <path or id>" (got ${describe(source)}).`);
          return;
        }
        for (const key of Object.keys(source)) if (!SOURCE_KEYS.includes(key)) warnings.push(`${fileName}: ${sat}: key "${key}" is not a key of a slice's source and is ignored${suggest(key, SOURCE_KEYS)}.`);
        const model = source.model.trim();
        const range = source.layer_range;
        if (!Array.isArray(range) || range.length !== 2 || !range.every((x) => Number.isInteger(x) && x >= 0) || range[0] > range[1]) {
          problem('RECIPE_INVALID', `${sat} ("${model}") needs "layer_range: [start, end]", two whole numbers from 0 with start <= end: the layers start to end - 1 of the model (got ${range === undefined ? 'none' : JSON.stringify(range)}).`);
          return;
        }
        const parameters = parameterMap(source.parameters, `parameters of ${sat} ("${model}")`, problem);
        sources.push({ model, layerRange: [range[0], range[1]], ...(parameters ? { parameters } : {}) });
      });
    }
    duplicateModels(sources.map((s) => s.model), `${at}: `, problem);
    let baseModel: string | undefined;
    if (slice.base_model !== undefined && slice.base_model !== null) {
      if (typeof slice.base_model === 'string' && slice.base_model.trim() !== '') baseModel = slice.base_model.trim();
      else problem('RECIPE_INVALID', `${at}.base_model must be a model path or id, got ${describe(slice.base_model)}.`);
    }
    const parameters = parameterMap(slice.parameters, `${at}.parameters`, problem);
    out.push({ sources, ...(baseModel !== undefined ? { baseModel } : {}), ...(parameters ? { parameters } : {}) });
  });
  return out;
}

/** A `modules:` mapping: module name → its slices or models, and parameters. */
function moduleMap(value: unknown, problem: Problem, warnings: string[], fileName: string): Record<string, RecipeModule> | undefined {
  if (!isObject(value) || Object.keys(value).length === 0) {
    problem('RECIPE_INVALID', `modules must be a mapping of module names (as the model's architecture names them, e.g. text_decoder) to "slices:" or "models:" (got ${describe(value)}).`);
    return undefined;
  }
  const out: Record<string, RecipeModule> = {};
  for (const [name, def] of Object.entries(value)) {
    const at = `modules.${name}`;
    if (!isObject(def)) {
      problem('RECIPE_INVALID', `${at} must be a mapping with "slices:" or "models:" (got ${describe(def)}).`);
      continue;
    }
    for (const key of Object.keys(def)) if (!MODULE_KEYS.includes(key)) warnings.push(`${fileName}: ${at}: key "${key}" is not a key of a module and is ignored${suggest(key, MODULE_KEYS)}.`);
    const hasSlices = def.slices !== undefined && def.slices !== null;
    const hasModels = def.models !== undefined && def.models !== null;
    if (hasSlices === hasModels) {
      problem('RECIPE_INVALID', `${at} needs either "slices:" or "models:"${hasSlices ? ', not both' : ''}.`);
      continue;
    }
    const parameters = parameterMap(def.parameters, `${at}.parameters`, problem);
    if (hasSlices) {
      const slices = sliceList(def.slices, `${at}.slices`, problem, warnings, fileName);
      if (slices) out[name] = { slices, ...(parameters ? { parameters } : {}) };
    } else {
      const models = modelList(def.models, `${at}.models`, 'model', problem);
      duplicateModels(models.map((m) => m.model), `${at}: `, problem);
      out[name] = { models, ...(parameters ? { parameters } : {}) };
    }
  }
  return out;
}

/** mergekit keys a slice's (or a model list's) tensors by model: a second entry of one model would silently replace the first. */
function duplicateModels(names: readonly string[], where: string, problem: Problem): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) problem('RECIPE_INVALID', `${where}model "${name}" is listed twice; list each model once (mergekit would silently keep one of them).`);
    seen.add(name);
  }
}

/** Each name once, in order of first mention, as a model list without parameters. */
function firstMentions(names: readonly string[]): RecipeModel[] {
  return [...new Set(names)].map((model) => ({ model }));
}

/**
 * A `parameters:` mapping. `options` is given for the top level only: there (and only there) the
 * method-choosing keys (STRING_OPTION_KEYS) take a method name, collected into `options`.
 */
function parameterMap(value: unknown, where: string, problem: Problem, options?: Record<string, string>, listOptions?: Record<string, string[]>): ParameterMap | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    problem('PARAMETER_INVALID', `${where} must be a mapping of parameter names to values (got ${describe(value)}).`);
    return undefined;
  }
  const out: Record<string, ParameterSetting> = {};
  const names = `${STRING_OPTION_KEYS.slice(0, -1).join(', ')} and ${STRING_OPTION_KEYS.at(-1)!}`;
  for (const [name, setting] of Object.entries(value)) {
    if (STRING_OPTION_KEYS.includes(name)) {
      if (!options) {
        problem('PARAMETER_INVALID', `${where}: "${name}" chooses a method for the whole merge; move it to the top-level parameters.`);
      } else if (typeof setting === 'string' && setting.trim() !== '') {
        options[name] = setting.trim();
      } else if (name === 'clustering') {
        problem('PARAMETER_INVALID', `${where}: "clustering" must be a name, "kmeans" or "average_linkage"; got ${describe(setting)}.`);
      } else {
        problem('PARAMETER_INVALID', `${where}: "${name}" must be the name of a merge method, e.g. "${name}: ${name === 'group_method' ? 'ties' : 'task_arithmetic'}"; got ${describe(setting)}.`);
      }
      continue;
    }
    if (STRING_LIST_OPTION_KEYS.includes(name)) {
      const list = typeof setting === 'string' ? [setting] : setting;
      if (!listOptions) {
        problem('PARAMETER_INVALID', `${where}: "${name}" applies to the whole merge; move it to the top-level parameters.`);
      } else if (Array.isArray(list) && list.length > 0 && list.every((x) => typeof x === 'string' && x.trim() !== '')) {
        listOptions[name] = list.map((x: string) => x.trim());
      } else {
        problem('PARAMETER_INVALID', `${where}: "${name}" must be a list of tensor-name patterns, e.g. "${name}: [head, bias]"; got ${describe(setting)}.`);
      }
      continue;
    }
    if (typeof setting === 'string') {
      problem(
        'PARAMETER_INVALID',
        `${where}: "${name}" must be a number, true/false, a list of numbers (a gradient over layers) or a list of {filter, value} entries; got the string ${JSON.stringify(setting)}. Only ${names}, in the top-level parameters, take a name (and ${STRING_LIST_OPTION_KEYS.join(', ')} a list of names).`,
      );
      continue;
    }
    const s = parameterSetting(setting);
    if (s === undefined) {
      problem('PARAMETER_INVALID', `${where}: "${name}" must be a number, true/false, a list of numbers (a gradient over layers) or a list of {filter, value} entries; got ${describe(setting)}.`);
    } else {
      out[name] = s;
    }
  }
  return out;
}

function parameterSetting(v: unknown): ParameterSetting | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v;
  // A single {filter, value} entry is read as a list of one (mergekit would reject it at merge time).
  const list = isObject(v) ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  if (list.every((e) => typeof e === 'number' && Number.isFinite(e))) return list as number[];
  const entries: Conditional[] = [];
  for (const e of list) {
    if (!isObject(e) || !('value' in e)) return undefined;
    const inner = e.value;
    const okValue =
      (typeof inner === 'number' && Number.isFinite(inner)) ||
      typeof inner === 'boolean' ||
      (Array.isArray(inner) && inner.length > 0 && inner.every((x) => typeof x === 'number' && Number.isFinite(x)));
    if (!okValue) return undefined;
    if (e.filter !== undefined && e.filter !== null && typeof e.filter !== 'string') return undefined;
    entries.push({ ...(typeof e.filter === 'string' ? { filter: e.filter } : {}), value: inner as Conditional['value'] });
  }
  return entries;
}

function optionalString(root: Record<string, unknown>, key: string, problem: Problem): string | undefined {
  const v = root[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  problem('RECIPE_INVALID', `${key} must be a model path or id, got ${describe(v)}.`);
  return undefined;
}

function optionalDtype(root: Record<string, unknown>, key: string, problem: Problem): RecipeDtype | undefined {
  const v = root[key];
  if (v === undefined || v === null) return undefined;
  const name = typeof v === 'string' ? v.replace(/^torch\./, '') : '';
  const alias: Record<string, RecipeDtype> = { fp32: 'float32', fp16: 'float16', half: 'float16', bf16: 'bfloat16', float: 'float32', double: 'float64', fp64: 'float64' };
  const d = (RECIPE_DTYPES as readonly string[]).includes(name) ? (name as RecipeDtype) : alias[name];
  if (!d) problem('PARAMETER_INVALID', `${key} "${String(v)}" is not a dtype merge-lab writes; use one of ${RECIPE_DTYPES.join(', ')}.`);
  return d;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function suggest(word: string, known: readonly string[]): string {
  const near = known.find((k) => k.startsWith(word.slice(0, 4)) || word.startsWith(k.slice(0, 4)));
  return near ? ` (did you mean "${near}"?)` : '';
}
