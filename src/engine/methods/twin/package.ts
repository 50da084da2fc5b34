/**
 * A Twin-Merging model as files a PyTorch user can load with `safetensors` and `json` alone:
 *
 *   twin.json               what everything is: tasks, tensors and ranks, names of every factor,
 *                           the shared expert's recipe, the router's layout, routing settings, storage
 *   shared.safetensors      θ*, under the model's own tensor names (excluded tensors are not in it)
 *   exclusive.safetensors   per task and tensor: `{task}.{tensor}.us` (U·Σ, m × r) and
 *                           `{task}.{tensor}.v` (V, n × r), or `{task}.{tensor}.delta` (dense), or
 *                           for an excluded tensor `{task}.{tensor}.own` (the task's own copy)
 *   router.safetensors      input.mean, input.std, then the layers twin.json lists (fc*, bn*)
 *
 * All float32. The engine builds and reads the bytes; writing them to a folder is the host's job.
 * Readers should take names from twin.json rather than split them: task and tensor names may
 * themselves contain dots.
 */
import type { Architecture } from '../../demo/manifest.js';
import { checkWeights } from '../../demo/load.js';
import { MergeLabError } from '../../errors.js';
import { TWIN_FILES } from './files.js';
import { memorySource, openSafetensors, serializeSafetensors, type TensorWithData } from '../../io/index.js';
import { parseRecipe } from '../../recipe/parse.js';
import type { Recipe } from '../../recipe/types.js';
import { recipeToObject } from '../../recipe/write.js';
import { routerFromTensors, routerLayout, routerTensors } from '../../router/serialize.js';
import { routerParameterCount, resolveRoutingOptions } from '../../router/route.js';
import type { EpochStats, RouterWeights } from '../../router/types.js';

/** A router's training, as twin.json records it. */
export interface RouterTraining {
  readonly options: Readonly<Record<string, number | string>>;
  readonly curve: readonly EpochStats[];
  readonly split: string;
  readonly bestEpoch?: number;
  readonly samples?: { readonly training: number; readonly heldOut: number };
}
import type { ExclusiveKnowledge, ExclusivePart, TensorValues, TwinTensor } from './exclusive.js';
import { twinStorage, type TwinStorage } from './storage.js';

export const TWIN_FORMAT = 'merge-lab-twin';
/** 2: excluded tensors ('own' parts), rank_ratio, and the router's layers listed in full (1 is still read). */
export const TWIN_VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];
export { TWIN_FILES };

/** Everything a twin is made of, as the engine holds it. */
export interface TwinModel {
  readonly tasks: readonly string[];
  /** Tasks that have an expert and are routed to but are left out of scores (the demo's "hard" ones). */
  readonly hardTasks: readonly string[];
  /** The model's tensors, in order (θ* holds each). */
  readonly tensors: readonly TwinTensor[];
  readonly shared: TensorValues;
  readonly exclusive: ExclusiveKnowledge;
  /** Absent for a twin built without data (routing must then be given, e.g. the true task). */
  readonly router?: RouterWeights;
  /**
   * The router's features are θ*'s penultimate activations; θ* has no excluded tensor, so there the
   * base's is used (as the paper code's shared expert, saved over the base model, has). Stored in
   * router.safetensors as `features.<name>`.
   */
  readonly featureTensors?: Readonly<Record<string, Float32Array>>;
  readonly temperature: number;
  readonly topK: number;
  /** The recipe θ* was merged with. */
  readonly sharedRecipe?: Recipe;
  /** The exclude patterns asked for (exclusive.excluded holds what they matched). */
  readonly exclude?: readonly string[];
  /** A dense-layer stack the dynamic forward can run (the demo's); absent for other models. */
  readonly architecture?: Architecture;
  /** How the router was trained, kept for the record: options, curve (held-out numbers included), the epoch kept, the data. */
  readonly routerTraining?: RouterTraining;
}

