/**
 * `merge_method: channel_merging` (spec "Channel Merging"; arXiv:2412.15283, our reconstruction) as a recipe:
 *
 *   merge_method: channel_merging
 *   base_model: base
 *   models: [{model: ft-a}, {model: ft-b}, {model: ft-c}]
 *   parameters: {groups: 2, group_method: ties, density: 0.5, lambda: 1, clustering: kmeans}
 *
 * Per output channel the experts' task-vector rows are grouped into `groups` (K) groups (k-means,
 * seeded by random_seed, or average linkage: `clustering`) and each
 * group merged with `group_method` ('average' — or its mergekit name 'linear' — or any task-vector
 * method of the registry, with its own parameters beside it), giving K merged copies and a uint8
 * index table (methods/channel). Channel Merging resolves the group method's parameters once for
 * the whole model, so they are single values: a per-model one must be the same for every expert.
 * The package has no router: that needs data (channel.json says so).
 */
import { combineProblems, isMergeLabError } from '../errors.js';
import { numel, type DType } from '../io/index.js';
import { decodeToFloat32, encodeFromFloat32 } from '../io/dtypes.js';
import type { Checkpoint } from '../io/types.js';
import { throwIfCancelled } from '../merge/progress.js';
import { METHODS } from '../methods/registry.js';
import type { ParamValue } from '../methods/types.js';
import {
  AVERAGE,
  CHANNEL_FILES,
  MAX_TASKS,
  buildChannelPackage,
  channelStorage,
  checkpointSource,
  clusterChannels,
  clusteringVectors,
  eachTensor,
  lookupTensor,
  mergeTensor,
  resolveGroupMethod,
  tensorContext,
  type ChannelModel,
  type ChannelTensor,
  type GroupMethodSpec,
  type GroupsDtype,
} from '../methods/channel/index.js';
import { publicMethod } from '../methods/channel/channel-merge.js';
import { CLUSTERING_METHODS, DEFAULT_CLUSTERING, type ClusteringMethod } from '../methods/channel/cluster.js';
import { DEFAULT_RANDOM_SEED } from '../merge/seed.js';
import { assignmentMap } from '../methods/channel/assignment.js';
import type { Recipe } from '../recipe/types.js';
import { recipeToObject } from '../recipe/write.js';
import { abortSignal, describeErrors, describeStorage, fmtParams, injectJson, pct } from './report.js';
import { CHANNEL_ID, CHANNEL_INFO, CHANNEL_PARAMS, CLUSTERING, GROUP, GROUP_CHOICES, LINEAR } from './info.js';
import type { RoutedBuildOptions, RoutedMethod, RoutedPackage, RoutedReport, RoutedValidateInput, TensorError } from './types.js';
import { Problems, atMost, checkHeaders, checkModels, checkOptionNames, innerMethod, scalarParam, unknownParameter } from './validate.js';

const ID = CHANNEL_ID;

const spec = (name: string) => CHANNEL_PARAMS.find((p) => p.name === name)!;

const DTYPES: Readonly<Record<string, GroupsDtype>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

interface ChannelSettings {
  readonly base: string;
  readonly experts: readonly string[];
  readonly K: number;
  readonly method: GroupMethodSpec;
  readonly similarity: 'raw' | 'trimmed';
  readonly clustering: ClusteringMethod;
  readonly dtype: GroupsDtype;
  readonly randomSeed?: number;
}

