/**
 * `merge_method: twin_merging` (Lu et al., arXiv:2406.15479; spec "Twin-Merging") as a recipe:
 *
 *   merge_method: twin_merging
 *   base_model: base
 *   models: [{model: ft-a}, {model: ft-b}, ...]
 *   parameters: {shared_method: task_arithmetic, lambda: 0.3, rank: 4}   # or rank_ratio: 0.1, or energy: 0.9
 *                                                                        # exclude: [head, bias] keeps those out
 *
 * The shared expert θ* is the recipe's models merged with `shared_method` (any method of the
 * registry; its own parameters — lambda, density, per-model weight ... — are given as for that
 * method, a missing per-model weight counting 1 and a missing lambda the paper's 0.3), then each
 * expert's θt − θ* is kept as rank-r factors (methods/twin). The router settings of TWIN_PARAMS
 * are accepted; temperature and topK are written into twin.json, the rest need data and change
 * nothing here (the package has no router.safetensors, and twin.json says why).
 */
import { combineProblems } from '../errors.js';
import type { Checkpoint } from '../io/types.js';
import { planMerge } from '../merge/plan-merge.js';
import { throwIfCancelled } from '../merge/progress.js';
import { METHODS } from '../methods/registry.js';
import { TWIN_FILES, TWIN_PARAMS, TWIN_RANKS, buildTwinPackage, compressCheckpoints, excludedTensors, type RankChoice, type TwinModel } from '../methods/twin/index.js';
import type { ParamSpec } from '../methods/types.js';
import type { ParameterMap, ParameterSetting, Recipe, RecipeModel } from '../recipe/types.js';
import { recipeToObject } from '../recipe/write.js';
import type { RoutedBuildOptions, RoutedMethod, RoutedPackage, RoutedReport, RoutedValidateInput, TensorError } from './types.js';
import { Problems, checkHeaders, checkModels, checkOptionNames, innerMethod, scalarParam, unknownParameter } from './validate.js';
import { abortSignal, describeErrors, describeStorage, fmtParams, injectJson, pct } from './report.js';
import { DEFAULT_SHARED, EXCLUDE, SHARED, SHARED_CHOICES, TWIN_ID, TWIN_INFO, TWIN_LAMBDA } from './info.js';

const ID = TWIN_ID;
const LAMBDA = TWIN_LAMBDA;
const OWN: readonly ParamSpec[] = TWIN_PARAMS.filter((p) => p.name !== 'lambda');
/** Settings that only training a router reads. */
const ROUTER_TRAINING = ['hidden', 'epochs', 'learningRate', 'seed'];

/** A twin recipe resolved: what the build runs. */
interface TwinSettings {
  readonly experts: readonly string[];
  readonly shared: Recipe;
  readonly choice: RankChoice;
  /** exclude's patterns (tensors whose name contains one stay each task's own). */
  readonly exclude: readonly string[];
  readonly temperature: number;
  readonly topK: number;
}

/**
 * Everything a twin recipe says, checked; problems and warnings are collected, not thrown.
 * Without checkpoints only the recipe itself is checked.
 */