/** twin.json, as written. */
export interface TwinManifest {
  readonly format: typeof TWIN_FORMAT;
  readonly version: number;
  readonly method: 'twin_merging';
  readonly reference: string;
  readonly tasks: string[];
  readonly hard_tasks: string[];
  readonly files: { shared: string; exclusive: string; router?: string };
  readonly formula: string;
  readonly shared: { recipe?: Record<string, unknown>; tensors: string[] };
  /** The exclude patterns and the tensors they matched: each task's own copy, picked by the routed task. */
  readonly exclude?: { patterns: string[]; tensors: string[]; rule: string };
  readonly tensors: {
    name: string;
    shape: number[];
    parts: Record<string, { kind: 'lowrank'; rank: number; us: string; v: string; relative_error: number; energy: number } | { kind: 'dense'; delta: string } | { kind: 'own'; values: string }>;
  }[];
  readonly router?: ReturnType<typeof routerLayout> & {
    features: { source: string; layer: number | null; width: number; excluded_tensors?: string[]; note?: string };
    training?: RouterTraining;
  };
  readonly routing: { temperature: number; top_k: number; oracle: string };
  readonly architecture?: Architecture;
  readonly storage: TwinStorage;
}

const factorName = (task: string, tensor: string, what: 'us' | 'v' | 'delta' | 'own') => `${task}.${tensor}.${what}`;

function featuresOf(arch: Architecture | undefined, width: number): { source: string; layer: number | null; width: number } {
  if (!arch) return { source: 'the shared model\'s penultimate activations', layer: null, width };
  if (arch.layers.length < 2) return { source: 'the inputs, times architecture.input.scale', layer: null, width };
  const i = arch.layers.length - 2;
  const l = arch.layers[i]!;
  return { source: `the shared model's output of architecture.layers[${i}] (${l.weight}, ${l.bias}, ${l.activation}): its penultimate activations`, layer: i, width };
}

