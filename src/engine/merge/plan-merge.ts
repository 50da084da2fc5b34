/**
 * Turning a recipe and the checkpoints' headers into a merge plan, before any tensor is read.
 * Every problem — unknown method, missing weight, a value out of range, a missing or misshapen
 * tensor, a trim that keeps nothing — is collected and returned together, each naming the model,
 * tensor or setting, so one run of `merge` shows all that needs fixing.
 */
import { MergeLabError, type ErrorCode } from '../errors.js';
import type { Checkpoint, DType } from '../io/types.js';
import { closest, unknownMethodMessage } from '../methods/registry.js';
import type { MergeMethod, ParamSpec, ParamValue } from '../methods/types.js';
import { lookupParameter } from '../recipe/resolve.js';
import type { Recipe, RecipeDtype, RecipeSlice } from '../recipe/types.js';
import type { MergePlanToRun, PlannedTensor } from './run-merge.js';
import { DEFAULT_RANDOM_SEED } from './seed.js';
import { architectureFor, type WeightSpec } from './architecture.js';
import { archLabel, outputLayout, sliceLengthProblems, wholeStackEntries, type ModelGroup } from './slices.js';
import { embeddingRows, rowsRead, type EmbeddingRows, type VocabularyRemap } from './embedding-rows.js';

export interface PlanMergeInput {
  readonly recipe: Recipe;
  readonly methods: readonly MergeMethod[];
  /** Opened checkpoints by model name as written in the recipe. */
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  /** Models that could not be opened, with why; reported as problems. */
  readonly failures?: ReadonlyMap<string, MergeLabError>;
  /** The base model's (or first model's) config.json, for the number of layers. */
  readonly config?: Readonly<Record<string, unknown>>;
  /**
   * A new vocabulary (`tokenizer_source: union`, from output/union-tokenizer.ts): every embedding
   * tensor gets its rows, each model's re-ordered onto it before merging (embedding-rows.ts).
   */
  readonly vocabulary?: VocabularyRemap;
}

export interface PlanMergeResult {
  /** Present when there are no problems. */
  readonly plan?: MergePlanToRun;
  readonly warnings: string[];
  readonly problems: MergeLabError[];
}

const FLOAT_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16', 'F64'];
const RECIPE_TO_DTYPE: Record<RecipeDtype, DType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64' };
/** At most this many tensor names are spelled out in one aggregated problem. */
const EXAMPLES = 3;

