/**
 * Checks the routed methods share, run before any tensor is read so one run reports every problem
 * at once, with the planner's codes and wording (merge/plan-merge.ts): the base and enough experts,
 * models that failed to open, parameter names, types and ranges, and every expert holding every
 * tensor of the base in the same shape (a routed method rebuilds each expert, so unlike
 * mergekit's TIES it cannot leave one out of a tensor).
 */
import { MergeLabError, type ErrorCode } from '../errors.js';
import type { Checkpoint, DType } from '../io/types.js';
import { closest } from '../methods/registry.js';
import type { MergeMethod, ParamSpec } from '../methods/types.js';
import type { ParameterSetting, Recipe } from '../recipe/types.js';

/** At most this many tensor names are spelled out in one problem. */
const EXAMPLES = 3;
const FLOAT_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16', 'F64'];

/** Problems of one validation pass, each said once. */
export class Problems {
  private readonly seen = new Set<string>();
  readonly list: MergeLabError[] = [];

  add(code: ErrorCode, message: string): void {
    const key = `${code}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(new MergeLabError(code, message));
  }

  get size(): number {
    return this.list.length;
  }
}

/** The recipe's experts: its models other than the base, in recipe order. */
export function expertsOf(recipe: Recipe): string[] {
  return recipe.models.map((m) => m.model).filter((m) => m !== recipe.baseModel);
}

/**
 * What every routed recipe needs: a base, at least `minExperts` experts (at most `maxExperts`),
 * "models:" rather than slices, and models that opened. Returns the experts.
 */
export function checkModels(
  methodId: string,
  recipe: Recipe,
  failures: ReadonlyMap<string, MergeLabError> | undefined,
  problems: Problems,
  limits: { readonly minExperts: number; readonly maxExperts?: number },
): string[] {
  if (recipe.baseModel === undefined) {
    problems.add('BASE_MODEL_REQUIRED', `${methodId} needs base_model: the model the experts were fine-tuned from. Add "base_model: <path>" to the recipe.`);
  }
  if (recipe.layerRange || recipe.sliceParameters || recipe.slices || recipe.modules) {
    problems.add('RECIPE_INVALID', `${methodId} reads its experts from "models:", not "${recipe.modules ? 'modules' : 'slices'}:"; list them as "- model: <path>" entries.`);
  }
  const experts = expertsOf(recipe);
  if (experts.length < limits.minExperts) {
    problems.add('TOO_FEW_MODELS', `${methodId} needs the base_model and at least ${limits.minExperts} other models (the experts); the recipe has ${experts.length} besides the base.`);
  }
  if (limits.maxExperts !== undefined && experts.length > limits.maxExperts) {
    problems.add('TOO_MANY_MODELS', `${methodId} takes at most ${limits.maxExperts} experts; the recipe has ${experts.length}. Merge fewer at once.`);
  }
  for (const [name, err] of failures ?? []) problems.add(err.code, err.message.startsWith(`Model "${name}"`) ? err.message : `Model "${name}": ${err.message}`);
  return experts;
}

/** "[a, b)"-style range of a spec, as the planner writes it. */
function range(spec: ParamSpec): string {
  return `${spec.minExclusive ? '(' : '['}${spec.min ?? '-∞'}, ${spec.max ?? '∞'}${spec.maxExclusive ? ')' : ']'}`;
}

/**
 * One of the method's own top-level parameters: a single number (or true/false for a boolean),
 * of the spec's type and range. Returns the value, or undefined after reporting a problem.
 */
export function scalarParam(methodId: string, spec: ParamSpec, setting: ParameterSetting, problems: Problems): number | boolean | undefined {
  const who = `${spec.name} (top-level parameters)`;
  if (typeof setting !== 'number' && typeof setting !== 'boolean') {
    problems.add('PARAMETER_INVALID', `${who} must be one ${spec.type === 'boolean' ? 'true or false' : 'number'} for the whole ${methodId} merge; gradients and filter lists apply per tensor, which it does not. ${spec.help}`);
    return undefined;
  }
  if (spec.type === 'boolean') {
    if (typeof setting === 'boolean') return setting;
    if (setting === 0 || setting === 1) return setting === 1;
    problems.add('PARAMETER_INVALID', `${who} must be true or false, got ${setting}.`);
    return undefined;
  }
  const x = typeof setting === 'boolean' ? Number(setting) : setting;
  if (spec.type === 'integer' && !Number.isInteger(x)) {
    problems.add('PARAMETER_INVALID', `${who} must be a whole number, got ${x}.`);
    return undefined;
  }
  const below = spec.min !== undefined && (spec.minExclusive ? x <= spec.min : x < spec.min);
  const above = spec.max !== undefined && (spec.maxExclusive ? x >= spec.max : x > spec.max);
  if (below || above) {
    problems.add('PARAMETER_OUT_OF_RANGE', `${who} is ${x}, outside ${range(spec)}. ${spec.help}`);
    return undefined;
  }
  return x;
}

/** A value a whole-merge setting must not exceed, given what the recipe holds (e.g. K ≤ T). */
export function atMost(spec: ParamSpec, x: number, max: number, why: string, problems: Problems): boolean {
  if (x <= max) return true;
  problems.add('PARAMETER_OUT_OF_RANGE', `${spec.name} (top-level parameters) is ${x}, outside [${spec.min ?? 1}, ${max}]: ${why}. ${spec.help}`);
  return false;
}

/**
 * An unknown parameter name: UNKNOWN_PARAMETER naming the closest known one and every name taken,
 * in groups (the method's own, then its inner method's).
 */
export function unknownParameter(where: string, name: string, methodId: string, groups: readonly { readonly of?: string; readonly names: readonly string[] }[], problems: Problems): void {
  const near = closest(name, groups.flatMap((g) => g.names));
  const takes = groups
    .filter((g) => g.names.length > 0 || g.of)
    .map((g) => (g.of ? `${g.of}'s ${g.names.length ? g.names.join(', ') : '(none)'}` : g.names.join(', ')))
    .join('; and ');
  problems.add('UNKNOWN_PARAMETER', `${where}: "${name}" is not a parameter of ${methodId}${near ? ` (did you mean "${near}"?)` : ''}. It takes ${takes}.`);
}

/** A method-choosing option that is not one of the method's (e.g. group_method in a twin recipe). */
export function checkOptionNames(methodId: string, recipe: Recipe, allowed: readonly string[], problems: Problems): void {
  for (const name of Object.keys(recipe.options ?? {})) {
    if (!allowed.includes(name)) {
      problems.add('UNKNOWN_PARAMETER', `parameters: "${name}" is not a parameter of ${methodId}${allowed.length ? `; it chooses its inner method with ${allowed.join(', ')}` : ''}.`);
    }
  }
}

/** The inner method named by an option, or UNKNOWN_METHOD naming the closest of `choices`. */
export function innerMethod(option: string, id: string, methods: readonly MergeMethod[], choices: readonly string[], problems: Problems): MergeMethod | undefined {
  const m = methods.find((x) => x.id === id);
  if (m && choices.includes(id)) return m;
  if (m) {
    problems.add('PARAMETER_INVALID', `${option} "${id}" cannot be used here; use one of: ${choices.join(', ')}.`);
    return undefined;
  }
  const near = closest(id, choices);
  problems.add('UNKNOWN_METHOD', `${option} "${id}" is not a method merge-lab knows.${near ? ` Did you mean "${near}"?` : ''} Known here: ${choices.join(', ')}.`);
  return undefined;
}

/**
 * Every float tensor of the base must be in every expert with the same shape. Returns the base's
 * float tensors (name and shape, in file order); non-float ones are left out with a warning.
 */
export function checkHeaders(
  methodId: string,
  recipe: Recipe,
  experts: readonly string[],
  checkpoints: ReadonlyMap<string, Checkpoint>,
  problems: Problems,
  warnings: string[],
): { name: string; shape: number[] }[] {
  const base = recipe.baseModel === undefined ? undefined : checkpoints.get(recipe.baseModel);
  if (!base) return [];
  const tensors: { name: string; shape: number[] }[] = [];
  const skipped: string[] = [];
  for (const name of base.tensorNames) {
    const info = base.info(name)!;
    if (FLOAT_DTYPES.includes(info.dtype)) tensors.push({ name, shape: [...info.shape] });
    else skipped.push(`${name} (${info.dtype})`);
  }
  if (skipped.length) warnings.push(`${skipped.length} non-float tensor(s) of the base are not merged and not written: ${skipped.slice(0, EXAMPLES).join(', ')}${skipped.length > EXAMPLES ? ', …' : ''}.`);
  if (tensors.length === 0) problems.add('NO_CHECKPOINT', `The base model "${recipe.baseModel}" has no float tensors to merge.`);
  const more = (list: readonly string[]) =>
    list.length > 1 ? ` The same holds for ${list.length - 1} more tensor(s): ${list.slice(1, EXAMPLES + 1).join(', ')}${list.length - 1 > EXAMPLES ? ', …' : ''}.` : '';
  for (const e of experts) {
    const c = checkpoints.get(e);
    if (!c || c === base) continue;
    const missing: string[] = [];
    const misshapen: string[] = [];
    for (const t of tensors) {
      const other = c.info(t.name);
      if (!other) missing.push(t.name);
      else if (other.shape.join(',') !== t.shape.join(',')) misshapen.push(`${t.name} [${other.shape.join(', ')}] (the base's is [${t.shape.join(', ')}])`);
    }
    if (missing.length) {
      problems.add('TENSOR_MISSING', `Model "${e}" has no tensor ${missing[0]}, which the base model has; ${methodId} rebuilds every expert, so all must share the base's architecture.${more(missing)}`);
    }
    if (misshapen.length) {
      problems.add('SHAPE_MISMATCH', `Model "${e}" holds tensor ${misshapen[0]}; ${methodId} rebuilds every expert, so all must have the base's shapes.${more(misshapen)}`);
    }
  }
  return tensors;
}