/** The package's files (twin.json and three safetensors) and the manifest written into twin.json. */
export function buildTwinPackage(model: TwinModel): { files: Record<string, Uint8Array>; manifest: TwinManifest } {
  const { exclusive } = model;
  if (exclusive.tasks.join('\u0000') !== model.tasks.join('\u0000')) {
    throw new MergeLabError('PARAMETER_INVALID', `The exclusive knowledge covers tasks ${exclusive.tasks.join(', ')} but the twin lists ${model.tasks.join(', ')}; build both from the same experts.`);
  }
  const { temperature, topK } = resolveRoutingOptions({ temperature: model.temperature, topK: model.topK }, model.tasks.length);
  if (model.router && model.router.tasks !== model.tasks.length) {
    throw new MergeLabError('SHAPE_MISMATCH', `The router chooses among ${model.router.tasks} tasks but the twin has ${model.tasks.length}; retrain it on these tasks.`);
  }
  const excluded = new Set(exclusive.excluded ?? []);
  const shared: TensorWithData[] = model.tensors.filter((t) => !excluded.has(t.name)).map((t) => {
    const data = model.shared[t.name];
    if (!data) throw new MergeLabError('TENSOR_MISSING', `The shared expert has no tensor "${t.name}" to write.`);
    return { name: t.name, dtype: 'F32', shape: [...t.shape], data };
  });
  const exclusiveTensors: TensorWithData[] = [];
  const tensors: TwinManifest['tensors'] = exclusive.tensors.map((t) => ({ name: t.name, shape: [...t.shape], parts: {} }));
  exclusive.tasks.forEach((task, ti) => {
    exclusive.tensors.forEach((t, j) => {
      const p = exclusive.parts[ti]![j]!;
      if (p.kind === 'lowrank') {
        const [m, n] = t.shape as [number, number];
        const us = factorName(task, t.name, 'us');
        const v = factorName(task, t.name, 'v');
        exclusiveTensors.push({ name: us, dtype: 'F32', shape: [m, p.rank], data: p.us }, { name: v, dtype: 'F32', shape: [n, p.rank], data: p.v });
        tensors[j]!.parts[task] = { kind: 'lowrank', rank: p.rank, us, v, relative_error: p.relativeError, energy: p.energy };
      } else if (p.kind === 'own') {
        const values = factorName(task, t.name, 'own');
        exclusiveTensors.push({ name: values, dtype: 'F32', shape: [...t.shape], data: p.values });
        tensors[j]!.parts[task] = { kind: 'own', values };
      } else {
        const delta = factorName(task, t.name, 'delta');
        exclusiveTensors.push({ name: delta, dtype: 'F32', shape: [...t.shape], data: p.delta });
        tensors[j]!.parts[task] = { kind: 'dense', delta };
      }
    });
  });
  const meta = (role: string) => ({ format: TWIN_FORMAT, role, manifest: TWIN_FILES.manifest });
  const files: Record<string, Uint8Array> = {
    [TWIN_FILES.shared]: serializeSafetensors(shared, meta('shared expert')),
    [TWIN_FILES.exclusive]: serializeSafetensors(exclusiveTensors, meta('exclusive knowledge')),
  };
  const r = model.router;
  const featureTensors: TensorWithData[] = Object.entries(model.featureTensors ?? {}).map(([name, data]) => ({ name: `features.${name}`, dtype: 'F32', shape: [...(model.tensors.find((t) => t.name === name)?.shape ?? [data.length])], data }));
  if (r) files[TWIN_FILES.router] = serializeSafetensors([...routerTensors(r), ...featureTensors], meta('router'));
  const manifest: TwinManifest = {
    format: TWIN_FORMAT,
    version: TWIN_VERSION,
    method: 'twin_merging',
    reference: 'Lu et al., Twin-Merging: Dynamic Integration of Modular Expertise in Model Merging, arXiv:2406.15479',
    tasks: [...model.tasks],
    hard_tasks: [...model.hardTasks],
    files: { shared: TWIN_FILES.shared, exclusive: TWIN_FILES.exclusive, ...(r ? { router: TWIN_FILES.router } : {}) },
    formula:
      'for each tensor: theta(x) = shared + sum over tasks t of w_t(x) * (us_t @ v_t.T)  [dense parts: + w_t(x) * delta_t]; an excluded tensor: own_k with k = argmax_t w_t(x) (the first on a tie)',
    shared: { ...(model.sharedRecipe ? { recipe: recipeToObject(model.sharedRecipe) } : {}), tensors: model.tensors.filter((t) => !excluded.has(t.name)).map((t) => t.name) },
    ...(model.exclude?.length || excluded.size
      ? { exclude: { patterns: [...(model.exclude ?? [])], tensors: [...excluded], rule: 'a tensor is excluded when its name contains one of the patterns' } }
      : {}),
    tensors,
    ...(r
      ? {
          router: {
            ...routerLayout(r),
            features: {
              ...featuresOf(model.architecture, r.features),
              ...(featureTensors.length ? { excluded_tensors: featureTensors.map((t) => t.name), note: "θ* has no excluded tensor: the features use the base's, stored here as features.<name>" } : {}),
            },
            ...(model.routerTraining ? { training: model.routerTraining } : {}),
          },
        }
      : {}),
    routing: { temperature, top_k: topK, oracle: 'one-hot weights on the true task (the upper bound)' },
    ...(model.architecture ? { architecture: model.architecture } : {}),
    storage: twinStorage(model.tensors, exclusive, r ? routerParameterCount(r) + featureTensors.reduce((n, t) => n + t.data.length, 0) : 0),
  };
  files[TWIN_FILES.manifest] = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
  return { files, manifest };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** twin.json problems are INDEX_INVALID: like a shard index, it is the map of the other files. */
function bad(why: string): MergeLabError {
  return new MergeLabError('INDEX_INVALID', `${TWIN_FILES.manifest}: ${why} Rebuild the Twin-Merging package.`);
}

async function readAll(files: Readonly<Record<string, Uint8Array>>, name: string): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
  const bytes = files[name];
  if (!bytes) throw new MergeLabError('PATH_NOT_FOUND', `The Twin-Merging package has no ${name}, which ${TWIN_FILES.manifest} names; copy the whole folder.`);
  const file = await openSafetensors(memorySource(name, bytes));
  try {
    const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const t of file.tensors) out.set(t.name, { shape: t.shape, data: await file.readFloat32(t.name) });
    return out;
  } finally {
    await file.close();
  }
}