export function planMerge(input: PlanMergeInput): PlanMergeResult {
  const { recipe, checkpoints } = input;
  const problems = new ProblemList([...new Set([...(recipe.baseModel !== undefined ? [recipe.baseModel] : []), ...recipe.models.map((m) => m.model)])]);
  const warnings: string[] = [];

  const method = input.methods.find((m) => m.id === recipe.mergeMethod);
  if (!method) problems.add('UNKNOWN_METHOD', unknownMethodMessage(recipe.mergeMethod));

  for (const [name, err] of input.failures ?? []) problems.add(err.code, err.message.startsWith(`Model "${name}"`) ? err.message : `Model "${name}": ${err.message}`);
  if (method) checkParameterNames(method, recipe, warnings);
  for (const p of sliceLengthProblems(recipe)) problems.add(p.code, p.message);

  const referenceModel = recipe.baseModel ?? recipe.models[0]?.model ?? '';
  const reference = checkpoints.get(referenceModel);
  // Models that failed to open are already reported; the rest are still checked in full.
  if (!method || !reference) {
    if (method && !recipe.slices && !recipe.modules && !recipe.layerRange) checkGroup(method, { models: wholeStackEntries(recipe).map((e) => e.model), ...(recipe.baseModel !== undefined ? { baseModel: recipe.baseModel } : {}), baseAppended: false }, problems);
    return { warnings, problems: problems.list() };
  }

  const globalSpecs = method.params.filter((p) => p.scope === 'global');
  const modelSpecs = method.params.filter((p) => p.scope === 'model');
  const tensors: PlannedTensor[] = [];
  const skippedNonFloat: string[] = [];

  const others = [...new Set(recipe.models.map((m) => m.model).concat(recipe.baseModel ?? []))].map((m) => checkpoints.get(m)).filter((c): c is Checkpoint => c !== undefined && c !== reference);
  const arch = architectureFor(input.config, reference.tensorNames, others.map((c) => c.tensorNames));
  const layout = outputLayout({ recipe, arch, checkpoints, reference, referenceModel, ...(input.config ? { config: input.config } : {}) });
  for (const p of layout.problems) problems.add(p.code, p.message);
  warnings.push(...layout.warnings);
  for (const group of layout.groups) checkGroup(method, group, problems);
  const sliced = recipe.slices !== undefined || recipe.modules !== undefined || recipe.layerRange !== undefined;

  const outputNames = new Set<string>();
  const leftOut: string[] = [];
  for (const job of layout.jobs) {
    const { weight } = job;
    const name = weight.name;
    const at = job.where ? ` (${job.where})` : '';
    const entries = job.inputs.map((x) => ({ ...x, isBase: x.model === job.baseModel }));
    const ownNames = (w: WeightSpec) => [w.name, ...(w.aliases ?? [])];
    const holders = entries.filter((e) => ownNames(e.weight).some((n) => checkpoints.get(e.model)!.info(n)));
    // mergekit skips an optional weight that no model stores under its own name.
    if (weight.optional && holders.length === 0) continue;
    // Each model's tensor: its own (or an alias), else the one it is tied to (a head tied to the embedding).
    const sources = new Map<string, string>();
    for (const e of entries) {
      const ckpt = checkpoints.get(e.model)!;
      const source = [...ownNames(e.weight), ...(e.weight.tiedNames ?? [])].find((t) => ckpt.info(t));
      if (source) sources.set(e.model, source);
    }
    const refEntry = entries.find((e) => checkpoints.get(e.model) === reference) ?? entries.find((e) => e.isBase) ?? entries[0];
    const refSource = refEntry && sources.get(refEntry.model);
    const info = (refSource ? checkpoints.get(refEntry.model)!.info(refSource) : undefined) ?? (holders[0] ? checkpoints.get(holders[0].model)!.info(sources.get(holders[0].model)!) : undefined);
    if (!info) {
      problems.add('TENSOR_MISSING', `${refEntry ? `Model "${refEntry.model}"` : 'The reference model'} has no tensor ${refEntry?.weight.name ?? name}${at}, which the ${archLabel(arch)} requires; all models must come from the same architecture.`, refEntry?.weight.name ?? name);
      continue;
    }
    if (!FLOAT_DTYPES.includes(info.dtype)) {
      skippedNonFloat.push(`${name} (${info.dtype})`);
      continue;
    }
    outputNames.add(name);
    for (const source of sources.values()) outputNames.add(source);
    const t = job.t;
    const global: Record<string, ParamValue | undefined> = {};
    for (const spec of globalSpecs) {
      // mergekit matches a global parameter's filters against the output tensor's name…
      const v = lookupParameter(spec.name, job.parameters, name, t) ?? spec.default;
      if (v === undefined && spec.required) {
        problems.add('MISSING_PARAMETER', `${method.id} needs the parameter ${spec.name} for tensor ${name}; set it under the top-level parameters. ${spec.help}`, name);
      }
      global[spec.name] = checkValue(spec, v, undefined, name, problems);
    }
    const shapes = new Map<string, readonly number[]>();
    for (const e of entries) {
      const source = sources.get(e.model);
      if (source) shapes.set(e.model, checkpoints.get(e.model)!.info(source)!.shape);
    }
    const remap = weight.isEmbed && input.vocabulary && info.shape.length === 2 ? input.vocabulary : undefined;
    const cut = remap ? undefined : embedBlocks(method, weight, info.shape, shapes, entries, warnings, name);
    if (cut && 'problem' in cut) {
      problems.add('SHAPE_MISMATCH', cut.problem, name);
      continue;
    }
    const blocks = cut;
    const outShape = remap ? [remap.size, info.shape[1]!] : (blocks?.shape ?? info.shape);
    const models: { model: string; isBase: boolean; params: Record<string, ParamValue | undefined>; source?: string; block?: readonly [number, number] }[] = [];
    for (const e of entries) {
      const ckpt = checkpoints.get(e.model)!;
      const own = e.weight.name;
      const source = sources.get(e.model);
      if (!source) {
        // An optional tensor is merged from the models that have it, but the base must be one of them
        // when the method reads task vectors against it.
        if (weight.optional && !(e.isBase && method.base === 'required')) {
          leftOut.push(`"${e.model}" from ${own}`);
          continue;
        }
        problems.add('TENSOR_MISSING', `Model "${e.model}" has no tensor ${own}${at}, which the ${archLabel(arch)} ${weight.optional ? `needs from the base model for ${method.id}` : 'requires'}; all models must come from the same architecture.`, own);
        continue;
      }
      if (!ownNames(e.weight).includes(source)) warnings.push(`Model "${e.model}" has no ${own}; its tied ${source} is used instead, as mergekit does.`);
      const other = ckpt.info(source)!;
      const block = blocks?.take.get(e.model);
      if (remap && (other.shape.length !== 2 || other.shape[1] !== outShape[1])) {
        // mergekit asserts that the embeddings it re-orders have one width.
        problems.add('SHAPE_MISMATCH', `tensor ${name} of model "${e.model}" has shape [${other.shape.join(', ')}], the reference model's has [${info.shape.join(', ')}]: re-ordered onto the union vocabulary, embeddings must have the same width.`, name);
        continue;
      }
      if (!remap && !block && other.shape.join(',') !== outShape.join(',')) {
        const msg = `tensor ${own === name ? name : `${own} (for ${name})`} of model "${e.model}" has shape [${other.shape.join(', ')}], ${refEntry && refEntry.model !== e.model && sliced ? `"${refEntry.model}"'s ${refEntry.weight.name}` : "the reference model's"} has [${info.shape.join(', ')}]`;
        if (method.shapeMismatch === 'skip' && !e.isBase) {
          warnings.push(`${msg}: that model is left out of this tensor, as mergekit does.`);
          continue;
        }
        problems.add('SHAPE_MISMATCH', `${msg}; all models must have the same shapes.`, name);
        continue;
      }
      const params: Record<string, ParamValue | undefined> = {};
      for (const spec of modelSpecs) {
        // …and a model's parameters against the name of the model's own tensor (its layer before renumbering).
        const mine = lookupParameter(spec.name, [e.parameters], own, t);
        const v = mine ?? lookupParameter(spec.name, job.parameters, own, t) ?? spec.default;
        // mergekit requires per-model parameters of every model but the base.
        if (v === undefined && spec.required && !e.isBase) {
          problems.add('MISSING_PARAMETER', `Model "${e.model}" has no ${spec.name} for tensor ${name}; give it under that model's parameters (or globally).`, name);
        }
        // The base's own per-model values are unused by methods that merge task vectors against it.
        const used = !e.isBase || method.base !== 'required';
        // A value set once for all models is reported once, as the setting it is.
        params[spec.name] = used ? checkValue(spec, v, mine === undefined ? undefined : e.model, name, problems) : v;
      }
      models.push({ model: e.model, isBase: e.isBase, params, ...(source !== name ? { source } : {}), ...(block ? { block } : {}) });
    }
    let rows: EmbeddingRows | undefined;
    if (remap) {
      rows = embeddingRows(remap, models);
      for (const c of remap.chosen?.values() ?? []) {
        if (!models.some((m) => m.model === c.model)) problems.add('RECIPE_INVALID', `tokenizer.tokens takes a row of "${c.model}", which is not merged into tensor ${name}; name a model of the recipe.`, name);
      }
      rowsRead(rows).forEach((most, j) => {
        const m = models[j]!;
        const have = checkpoints.get(m.model)!.info(m.source ?? name)!.shape[0]!;
        if (most >= have) problems.add('SHAPE_MISMATCH', `tensor ${name} of model "${m.model}" has ${have} rows, but its tokenizer puts a token of the union vocabulary at id ${most}; each token needs its row.`, name);
      });
    }
    if (method.validateTensor) {
      for (const p of method.validateTensor({ tensorName: name, shape: remap ? outShape : info.shape, models, global })) problems.add(p.code, p.message, name);
    }
    const promoted = method.float32Result && models.length >= 2;
    const outDtype = recipe.outDtype ? RECIPE_TO_DTYPE[recipe.outDtype] : promoted ? 'F32' : recipe.dtype ? RECIPE_TO_DTYPE[recipe.dtype] : info.dtype;
    const workDtype = recipe.dtype ? RECIPE_TO_DTYPE[recipe.dtype] : storedWorkDtype(method, models.map((m) => ({ isBase: m.isBase, dtype: checkpoints.get(m.model)!.info(m.source ?? name)!.dtype })));
    tensors.push({ name, shape: [...outShape], outDtype, ...(workDtype && workDtype !== 'F32' && workDtype !== 'F64' ? { workDtype } : {}), global, models, ...(rows ? { rows } : {}) });
  }

  if (skippedNonFloat.length) warnings.push(`${skippedNonFloat.length} non-float tensor(s) are not merged and not written: ${skippedNonFloat.slice(0, EXAMPLES).join(', ')}${skippedNonFloat.length > EXAMPLES ? ', …' : ''}.`);
  if (leftOut.length) warnings.push(`Tensors the ${archLabel(arch)} marks optional are merged from the models that have them: ${leftOut.slice(0, EXAMPLES).join(', ')}${leftOut.length > EXAMPLES ? ', …' : ''} left out.`);
  // A slices recipe leaves out the layers it does not take: only what the architecture never reads is worth a word.
  const unread = (model: string) => (sliced ? ((n: string) => !layout.architectureNames(model).has(n)) : (n: string) => !outputNames.has(n));
  const unwritten = [...new Set(recipe.models.map((m) => m.model).concat(recipe.baseModel ?? []).filter((m) => checkpoints.has(m)).flatMap((m) => checkpoints.get(m)!.tensorNames.filter(unread(m))))];
  if (unwritten.length) {
    warnings.push(`${unwritten.length} tensor(s) are not part of the ${archLabel(arch)} and are not written, as mergekit leaves them out: ${unwritten.slice(0, EXAMPLES).join(', ')}${unwritten.length > EXAMPLES ? ', …' : ''}.`);
  }
  if (tensors.length === 0 && problems.size === 0) problems.add('NO_CHECKPOINT', `The reference model "${reference.name}" has no float tensors to merge.`);
  if (problems.size > 0) return { warnings, problems: problems.list(sliced ? 0 : reference.tensorNames.length - skippedNonFloat.length) };
  return { plan: { method, tensors, randomSeed: recipe.randomSeed ?? DEFAULT_RANDOM_SEED, ...(recipe.math ? { math: recipe.math } : {}) }, warnings, problems: [] };
}