function resolveChannel(input: RoutedValidateInput, problems: Problems, warnings: string[]): ChannelSettings | undefined {
  const { recipe, checkpoints } = input;
  const experts = checkModels(ID, recipe, input.failures, problems, { minExperts: 2, maxExperts: MAX_TASKS });
  checkOptionNames(ID, recipe, [GROUP, CLUSTERING], problems);
  const clustering = (recipe.options?.[CLUSTERING] ?? DEFAULT_CLUSTERING) as ClusteringMethod;
  if (!CLUSTERING_METHODS.includes(clustering)) {
    problems.add('PARAMETER_INVALID', `parameters: clustering "${clustering}" is not a way ${ID} groups rows; use ${CLUSTERING_METHODS.join(' or ')}.`);
  }
  for (const name of Object.keys(recipe.listOptions ?? {})) problems.add('UNKNOWN_PARAMETER', `parameters: "${name}" is not a parameter of ${ID} (Twin-Merging's exclude keeps tensors out of the merge; Channel Merging groups every tensor).`);
  const asked = recipe.options?.[GROUP] ?? AVERAGE;
  const groupId = asked === LINEAR ? AVERAGE : asked;
  const inner = groupId === AVERAGE ? undefined : innerMethod(GROUP, groupId, METHODS, GROUP_CHOICES, problems);
  const innerKnown = groupId === AVERAGE || inner !== undefined;
  const innerSpecs = inner?.params ?? [];
  const known = [{ names: CHANNEL_PARAMS.map((p) => p.name) }, { of: `its ${GROUP} ${asked}`, names: innerSpecs.map((p) => p.name) }];
  const own: Record<string, number | boolean> = {};
  const params: Record<string, ParamValue> = {};

  for (const [name, setting] of Object.entries(recipe.parameters ?? {})) {
    const mine = CHANNEL_PARAMS.find((p) => p.name === name);
    const theirs = innerSpecs.find((p) => p.name === name);
    if (mine) {
      const v = scalarParam(ID, mine, setting, problems);
      if (v !== undefined) own[name] = v;
    } else if (theirs) {
      const v = scalarParam(`${ID} (${GROUP} ${groupId})`, theirs, setting, problems);
      if (v !== undefined) params[name] = v;
    } else if (innerKnown) {
      unknownParameter('parameters', name, ID, known, problems);
    }
  }

  // Per-model parameters: one value for every expert (the group method is resolved once).
  const perModel = new Map<string, Map<string, string[]>>();
  for (const m of recipe.models) {
    if (m.model === recipe.baseModel) continue;
    for (const [name, setting] of Object.entries(m.parameters ?? {})) {
      const theirs = innerSpecs.find((p) => p.name === name);
      if (asked === LINEAR && name === 'weight') {
        // linear with equal weights is the plain mean; unequal ones are checked below.
      } else if (!innerKnown) {
        continue;
      } else if (!theirs) {
        unknownParameter(`parameters of model "${m.model}"`, name, `${GROUP} ${asked}`, [{ names: innerSpecs.filter((p) => p.scope === 'model').map((p) => p.name) }], problems);
        continue;
      } else if (theirs.scope === 'global') {
        problems.add('PARAMETER_INVALID', `parameters of model "${m.model}": "${name}" applies to the whole merge; move it to the top-level parameters.`);
        continue;
      }
      const key = JSON.stringify(setting);
      const byValue = perModel.get(name) ?? new Map<string, string[]>();
      byValue.set(key, [...(byValue.get(key) ?? []), m.model]);
      perModel.set(name, byValue);
    }
  }
  for (const [name, byValue] of perModel) {
    const givenBy = [...byValue.values()].flat();
    if (byValue.size > 1 || givenBy.length !== experts.length) {
      const values = [...byValue.entries()].map(([v, models]) => `${v} for ${models.map((x) => `"${x}"`).join(', ')}`).join('; ');
      problems.add(
        'PARAMETER_INVALID',
        `parameters of the models: "${name}" is ${values}${givenBy.length !== experts.length ? ' and unset for the others' : ''}; ${ID} merges every group with one ${name} for every expert. Give it once, under the top-level parameters.`,
      );
      continue;
    }
    const setting = JSON.parse([...byValue.keys()][0]!) as number | boolean | number[];
    if (asked === LINEAR && name === 'weight') continue;
    const theirs = innerSpecs.find((p) => p.name === name)!;
    if (name in params) {
      problems.add('PARAMETER_INVALID', `"${name}" is given both under the top-level parameters and for every model; give it once.`);
      continue;
    }
    const v = scalarParam(`${ID} (${GROUP} ${groupId})`, theirs, setting, problems);
    if (v !== undefined) params[name] = v;
  }

  const K = (own.groups as number | undefined) ?? (spec('groups').default as number);
  if (experts.length > 0) atMost(spec('groups'), K, experts.length, `there are ${experts.length} experts, and K = ${experts.length} already keeps each of them`, problems);

  const dtypeName = recipe.outDtype ?? recipe.dtype ?? 'float32';
  const dtype = DTYPES[dtypeName];
  if (!dtype) problems.add('PARAMETER_INVALID', `${recipe.outDtype ? 'out_dtype' : 'dtype'} ${dtypeName}: ${ID} stores its groups as float32, float16 or bfloat16.`);

  const method: GroupMethodSpec = { id: groupId, ...(Object.keys(params).length ? { params } : {}), singletons: own.merge_singletons === true ? 'method' : 'expert' };
  if (problems.size === 0) {
    // The module's own checks (e.g. a parameter the group method cannot use), should any remain.
    try {
      resolveGroupMethod(method);
    } catch (e) {
      if (!isMergeLabError(e)) throw e;
      problems.add(e.code, `${GROUP} ${asked}: ${e.message}`);
    }
  }
  if (checkpoints.size > 0) checkHeaders(ID, recipe, experts, checkpoints, problems, warnings);
  if (problems.size > 0) return undefined;
  return {
    base: recipe.baseModel!,
    experts,
    K,
    method,
    similarity: own.cluster_trimmed === true ? 'trimmed' : 'raw',
    clustering,
    dtype: dtype!,
    ...(recipe.randomSeed !== undefined ? { randomSeed: recipe.randomSeed } : {}),
  };
}