function resolveTwin(input: RoutedValidateInput, problems: Problems, warnings: string[]): TwinSettings | undefined {
  const { recipe, checkpoints } = input;
  const experts = checkModels(ID, recipe, input.failures, problems, { minExperts: 2 });
  checkOptionNames(ID, recipe, [SHARED], problems);
  for (const name of Object.keys(recipe.listOptions ?? {})) if (name !== EXCLUDE) problems.add('UNKNOWN_PARAMETER', `parameters: "${name}" is not a parameter of ${ID}.`);
  const exclude = recipe.listOptions?.[EXCLUDE] ?? [];
  const sharedId = recipe.options?.[SHARED] ?? DEFAULT_SHARED;
  const method = innerMethod(SHARED, sharedId, METHODS, SHARED_CHOICES, problems);

  // Top-level parameters: the twin's own, or the shared method's (lambda among them).
  const own: Record<string, number | boolean> = {};
  const sharedParams: Record<string, ParameterSetting> = {};
  const innerNames = method?.params.map((p) => p.name) ?? [];
  const known = [{ names: OWN.map((p) => p.name) }, { of: `its ${SHARED} ${sharedId}`, names: innerNames }];
  for (const [name, setting] of Object.entries(recipe.parameters ?? {})) {
    const spec = OWN.find((p) => p.name === name);
    if (spec) {
      const v = scalarParam(ID, spec, setting, problems);
      if (v !== undefined) own[name] = v;
    } else if (!method) {
      // Unknown shared method: its parameters cannot be told from misspellings.
      if (name !== 'lambda') continue;
    } else if (innerNames.includes(name)) {
      sharedParams[name] = setting;
    } else if (name === 'lambda') {
      problems.add('UNKNOWN_PARAMETER', `parameters: "lambda" scales the shared expert's task vectors, but ${SHARED} ${method.id} takes no lambda. Remove it, or use a task-vector method such as task_arithmetic or ties.`);
    } else {
      unknownParameter('parameters', name, ID, known, problems);
    }
  }
  const rules = ['rank', 'rank_ratio', 'energy'].filter((n) => own[n] !== undefined);
  if (rules.length > 1) {
    problems.add(
      'PARAMETER_INVALID',
      `parameters: give one of rank (a fixed rank per matrix), rank_ratio (that fraction of each matrix's min(m, n)) or energy (the smallest rank holding that share of each difference's energy), not ${rules.join(' and ')}.`,
    );
  }
  const topK = own.topK as number | undefined;
  if (topK !== undefined && experts.length > 0 && topK > experts.length) {
    problems.add('PARAMETER_OUT_OF_RANGE', `topK (top-level parameters) is ${topK}, outside [1, ${experts.length}]: there are ${experts.length} experts to route between.`);
  }
  const unused = ROUTER_TRAINING.filter((n) => own[n] !== undefined);
  if (unused.length) {
    warnings.push(`parameters: ${unused.join(', ')} set how the router is trained, and a merge of checkpoints has no data to train one: they are ignored (the package has no ${TWIN_FILES.router}).`);
  }
  if ((recipe.dtype && recipe.dtype !== 'float32') || (recipe.outDtype && recipe.outDtype !== 'float32')) {
    warnings.push(`${ID} packages are written in float32; ${recipe.outDtype ? `out_dtype ${recipe.outDtype}` : `dtype ${recipe.dtype}`} is ignored.`);
  }

  // Per-model parameters are the shared method's.
  const models: RecipeModel[] = recipe.models.map((m) => {
    const params: Record<string, ParameterSetting> = {};
    for (const [name, setting] of Object.entries(m.parameters ?? {})) {
      const spec = method?.params.find((p) => p.name === name);
      if (!method) continue;
      if (!spec) unknownParameter(`parameters of model "${m.model}"`, name, `${SHARED} ${method.id}`, [{ names: method.params.filter((p) => p.scope === 'model').map((p) => p.name) }], problems);
      else if (spec.scope === 'global') problems.add('PARAMETER_INVALID', `parameters of model "${m.model}": "${name}" applies to the whole shared expert; move it to the top-level parameters.`);
      else params[name] = setting;
    }
    // The paper's shared expert weighs every expert 1 (mergekit would require the weight).
    const weight = method?.params.find((p) => p.name === 'weight' && p.scope === 'model' && p.required);
    if (weight && m.model !== recipe.baseModel && params.weight === undefined && sharedParams.weight === undefined) params.weight = 1;
    return { model: m.model, ...(Object.keys(params).length ? { parameters: params } : {}) };
  });
  if (method && innerNames.includes('lambda') && sharedParams.lambda === undefined) sharedParams.lambda = LAMBDA.default as number;

  const shared: Recipe = {
    mergeMethod: sharedId,
    ...(recipe.baseModel !== undefined ? { baseModel: recipe.baseModel } : {}),
    models,
    ...(Object.keys(sharedParams).length ? { parameters: sharedParams as ParameterMap } : {}),
    ...(recipe.randomSeed !== undefined ? { randomSeed: recipe.randomSeed } : {}),
  };

  if (checkpoints.size > 0) {
    const header = new Problems();
    checkHeaders(ID, recipe, experts, checkpoints, header, warnings);
    const base = recipe.baseModel !== undefined ? checkpoints.get(recipe.baseModel) : undefined;
    if (base && exclude.length) {
      const matched = excludedTensors(base.tensorNames, exclude);
      const unused = exclude.filter((p) => !base.tensorNames.some((n) => n.includes(p)));
      if (unused.length) warnings.push(`parameters: exclude ${unused.map((p) => `"${p}"`).join(', ')} matches no tensor of the base; nothing is kept out for ${unused.length === 1 ? 'it' : 'them'}.`);
      if (matched.length === base.tensorNames.length) header.add('PARAMETER_INVALID', `parameters: exclude keeps every tensor out of the merge (${exclude.join(', ')}); nothing would be shared.`);
    }
    for (const p of header.list) problems.add(p.code, p.message);
    if (method) {
      // The planner checks the shared expert's recipe (weights, ranges, trims) as for a merge.
      // Missing tensors and shapes were checked above for every expert; the planner would only
      // repeat them (or, for task-vector methods, skip the expert with a warning).
      const opened = new Map([...checkpoints].filter(([name]) => !input.failures?.has(name)));
      const plan = planMerge({ recipe: shared, methods: METHODS, checkpoints: opened, config: input.config });
      for (const p of plan.problems) {
        if (p.code === 'TENSOR_MISSING' || p.code === 'SHAPE_MISMATCH' || p.code === 'BASE_MODEL_REQUIRED' || p.code === 'TOO_FEW_MODELS') continue;
        problems.add(p.code, `shared expert (${SHARED} ${sharedId}): ${p.message}`);
      }
      for (const w of plan.warnings) if (!w.includes('left out of this tensor')) warnings.push(`shared expert (${SHARED} ${sharedId}): ${w}`);
    }
  }
  if (problems.size > 0) return undefined;
  const choice: RankChoice =
    own.energy !== undefined
      ? { energy: own.energy as number }
      : own.rank_ratio !== undefined
        ? { rankRatio: own.rank_ratio as number }
        : { rank: (own.rank as number | undefined) ?? (TWIN_PARAMS.find((p) => p.name === 'rank')!.default as number) };
  return {
    experts,
    shared,
    choice,
    exclude,
    temperature: (own.temperature as number | undefined) ?? 1,
    topK: topK ?? experts.length,
  };
}