/**
 * The method's count of models and its base, checked for each group merged together: a `models:`
 * recipe (its messages name the recipe), or each slice (and module), whose base must be one of its
 * sources when the method reads the others against it — mergekit appends the base to `models:`
 * only, and fails on a slice without it.
 */
function checkGroup(method: MergeMethod, group: ModelGroup, problems: ProblemList): void {
  const where = group.where;
  const base = group.baseModel;
  if (method.base === 'required' && base === undefined) {
    problems.add(
      'BASE_MODEL_REQUIRED',
      where === undefined
        ? `${method.id} needs base_model: the model the others were fine-tuned from. Add "base_model: <path>" to the recipe.`
        : `${where}: ${method.id} needs a base_model, the model the others were fine-tuned from; give "base_model: <path>" in the slice or the recipe, and list it among the slice's sources.`,
    );
  } else if (method.base === 'required' && where !== undefined && !group.baseAppended && !group.models.includes(base!)) {
    problems.add('BASE_MODEL_REQUIRED', `${where}: ${method.id} reads every source against the base_model "${base}", which is not among the slice's sources (mergekit fails there); add it as a source with a layer_range as long as the others'.`);
  }
  const total = group.models.length;
  const nonBase = group.models.filter((m) => m !== base).length;
  const has = where === undefined ? 'the recipe has' : `${where} has`;
  const withBase = base !== undefined && group.models.includes(base) ? ', the base_model included' : '';
  if (method.modelCount && (total < method.minModels || (method.maxModels !== undefined && total > method.maxModels))) {
    problems.add(total < method.minModels ? 'TOO_FEW_MODELS' : 'TOO_MANY_MODELS', `${where ? `${where}: ` : ''}${method.id} merges ${method.modelCount}; ${has} ${total} model${total === 1 ? '' : 's'}${where === undefined ? (base !== undefined ? ', the base_model included' : '') : withBase}.`);
  } else if (total < method.minModels) {
    const need = method.base === 'required' ? `the base_model and at least ${method.minModels - 1} other model${method.minModels > 2 ? 's' : ''}` : `at least ${method.minModels} model${method.minModels > 1 ? 's' : ''}`;
    problems.add('TOO_FEW_MODELS', `${where ? `${where}: ` : ''}${method.id} needs ${need}; ${has} ${nonBase} besides the base.`);
  }
  if (!method.modelCount && method.maxModels !== undefined && total > method.maxModels) {
    problems.add('TOO_MANY_MODELS', `${where ? `${where}: ` : ''}${method.id} merges exactly ${method.maxModels} models (the base_model and one other); ${has} ${total}.`);
  }
}

