/**
 * Which method merges the rows inside a Channel Merging group, with its parameters resolved once
 * for every tensor: 'average' (the default, the plain mean of the members' weights), or any
 * task-vector method of the registry (task_arithmetic, ties, dare_ties, breadcrumbs, della …),
 * whose own prepare/block code does the merging (see group-merge.ts).
 */
import { MergeLabError } from '../../errors.js';
import { AVERAGE } from '../catalog.js';
import { closest, METHODS } from '../registry.js';
import type { MergeMethod, ParamSpec, ParamValue } from '../types.js';

/** What a caller asks for: a method id and flat parameters (per-model ones apply to every expert). */
export interface GroupMethodSpec {
  /** 'average' or a task-vector method id from the registry. */
  readonly id: string;
  /** e.g. { density: 0.3, lambda: 1 } for ties. `weight` defaults to 1 for every expert. */
  readonly params?: Readonly<Record<string, ParamValue>>;
  /**
   * What a group with a single member stores at a channel. 'expert' (default): that expert's row
   * unchanged — there is nothing to reconcile, and a trim or λ would only lose what the expert
   * learned. 'method': the method applied to the one model (a TIES group of one is trimmed).
   */
  readonly singletons?: 'expert' | 'method';
}

/** A group method ready to run: the registry method (absent for 'average') and resolved parameters. */
export interface ResolvedGroupMethod {
  readonly id: string;
  readonly method?: MergeMethod;
  /** Parameters as given plus defaults, for channel.json and MethodRow params. */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Per-model parameters, the same for every expert (weight, density, gamma, epsilon). */
  readonly perModel: Readonly<Record<string, ParamValue | undefined>>;
  /** Global parameters (lambda, normalize, rescale …), defaults filled. */
  readonly global: Readonly<Record<string, ParamValue | undefined>>;
  /** TIES-style sign election: members outside a group then drop out by having τ = 0. */
  readonly consensus: boolean;
  readonly normalize: boolean;
  readonly singletons: 'expert' | 'method';
}

export { AVERAGE };

/**
 * Checks and completes a group method. Errors: UNKNOWN_METHOD for an unknown id,
 * PARAMETER_INVALID for methods that do not merge task vectors, UNKNOWN_PARAMETER and
 * PARAMETER_OUT_OF_RANGE for parameters the method does not take or cannot use.
 */
export function resolveGroupMethod(spec: GroupMethodSpec = { id: AVERAGE }, methods: readonly MergeMethod[] = METHODS): ResolvedGroupMethod {
  const singletons = spec.singletons ?? 'expert';
  const given = spec.params ?? {};
  if (spec.id === AVERAGE) {
    const extra = Object.keys(given);
    if (extra.length) {
      throw new MergeLabError('UNKNOWN_PARAMETER', `Channel Merging's "average" takes no parameters (got ${extra.join(', ')}); use task_arithmetic with normalize: true for a scaled mean, or ties for trims.`);
    }
    return { id: AVERAGE, params: {}, perModel: {}, global: {}, consensus: false, normalize: true, singletons };
  }
  const method = methods.find((m) => m.id === spec.id);
  if (!method) {
    const near = closest(spec.id, [AVERAGE, ...methods.filter((m) => m.taskVectors).map((m) => m.id)]);
    throw new MergeLabError('UNKNOWN_METHOD', `Channel Merging's group method "${spec.id}" is not known.${near ? ` Did you mean "${near}"?` : ''}`);
  }
  if (!method.taskVectors || method.base !== 'required') {
    const ok = [AVERAGE, ...methods.filter((m) => m.taskVectors).map((m) => m.id)].join(', ');
    throw new MergeLabError('PARAMETER_INVALID', `Channel Merging merges within groups with task vectors against the base; "${method.id}" does not. Use one of: ${ok}.`);
  }
  const perModel: Record<string, ParamValue | undefined> = {};
  const global: Record<string, ParamValue | undefined> = {};
  const params: Record<string, ParamValue> = {};
  for (const name of Object.keys(given)) {
    if (!method.params.some((p) => p.name === name)) {
      throw new MergeLabError('UNKNOWN_PARAMETER', `"${name}" is not a parameter of ${method.id} (its parameters: ${method.params.map((p) => p.name).join(', ')}).`);
    }
  }
  for (const p of method.params) {
    // mergekit requires a weight per model; inside groups every expert counts the same unless told.
    const v = given[p.name] ?? (p.name === 'weight' ? 1 : p.default);
    if (v !== undefined) checkParam(method.id, p, v);
    (p.scope === 'model' ? perModel : global)[p.name] = v;
    if (v !== undefined && p.name !== 'int8_mask') params[p.name] = v;
  }
  const normalizeSpec = method.params.find((p) => p.name === 'normalize');
  const normalize = Boolean(global.normalize ?? normalizeSpec?.default ?? false);
  return { id: method.id, method, params, perModel, global, consensus: method.taskVectors.consensus !== undefined, normalize, singletons };
}

function checkParam(method: string, p: ParamSpec, v: ParamValue): void {
  const bad = (why: string) => new MergeLabError('PARAMETER_OUT_OF_RANGE', `${method}'s ${p.name} for Channel Merging ${why}; got ${v}. ${p.help}`);
  if (p.type === 'boolean') {
    if (typeof v !== 'boolean') throw bad('must be true or false');
    return;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('must be a number');
  if (p.type === 'integer' && !Number.isInteger(v)) throw bad('must be an integer');
  if (p.min !== undefined && (p.minExclusive ? v <= p.min : v < p.min)) throw bad(`must be ${p.minExclusive ? 'above' : 'at least'} ${p.min}`);
  if (p.max !== undefined && (p.maxExclusive ? v >= p.max : v > p.max)) throw bad(`must be ${p.maxExclusive ? 'below' : 'at most'} ${p.max}`);
}