/**
 * Reads a package's files (name → bytes, as buildTwinPackage gives them or a folder holds them)
 * back into a TwinModel. Throws INDEX_INVALID for a twin.json it cannot use, PATH_NOT_FOUND for a
 * missing file, TENSOR_MISSING / SHAPE_MISMATCH naming the file and tensor, and the safetensors
 * reader's own errors for a damaged file.
 */
export async function readTwinPackage(files: Readonly<Record<string, Uint8Array>>): Promise<TwinModel & { readonly manifest: TwinManifest }> {
  const text = files[TWIN_FILES.manifest];
  if (!text) throw new MergeLabError('PATH_NOT_FOUND', `A Twin-Merging package needs ${TWIN_FILES.manifest}; none was given.`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(text));
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message}).`);
  }
  if (!isObj(json) || json['format'] !== TWIN_FORMAT || !READABLE_VERSIONS.includes(json['version'] as number)) {
    throw bad(`not a ${TWIN_FORMAT} manifest of a version this merge-lab reads (${READABLE_VERSIONS.join(', ')}).`);
  }
  const manifest = json as unknown as TwinManifest;
  const strings = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(`"${what}" must be a list of names.`);
    return v as string[];
  };
  const tasks = strings(manifest.tasks, 'tasks');
  if (tasks.length === 0) throw bad('"tasks" is empty.');
  const hardTasks = strings(manifest.hard_tasks ?? [], 'hard_tasks');
  const sharedNames = strings(manifest.shared?.tensors, 'shared.tensors');
  if (!Array.isArray(manifest.tensors)) throw bad('"tensors" must be a list.');

  const sharedFile = await readAll(files, manifest.files?.shared ?? TWIN_FILES.shared);
  const exclusiveFile = await readAll(files, manifest.files?.exclusive ?? TWIN_FILES.exclusive);
  // No prototype: a tensor or key named "__proto__" is an ordinary key.
  const shared: Record<string, Float32Array> = Object.create(null) as Record<string, Float32Array>;
  const tensorList: TwinTensor[] = sharedNames.map((name) => {
    const t = sharedFile.get(name);
    if (!t) throw new MergeLabError('TENSOR_MISSING', `${TWIN_FILES.shared} has no tensor "${name}", which ${TWIN_FILES.manifest} lists.`);
    shared[name] = t.data;
    return { name, shape: t.shape };
  });
  const take = (name: string, shape: readonly number[]) => {
    const t = exclusiveFile.get(name);
    if (!t) throw new MergeLabError('TENSOR_MISSING', `${TWIN_FILES.exclusive} has no tensor "${name}", which ${TWIN_FILES.manifest} lists.`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new MergeLabError('SHAPE_MISMATCH', `${TWIN_FILES.exclusive}: "${name}" is [${t.shape.join(', ')}] but ${TWIN_FILES.manifest} implies [${shape.join(', ')}].`);
    }
    return t.data;
  };
  const exTensors: TwinTensor[] = manifest.tensors.map((t, j) => {
    if (!isObj(t) || typeof t.name !== 'string' || !Array.isArray(t.shape) || !isObj(t.parts)) throw bad(`tensors[${j}] needs a name, a shape and parts.`);
    return { name: t.name, shape: t.shape };
  });
  const parts = tasks.map((task) =>
    manifest.tensors.map((t, j): ExclusivePart => {
      const p = t.parts[task];
      if (!isObj(p)) throw bad(`tensor "${t.name}" has no part for task "${task}".`);
      if (p.kind === 'dense') return { kind: 'dense', delta: take(p.delta, t.shape) };
      if (p.kind === 'own') return { kind: 'own', values: take(p.values, t.shape) };
      if (p.kind !== 'lowrank' || !Number.isInteger(p.rank) || p.rank < 1 || t.shape.length !== 2) throw bad(`tensors[${j}].parts["${task}"] is neither a dense delta nor a low-rank pair of a 2-D tensor.`);
      const [m, n] = t.shape as [number, number];
      return { kind: 'lowrank', rank: p.rank, us: take(p.us, [m, p.rank]), v: take(p.v, [n, p.rank]), relativeError: p.relative_error, energy: p.energy };
    }),
  );
  const excluded = exTensors.filter((_, j) => parts.every((row) => row[j]!.kind === 'own')).map((t) => t.name);
  if (exTensors.some((t, j) => !excluded.includes(t.name) && parts.some((row) => row[j]!.kind === 'own'))) throw bad('a tensor is excluded ("own") for some tasks but not all.');
  const exclusive: ExclusiveKnowledge = { tasks, tensors: exTensors, parts, warnings: [], excluded };
  // The model's tensors: θ*'s, then the excluded ones (each task has its own).
  for (const name of excluded) if (!tensorList.some((t) => t.name === name)) tensorList.push(exTensors.find((t) => t.name === name)!);

  let router: RouterWeights | undefined;
  const featureTensors: Record<string, Float32Array> = Object.create(null) as Record<string, Float32Array>;
  if (manifest.files?.router) {
    const rf = await readAll(files, manifest.files.router);
    router = routerFromTensors((name) => rf.get(name), manifest.files.router);
    for (const [name, t] of rf) if (name.startsWith('features.')) featureTensors[name.slice('features.'.length)] = t.data;
    if (router.tasks !== tasks.length) throw new MergeLabError('SHAPE_MISMATCH', `${manifest.files.router} routes among ${router.tasks} tasks but ${TWIN_FILES.manifest} lists ${tasks.length}.`);
  }
  const routing = manifest.routing ?? { temperature: 1, top_k: tasks.length };
  const { temperature, topK } = resolveRoutingOptions({ temperature: routing.temperature, topK: routing.top_k }, tasks.length);
  const recipe = manifest.shared.recipe ? parseRecipe(JSON.stringify(manifest.shared.recipe), `${TWIN_FILES.manifest} shared.recipe`) : undefined;
  // An excluded tensor is checked in the first task's own copy (every task's has the same shape).
  const firstOwn = Object.fromEntries(exTensors.flatMap((t, j) => (parts[0]![j]!.kind === 'own' ? [[t.name, (parts[0]![j] as { values: Float32Array }).values]] : [])));
  const architecture = manifest.architecture ? checkArchitecture(manifest.architecture, { ...firstOwn, ...shared }) : undefined;
  return {
    manifest,
    tasks,
    hardTasks,
    tensors: tensorList,
    shared,
    exclusive,
    router,
    ...(Object.keys(featureTensors).length ? { featureTensors } : {}),
    temperature,
    topK,
    sharedRecipe: recipe,
    ...(manifest.exclude ? { exclude: manifest.exclude.patterns } : {}),
    architecture,
    routerTraining: manifest.router?.training,
  };
}

/** The architecture must be a dense stack whose tensors θ* holds in the right sizes (else the forward would misread). */
function checkArchitecture(a: Architecture, shared: TensorValues): Architecture {
  const ok =
    isObj(a) &&
    isObj(a.input) &&
    [a.input.height, a.input.width, a.input.scale, a.classes].every((x) => typeof x === 'number' && Number.isFinite(x)) &&
    Array.isArray(a.layers) &&
    a.layers.length > 0 &&
    a.layers.every((l) => isObj(l) && l.type === 'dense' && typeof l.weight === 'string' && typeof l.bias === 'string' && Number.isInteger(l.inputs) && Number.isInteger(l.outputs) && (l.activation === 'relu' || l.activation === 'none'));
  if (!ok) throw bad('"architecture" is not a stack of dense layers (input, layers with weight, bias, inputs, outputs, activation relu|none; classes).');
  let width = a.input.height * a.input.width;
  a.layers.forEach((l, i) => {
    if (l.inputs !== width) throw bad(`architecture.layers[${i}] reads ${l.inputs} values but the previous layer gives ${width}.`);
    width = l.outputs;
  });
  checkWeights(a, shared, TWIN_FILES.shared);
  return a;
}