/**
 * With no `dtype`, mergekit computes in the dtype the tensors are stored in: the task-vector
 * methods convert every model to the base's dtype; the others compute in the common dtype, which
 * for models that disagree torch promotes to float32 (bf16 with f16) or to the wider one.
 */
function storedWorkDtype(method: MergeMethod, models: readonly { isBase: boolean; dtype: DType }[]): DType | undefined {
  const base = models.find((m) => m.isBase)?.dtype;
  if (method.taskVectors && base) return base;
  const first = models[0]?.dtype;
  return first !== undefined && models.every((m) => m.dtype === first) ? first : undefined;
}

/**
 * Embeddings whose vocabularies differ, merged on a common block as mergekit merges them: the
 * task-vector methods cut every model's matrix to the base's rows and columns (a smaller one is an
 * error, where mergekit fails); linear, slerp, model_stock, nuslerp and arcee_fusion cut all to the
 * smallest rows and columns; methods that stack the tensors as they are refuse them (mergekit fails).
 * Undefined when the shapes agree or the tensor is no 2-D embedding.
 */
function embedBlocks(
  method: MergeMethod,
  weight: WeightSpec,
  refShape: readonly number[],
  shapes: ReadonlyMap<string, readonly number[]>,
  opened: readonly { model: string; isBase: boolean }[],
  warnings: string[],
  name: string,
): { shape: readonly [number, number]; take: Map<string, readonly [number, number]> } | { problem: string } | undefined {
  const all = [...shapes.values()];
  if (!weight.isEmbed || all.every((s) => s.join(',') === refShape.join(',')) || !all.every((s) => s.length === 2)) return undefined;
  let shape: readonly [number, number];
  if (method.differentVocabularies === 'refuse') {
    const other = [...shapes].find(([, s]) => s.join(',') !== refShape.join(','))!;
    return { problem: `tensor ${name} of model "${other[0]}" has shape [${other[1].join(', ')}], the reference model's has [${refShape.join(', ')}]: ${method.id} takes every model's tensor as it is (mergekit fails here), so embeddings of different vocabulary sizes cannot be merged with it. Use models with one vocabulary, or nuslerp, arcee_fusion, linear, slerp or model_stock, which merge the block they share.` };
  }
  if (method.taskVectors) {
    const base = opened.find((e) => e.isBase);
    const b = base && shapes.get(base.model);
    if (!b) return undefined;
    shape = [b[0]!, b[1]!];
    const small = [...shapes].find(([, s]) => s[0]! < shape[0] || s[1]! < shape[1]);
    if (small) {
      // mergekit cuts to the base's size and then fails subtracting a smaller matrix.
      return { problem: `tensor ${name} of model "${small[0]}" has shape [${small[1].join(', ')}], smaller than the base's [${shape.join(', ')}]: ${method.id} takes each model's block of the base's size (as mergekit does), and this one has none. Use a base with the smaller vocabulary, or linear/slerp/model_stock (which merge the common block).` };
    }
    for (const [model, s] of shapes) if (s.join(',') !== shape.join(',')) warnings.push(`Using the [${shape.join(', ')}] block of "${model}"'s ${name} [${s.join(', ')}] (the base's size), as mergekit does.`);
  } else {
    shape = [Math.min(...all.map((s) => s[0]!)), Math.min(...all.map((s) => s[1]!))];
    warnings.push(`The models' ${name} differ in size: their common [${shape.join(', ')}] block is merged, as mergekit does.`);
  }
  return { shape, take: new Map([...shapes.keys()].map((m) => [m, shape])) };
}

