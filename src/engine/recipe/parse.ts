/**
 * Reading a mergekit YAML recipe into a Recipe. Every structural problem is collected and reported
 * together, each naming the key at fault; checks that need the method's schema or the checkpoints
 * happen when planning (merge/plan-merge.ts).
 */
import { parseDocument } from 'yaml';
import { MergeLabError, combineProblems } from '../errors.js';
import { readTokenizerKeys } from './tokenizer-keys.js';
import { RECIPE_DTYPES, RECIPE_MATHS, STRING_LIST_OPTION_KEYS, STRING_OPTION_KEYS, type RecipeMath, type Conditional, type ParameterMap, type ParameterSetting, type Recipe, type RecipeDtype, type RecipeModel } from './types.js';

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
  if (root.modules !== undefined) problem('RECIPE_INVALID', '"modules" recipes (multi-module models) are not supported; use "models".');

  let models: RecipeModel[] = [];
  let sliceParameters: ParameterMap | undefined;
  let layerRange: [number, number] | undefined;
  const hasModels = root.models !== undefined && root.models !== null;
  const hasSlices = root.slices !== undefined && root.slices !== null;
  if (hasModels === hasSlices) {
    problem('RECIPE_INVALID', hasModels ? 'give either "models" or "slices", not both.' : 'the recipe lists no models; add "models:" with one "- model: <path>" entry per checkpoint.');
  } else if (hasModels) {
    models = modelList(root.models, 'models', 'model', problem);
  } else {
    const slices = root.slices;
    if (!Array.isArray(slices) || slices.length !== 1 || !isObject(slices[0])) {
      problem('RECIPE_INVALID', '"slices" is supported only as one slice whose sources share one layer_range (which equals "models"); stacking layer ranges (passthrough merges) is not supported.');
    } else {
      const slice = slices[0];
      models = modelList(slice.sources, 'slices[0].sources', 'model', problem);
      const ranges = Array.isArray(slice.sources) ? slice.sources.map((s: unknown) => (isObject(s) ? s.layer_range : undefined)) : [];
      const first = ranges[0];
      if (!ranges.every((r: unknown) => isRange(r) && isRange(first) && r[0] === first[0] && r[1] === first[1])) {
        problem('RECIPE_INVALID', 'every source of the slice needs the same layer_range [start, end]; different ranges (frankenmerges) are not supported.');
      } else if (isRange(first)) {
        layerRange = [first[0], first[1]];
      }
      sliceParameters = parameterMap(slice.parameters, 'slices[0].parameters', problem);
      if (typeof slice.base_model === 'string' && baseModel === undefined) {
        warnings.push(`${fileName}: slices[0].base_model is used as the base_model.`);
      }
    }
  }

  const seen = new Set<string>();
  for (const m of models) {
    if (seen.has(m.model)) problem('RECIPE_INVALID', `model "${m.model}" is listed twice; list each model once (mergekit would silently keep one of them).`);
    seen.add(m.model);
  }

  if (problems.length > 0) throw combineProblems(problems);
  let base = baseModel;
  if (base === undefined && hasSlices && Array.isArray(root.slices) && isObject(root.slices[0]) && typeof root.slices[0].base_model === 'string') base = root.slices[0].base_model;
  return {
    mergeMethod: (method as string).trim(),
    ...(base !== undefined ? { baseModel: base } : {}),
    models,
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

function isRange(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 0) && v[0] < v[1];
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