async function buildTwin(recipe: Recipe, checkpoints: ReadonlyMap<string, Checkpoint>, o: RoutedBuildOptions = {}): Promise<RoutedPackage> {
  const problems = new Problems();
  const warnings: string[] = [];
  const s = resolveTwin({ recipe, checkpoints, config: o.config }, problems, warnings);
  if (!s) throw combineProblems(problems.list);
  throwIfCancelled(o.cancel);
  const base = checkpoints.get(recipe.baseModel!)!;
  const bytesOf = (name: string) => 4 * (base.info(name)?.shape.reduce((a, b) => a * b, 1) ?? 0) * s.experts.length;
  const ranks = 'rank' in s.choice && typeof s.choice.rank === 'number' ? [...new Set([...TWIN_RANKS, s.choice.rank])].sort((a, b) => a - b) : [...TWIN_RANKS];
  const settingOf = (c: RankChoice): Record<string, number> => ('energy' in c ? { energy: c.energy } : 'rankRatio' in c ? { rank_ratio: c.rankRatio } : { rank: c.rank as number });
  const started = Date.now();
  let bytesDone = 0;
  let bytesTotal: number | undefined;
  const compressed = await compressCheckpoints({
    recipe: s.shared,
    checkpoints,
    tasks: s.experts,
    choice: s.choice,
    exclude: s.exclude,
    ranks,
    onWarning: (m) => {
      warnings.push(m);
      o.onWarning?.(m);
    },
    signal: o.cancel ? abortSignal(o.cancel) : undefined,
    onProgress: (done, total, tensor) => {
      bytesTotal ??= base.tensorNames.reduce((sum, n) => sum + bytesOf(n), 0);
      bytesDone += bytesOf(tensor);
      o.onProgress?.({ tensorIndex: done, tensorCount: total, tensorName: tensor, bytesDone, bytesTotal, elapsedMs: Date.now() - started });
    },
  });
  throwIfCancelled(o.cancel);
  const model: TwinModel = {
    tasks: compressed.tasks,
    hardTasks: [],
    tensors: compressed.tensors,
    shared: compressed.shared,
    exclusive: compressed.exclusive,
    temperature: s.temperature,
    topK: s.topK,
    sharedRecipe: s.shared,
    ...(s.exclude.length ? { exclude: s.exclude } : {}),
  };
  const { files, manifest } = buildTwinPackage(model);
  files[TWIN_FILES.manifest] = injectJson(files[TWIN_FILES.manifest]!, 'files', {
    provenance: {
      built_by: 'merge-lab merge',
      recipe: recipeToObject(recipe),
      data: 'none',
      router: `not built: a router learns from labelled inputs (the shared model's penultimate activations), and a merge of checkpoints has none. Route by the task you know (one-hot weights, the oracle), or train a router and add ${TWIN_FILES.router}.`,
    },
  });

  const tensors: TensorError[] = compressed.tensors.map((t, j) => {
    const parts = compressed.exclusive.parts.map((row) => row[j]!);
    if (parts.every((p) => p.kind === 'own')) return { name: t.name, shape: t.shape, kind: 'own', errors: parts.map(() => 0) };
    // 1-D tensors, and matrices whose factors would be no smaller than the matrix, are stored whole.
    if (t.shape.length !== 2 || parts.every((p) => p.kind === 'dense')) return { name: t.name, shape: t.shape, kind: 'dense', errors: parts.map(() => 0) };
    // A matrix whose factors would be no smaller is kept whole: its "rank" is full and its error 0.
    const full = Math.min(t.shape[0]!, t.shape[1]!);
    return { name: t.name, shape: t.shape, kind: 'lowrank', ranks: parts.map((p) => (p.kind === 'lowrank' ? p.rank : full)), errors: parts.map((p) => (p.kind === 'lowrank' ? p.relativeError : 0)) };
  });
  const lowRank = compressed.report.tensors.filter((t) => t.kind === 'lowrank');
  const storageSweep = compressed.report.storage.map((p, i) => {
    const errs = lowRank.flatMap((t) => t.errors!.map((perRank) => perRank[i]!));
    const taskErrors = compressed.tasks.map((_, task) => lowRank.reduce((sum, t) => sum + t.errors![task]![i]!, 0) / Math.max(1, lowRank.length));
    return { setting: p.rank, bytes: p.bytes, ratio: p.ratio, ...(errs.length ? { meanError: errs.reduce((a, b) => a + b, 0) / errs.length, taskErrors } : {}) };
  });
  const st = manifest.storage;
  const report: RoutedReport = {
    method: ID,
    tasks: compressed.tasks,
    inner: { role: 'shared expert', id: s.shared.mergeMethod, params: sharedScalars(s.shared) },
    setting: settingOf(s.choice),
    tensors,
    storage: { values: st.total, bytes: st.bytes.total, expertValues: st.experts, expertBytes: st.bytes.experts, ratio: st.ratio },
    storageSweep,
    router: false,
    warnings,
  };
  return { files, report };
}