/** Warns about parameters the method does not read, as mergekit silently ignores them. */
function checkParameterNames(method: MergeMethod, recipe: Recipe, warnings: string[]): void {
  const known = method.params.map((p) => p.name);
  type Where = [string, Readonly<Record<string, unknown>> | undefined, boolean];
  const slices = (list: readonly RecipeSlice[], at: string): Where[] =>
    list.flatMap((s, i): Where[] => [[`${at}[${i}].parameters`, s.parameters, false], ...s.sources.map((x, j): Where => [`parameters of ${at}[${i}].sources[${j}] ("${x.model}")`, x.parameters, true])]);
  const where: Where[] = [
    ['parameters', recipe.parameters, false],
    ['slice parameters', recipe.sliceParameters, false],
    ...recipe.models.map((m): Where => [`parameters of model "${m.model}"`, m.parameters, true]),
    ...slices(recipe.slices ?? [], 'slices'),
    ...Object.entries(recipe.modules ?? {}).flatMap(([name, m]): Where[] => [
      [`modules.${name}.parameters`, m.parameters, false],
      ...(m.models ?? []).map((x): Where => [`parameters of modules.${name} model "${x.model}"`, x.parameters, true]),
      ...slices(m.slices ?? [], `modules.${name}.slices`),
    ]),
  ];
  for (const [label, map, perModel] of where) {
    for (const name of Object.keys(map ?? {})) {
      const spec = method.params.find((p) => p.name === name);
      if (!spec) {
        const near = closest(name, known);
        warnings.push(`${label}: "${name}" is not a parameter of ${method.id} and is ignored${near ? ` (did you mean "${near}"?)` : ''}. Its parameters: ${known.join(', ')}.`);
      } else if (perModel && spec.scope === 'global') {
        warnings.push(`${label}: "${name}" applies to the whole merge and has no effect per model; move it to the top-level parameters.`);
      }
    }
  }
}