/** float32 values as `dtype` stores them (what the package's reader decodes). */
function stored(values: Float32Array, dtype: GroupsDtype): Float32Array {
  return dtype === 'F32' ? values : decodeToFloat32(dtype as DType, encodeFromFloat32(dtype as DType, values), true);
}

/** Per task: ‖W_t − θ_t‖ / ‖θ_t − θ0‖ on one tensor (0 when rebuilt exactly; Infinity when θ_t = θ0 but W_t differs). */
function tensorErrors(t: ChannelTensor, base: Float32Array, experts: readonly Float32Array[]): number[] {
  return experts.map((e, task) => {
    const w = lookupTensor(t, task, experts.length);
    let num = 0;
    let den = 0;
    for (let i = 0; i < e.length; i++) {
      const d = w[i]! - e[i]!;
      const tau = e[i]! - base[i]!;
      num += d * d;
      den += tau * tau;
    }
    return den > 0 ? Math.sqrt(num / den) : num > 0 ? Infinity : 0;
  });
}

async function buildChannel(recipe: Recipe, checkpoints: ReadonlyMap<string, Checkpoint>, o: RoutedBuildOptions = {}): Promise<RoutedPackage> {
  const problems = new Problems();
  const warnings: string[] = [];
  const s = resolveChannel({ recipe, checkpoints, config: o.config }, problems, warnings);
  if (!s) throw combineProblems(problems.list);
  const warn = (m: string) => {
    if (warnings.includes(m)) return;
    warnings.push(m);
    o.onWarning?.(m);
  };
  const source = checkpointSource(checkpoints, s.base, s.experts);
  const resolved = resolveGroupMethod(s.method);
  const T = s.experts.length;
  const bytesOf = (shape: readonly number[]) => 4 * numel(shape) * (T + 1);
  const bytesTotal = source.tensors.reduce((sum, t) => sum + bytesOf(t.shape), 0);
  const started = Date.now();
  let bytesDone = 0;
  const seed = s.randomSeed ?? DEFAULT_RANDOM_SEED;
  // sweep[k - 1][task]: Σ over tensors of the error at K = k (errorSweep only).
  const sweep = o.errorSweep ? Array.from({ length: T }, () => new Array<number>(T).fill(0)) : undefined;
  let done = 0;
  const built = await eachTensor(source, o.cancel ? abortSignal(o.cancel) : undefined, ID, async (spec, base, experts, owner) => {
    throwIfCancelled(o.cancel);
    const ctx = tensorContext(source, spec.name, spec.shape, base, experts, resolved, { randomSeed: s.randomSeed, warn, channels: spec.channels });
    const d = owner ?? clusterChannels({ tensorName: spec.name, shape: spec.shape, vectors: clusteringVectors(ctx, s.similarity) }, { method: s.clustering, seed });
    const merged = await mergeTensor(ctx, d, s.K);
    const t: ChannelTensor = { ...merged, groups: stored(merged.groups, s.dtype) };
    const error: TensorError = { name: spec.name, shape: spec.shape, kind: 'channel', channels: t.channels, errors: tensorErrors(t, base, experts) };
    if (sweep) {
      for (let k = 1; k <= T; k++) {
        const at = k === s.K ? t : await mergeTensor(ctx, d, k).then((m) => ({ ...m, groups: stored(m.groups, s.dtype) }));
        tensorErrors(at, base, experts).forEach((e, task) => (sweep[k - 1]![task]! += e));
      }
    }
    bytesDone += bytesOf(spec.shape);
    o.onProgress?.({ tensorIndex: ++done, tensorCount: source.tensors.length, tensorName: spec.name, bytesDone, bytesTotal, elapsedMs: Date.now() - started });
    return { result: { t, error, assignment: o.assignments ? assignmentMap(t, s.experts, s.K) : undefined }, clustering: d };
  });
  throwIfCancelled(o.cancel);
  const tensors = built.map((b) => b.t);
  const errors = built.map((b) => b.error);
  const assignments = built.flatMap((b) => (b.assignment ? [b.assignment] : []));
  const model: ChannelModel = { tasks: s.experts, baseName: s.base, K: s.K, method: publicMethod(resolved), similarity: s.similarity, clustering: s.clustering, seed, tensors };
  const { files, manifest } = buildChannelPackage(model, { dtype: s.dtype });
  files[CHANNEL_FILES.manifest] = injectJson(files[CHANNEL_FILES.manifest]!, 'files', {
    provenance: {
      built_by: 'merge-lab merge',
      recipe: recipeToObject(recipe),
      data: 'none',
      router: `not built: a router learns from labelled inputs, and a merge of checkpoints has none. Look rows up with the task you know (the oracle), or train a router and add ${CHANNEL_FILES.router}.`,
    },
  });
  const st = manifest.storage;
  const bytesPer = st.bytesPerParam;
  const report: RoutedReport = {
    method: ID,
    tasks: s.experts,
    inner: { role: 'group method', id: resolved.id, params: resolved.params },
    setting: { K: s.K },
    clustering: s.clustering,
    tensors: errors,
    storage: { values: st.groupParams + st.indexEntries, bytes: st.packageBytes, expertValues: st.expertParams, expertBytes: st.expertBytes, ratio: st.ratio },
    storageSweep: Array.from({ length: T }, (_, k) => {
      const x = channelStorage(tensors, T, k + 1, { bytesPerParam: bytesPer });
      const taskErrors = sweep?.[k]!.map((e) => e / Math.max(1, tensors.length));
      return { setting: k + 1, bytes: x.packageBytes, ratio: x.ratio, ...(taskErrors ? { taskErrors, meanError: taskErrors.reduce((a, b) => a + b, 0) / T } : {}) };
    }),
    ...(o.assignments ? { assignments } : {}),
    router: false,
    warnings,
  };
  return { files, report };
}