/** The shared recipe's top-level scalars (lambda, ...), for the report. */
function sharedScalars(r: Recipe): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const [k, v] of Object.entries(r.parameters ?? {})) if (typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  return out;
}

function describeTwin(r: RoutedReport): string[] {
  const low = r.tensors.filter((t) => t.kind === 'lowrank');
  const ranks = low.flatMap((t) => t.ranks ?? []);
  const span = `(rank per matrix and task: ${ranks.reduce((a, b) => Math.min(a, b), Infinity)}..${ranks.reduce((a, b) => Math.max(a, b), -Infinity)})`;
  const setting = r.setting.energy !== undefined ? `energy ${r.setting.energy} ${span}` : r.setting.rank_ratio !== undefined ? `rank_ratio ${r.setting.rank_ratio} ${span}` : `rank ${r.setting.rank}`;
  const own = r.tensors.filter((t) => t.kind === 'own');
  return [
    `${ID}: ${r.tasks.length} experts (${r.tasks.join(', ')}); shared expert: ${r.inner.id}${fmtParams(r.inner.params)}; exclusive knowledge at ${setting}`,
    `tensors: ${r.tensors.length} (${low.length} low-rank, ${r.tensors.length - low.length - own.length} kept whole${own.length ? `, ${own.length} excluded: each task's own ${own.map((t) => t.name).join(', ')}` : ''})`,
    describeStorage(r),
    `storage by rank: ${r.storageSweep.map((p) => `r ${p.setting}: ${pct(p.ratio)}${p.meanError !== undefined ? ` (mean error ${p.meanError.toFixed(3)})` : ''}`).join(' | ')}`,
    ...describeErrors(r, '‖Δ − Δ_r‖ / ‖Δ‖ (Δ = expert − shared)'),
    `router: none (needs data); route with the true task, or train one on the shared model's penultimate activations`,
  ];
}

/** The twin_merging entry of the routed registry. */
export const TWIN_MERGING: RoutedMethod = {
  ...TWIN_INFO,
  validate(input) {
    const problems = new Problems();
    const warnings: string[] = [];
    resolveTwin(input, problems, warnings);
    return { problems: problems.list, warnings };
  },
  buildPackage: buildTwin,
  describe: describeTwin,
};