/** Type and range of one resolved value; out-of-range values are reported, not clamped. */
function checkValue(spec: ParamSpec, v: ParamValue | undefined, model: string | undefined, tensor: string, problems: ProblemList): ParamValue | undefined {
  if (v === undefined) return undefined;
  const who = model ? `${spec.name} of model "${model}"` : `${spec.name} (top-level parameters)`;
  if (spec.type === 'boolean') {
    if (typeof v === 'boolean') return v;
    if (v === 0 || v === 1) return v === 1;
    problems.add('PARAMETER_INVALID', `${who} must be true or false, got ${v} (tensor ${tensor}).`, tensor);
    return undefined;
  }
  const x = typeof v === 'boolean' ? Number(v) : v;
  if (spec.type === 'integer' && !Number.isInteger(x)) {
    problems.add('PARAMETER_INVALID', `${who} must be a whole number, got ${x} (tensor ${tensor}).`, tensor);
  }
  const below = spec.min !== undefined && (spec.minExclusive ? x <= spec.min : x < spec.min);
  const above = spec.max !== undefined && (spec.maxExclusive ? x >= spec.max : x > spec.max);
  if (below || above) {
    const range = `${spec.minExclusive ? '(' : '['}${spec.min ?? '-∞'}, ${spec.max ?? '∞'}${spec.maxExclusive ? ')' : ']'}`;
    problems.add('PARAMETER_OUT_OF_RANGE', `${who} is ${x} for tensor ${tensor}, outside ${range}. ${spec.help}`, tensor);
  }
  return x;
}