function describeChannel(r: RoutedReport): string[] {
  const channels = r.tensors.reduce((n, t) => n + (t.channels ?? (t.shape.length >= 2 ? t.shape[0]! : 1)), 0);
  return [
    `${ID}: ${r.tasks.length} experts (${r.tasks.join(', ')}); K ${r.setting.K} groups per channel (${r.clustering ?? 'kmeans'}), merged with ${r.inner.id}${fmtParams(r.inner.params)}`,
    `tensors: ${r.tensors.length} (${channels} output channels, each expert's row looked up in one of K merged rows)`,
    describeStorage(r),
    `storage by K: ${r.storageSweep.map((p) => `K ${p.setting}: ${pct(p.ratio)}`).join(' | ')}`,
    ...describeErrors(r, '‖W_t − θ_t‖ / ‖θ_t − θ0‖'),
    `router: none (needs data); look rows up with the true task, or train one`,
  ];
}

/** The channel_merging entry of the routed registry. */
export const CHANNEL_MERGING: RoutedMethod = {
  ...CHANNEL_INFO,
  validate(input) {
    const problems = new Problems();
    const warnings: string[] = [];
    resolveChannel(input, problems, warnings);
    return { problems: problems.list, warnings };
  },
  buildPackage: buildChannel,
  describe: describeChannel,
};