/**
 * Problems keyed by what they say apart from the tensor and the model: the same missing weight on
 * 200 tensors is one problem naming a few of them and the count, and DELLA's density ± epsilon
 * out of range for every expert at the global density is one problem naming the others, not one
 * per expert.
 */
class ProblemList {
  private readonly byKey = new Map<string, { code: ErrorCode; message: string; tensors: Set<string>; models: Set<string> }>();

  /** `modelNames`: the recipe's models; a problem naming just one of them (in quotes) is keyed without it. */
  constructor(private readonly modelNames: readonly string[] = []) {}

  get size(): number {
    return this.byKey.size;
  }

  add(code: ErrorCode, message: string, tensor?: string): void {
    let generic = tensor ? message.split(tensor).join('\u0001') : message;
    const named = this.modelNames.filter((m) => generic.includes(`"${m}"`));
    const model = named.length === 1 ? named[0] : undefined;
    if (model !== undefined) generic = generic.split(`"${model}"`).join('"\u0002"');
    const key = `${code}\u0000${generic}`;
    const hit = this.byKey.get(key);
    if (hit) {
      if (tensor) hit.tensors.add(tensor);
      if (model !== undefined) hit.models.add(model);
      return;
    }
    this.byKey.set(key, { code, message, tensors: new Set(tensor ? [tensor] : []), models: new Set(model !== undefined ? [model] : []) });
  }

  /** `totalTensors`: how many tensors were checked, to say "every tensor" rather than count them. */
  list(totalTensors = 0): MergeLabError[] {
    return [...this.byKey.values()].map(({ code, message, tensors: set, models }) => {
      const tensors = [...set];
      const alsoModels = models.size > 1 ? ` The same holds for ${quoted([...models].slice(1))}.` : '';
      if (tensors.length <= 1) return new MergeLabError(code, `${message}${alsoModels}`);
      if (tensors.length === totalTensors) return new MergeLabError(code, `${message} The same holds for every other tensor (${totalTensors} in all)${alsoModels ? `, and for ${quoted([...models].slice(1))}` : ''}.`);
      const more = tensors.slice(1, EXAMPLES + 1).join(', ');
      const rest = tensors.length - 1 - Math.min(EXAMPLES, tensors.length - 1);
      return new MergeLabError(code, `${message} The same holds for ${tensors.length - 1} more tensor(s): ${more}${rest > 0 ? `, and ${rest} others` : ''}.${alsoModels}`);
    });
  }
}

/** 'model "b"' or 'models "b", "c" and "d"'. */
function quoted(models: readonly string[]): string {
  const q = models.map((m) => `"${m}"`);
  return q.length === 1 ? `model ${q[0]}` : `models ${q.slice(0, -1).join(', ')} and ${q.at(-1)}`;
}
