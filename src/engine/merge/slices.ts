/**
 * The output's tensors, each with the models' tensors it is merged from, as mergekit's planner
 * lays them out (plan.py): a recipe's `models:` become one slice per module over every model's whole
 * layer stack (the base appended), `slices:` are taken as given. Per module, the tensors before the
 * layers come from the first slice's sources, each slice's layers follow the previous ones'
 * renumbered from 0 (output layer k of a slice is layer start + k of each source), and the tensors
 * after the layers come from the last slice's sources — as many of them as the first slice has,
 * since mergekit pairs them with the first slice's. Gradients run over each slice on its own:
 * t = k / (length − 1), or 1 for a slice of one layer; 0 before and after the layers. A slice's
 * base_model (else the recipe's) is the base of its tensors.
 *
 * Checked here, before any tensor is read, each problem naming the slice: sources of one slice giving
 * different numbers of layers, a layer_range reaching past a model's layers, a slices recipe on a
 * model of several modules, a module the architecture lacks.
 */
import type { Checkpoint } from '../io/types.js';
import { MergeLabError } from '../errors.js';
import { layerPosition, countLayers } from '../recipe/resolve.js';
import type { ParameterMap, Recipe, RecipeSlice } from '../recipe/types.js';
import { moduleLayers, type Architecture, type ModuleArchitecture, type WeightSpec } from './architecture.js';

/** One model's tensor for an output tensor. */
export interface TensorInput {
  readonly model: string;
  /** The model's tensor (its own layer's name, before renumbering), with its aliases and tied names. */
  readonly weight: WeightSpec;
  /** The model's own parameters there: a slice source's, or a `models:` entry's. */
  readonly parameters?: ParameterMap;
}

/** One output tensor and what it is merged from. */
export interface TensorJob {
  readonly weight: WeightSpec;
  readonly inputs: readonly TensorInput[];
  /** Where gradients are evaluated. */
  readonly t: number;
  /** The parameter maps after a model's own, in lookup order: the slice's, the module's, the top level's. */
  readonly parameters: readonly (ParameterMap | undefined)[];
  readonly baseModel?: string;
  /** The slice it comes from, for messages (`slices[1]`, `modules.text_decoder.slices[0]`); none for a models: recipe. */
  readonly where?: string;
}

/** The models merged together somewhere (a slice, or a models: recipe), for the planner's count and base checks. */
export interface ModelGroup {
  /** `slices[1]`, `modules.vision_tower`; none for a top-level models: recipe (its messages name the recipe). */
  readonly where?: string;
  readonly models: readonly string[];
  readonly baseModel?: string;
  /** The base was appended to the models, as mergekit does for `models:` (never for slices). */
  readonly baseAppended: boolean;
}

export interface OutputLayout {
  readonly jobs: TensorJob[];
  readonly groups: ModelGroup[];
  readonly problems: MergeLabError[];
  readonly warnings: string[];
  /** For the warning about tensors not written: the tensor names of each model that the architecture reads. */
  readonly architectureNames: (model: string) => ReadonlySet<string>;
}

export interface OutputLayoutInput {
  readonly recipe: Recipe;
  readonly arch: Architecture;
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  /** The reference model (the base, or the first model), whose config.json is `config`, and its name in the recipe. */
  readonly reference: Checkpoint;
  readonly referenceModel: string;
  readonly config?: Readonly<Record<string, unknown>>;
}

/** A slice normalized: its sources with their layer ranges. */
interface Slice extends RecipeSlice {
  readonly where?: string;
  readonly baseAppended?: boolean;
}

export function outputLayout(input: OutputLayoutInput): OutputLayout {
  const { recipe, arch, checkpoints } = input;
  const jobs: TensorJob[] = [];
  const groups: ModelGroup[] = [];
  const problems: MergeLabError[] = [];
  const warnings: string[] = [];
  const layersOf = (module: ModuleArchitecture, model: string) => {
    const ckpt = checkpoints.get(model)!;
    return moduleLayers(module, ckpt.tensorNames, ckpt === input.reference ? input.config : undefined);
  };
  // mergekit's models: one slice over the whole stack (the reference's), the base appended when not
  // listed; models that failed to open are left out (their failure is a problem already).
  const wholeStack = (module: ModuleArchitecture, models: Recipe['models'], where?: string): Slice => {
    const entries = wholeStackEntries({ ...recipe, models });
    const n = layersOf(module, input.referenceModel);
    const sources = entries.filter((e) => checkpoints.has(e.model)).map((e) => ({ ...e, layerRange: [0, n] as const }));
    return { sources, ...(where ? { where } : {}), baseAppended: entries.length > models.length };
  };
  const opened = (s: Slice) => s.sources.every((x) => checkpoints.has(x.model));

  if (!recipe.slices && !recipe.modules && !recipe.layerRange) {
    // A models: recipe. An inferred architecture's tensors stay in the reference's order, with t from
    // the layer index in each name, as before slices existed (unchecked against mergekit's inference).
    const entries = wholeStackEntries(recipe);
    groups.push({ models: entries.map((e) => e.model), ...(recipe.baseModel !== undefined ? { baseModel: recipe.baseModel } : {}), baseAppended: entries.length > recipe.models.length });
    const present = entries.filter((e) => checkpoints.has(e.model));
    if (arch.name === 'inferred') {
      const numLayers = countLayers(input.reference.tensorNames, input.config);
      for (const weight of arch.weights) {
        jobs.push({ weight, inputs: present.map((e) => ({ model: e.model, weight, ...(e.parameters ? { parameters: e.parameters } : {}) })), t: layerPosition(weight.name, numLayers), parameters: [recipe.parameters], ...(recipe.baseModel !== undefined ? { baseModel: recipe.baseModel } : {}) });
      }
    } else {
      for (const module of arch.modules) planModule(module, [wholeStack(module, recipe.models)], undefined, false);
    }
    return { jobs, groups, problems, warnings, architectureNames: namesRead };
  }

  if (recipe.modules) {
    const known = arch.modules.map((m) => m.name);
    for (const [name, def] of Object.entries(recipe.modules)) {
      const module = arch.modules.find((m) => m.name === name);
      if (!module) {
        problems.push(new MergeLabError('RECIPE_INVALID', `modules.${name}: the ${archLabel(arch)} has no module "${name}"; its modules are ${known.map((k) => `"${k}"`).join(', ')}.`));
        continue;
      }
      const slices: Slice[] = def.slices ? def.slices.map((s, i) => ({ ...s, where: `modules.${name}.slices[${i}]` })) : [wholeStack(module, def.models ?? [], `modules.${name}`)];
      planModule(module, slices, def.parameters, def.slices !== undefined);
    }
    const left = arch.modules.filter((m) => !Object.hasOwn(recipe.modules!, m.name)).map((m) => m.name);
    if (left.length) warnings.push(`The recipe's modules leave out ${left.map((k) => `"${k}"`).join(', ')}: their tensors are not written, as mergekit leaves them out; the merged checkpoint lacks them.`);
    return { jobs, groups, problems, warnings, architectureNames: namesRead };
  }

  // A slices recipe (or one slice read as models with a layer range): one module only.
  const slices: Slice[] = recipe.slices
    ? recipe.slices.map((s, i) => ({ ...s, where: `slices[${i}]` }))
    : [{ sources: recipe.models.map((m) => ({ model: m.model, layerRange: recipe.layerRange!, ...(m.parameters ? { parameters: m.parameters } : {}) })), ...(recipe.sliceParameters ? { parameters: recipe.sliceParameters } : {}), where: 'slices[0]' }];
  if (arch.modules.length !== 1) {
    problems.push(new MergeLabError('RECIPE_INVALID', `The ${archLabel(arch)} has ${arch.modules.length} modules (${arch.modules.map((m) => `"${m.name}"`).join(', ')}); "slices:" stacks the layers of one. Give each module its slices or models under "modules:", as mergekit requires.`));
    return { jobs, groups, problems, warnings, architectureNames: namesRead };
  }
  planModule(arch.modules[0]!, slices, undefined, true);
  return { jobs, groups, problems, warnings, architectureNames: namesRead };

  /** Every name a model's tensors are read under in this architecture, each layer it has included. */
  function namesRead(model: string): ReadonlySet<string> {
    const out = new Set<string>();
    const add = (w: WeightSpec) => [w.name, ...(w.aliases ?? []), ...(w.tiedNames ?? [])].forEach((n) => out.add(n));
    if (arch.name === 'inferred' && !recipe.slices && !recipe.modules && !recipe.layerRange) arch.weights.forEach(add);
    for (const module of arch.modules) {
      module.pre.forEach(add);
      module.post.forEach(add);
      const n = checkpoints.has(model) ? layersOf(module, model) : 0;
      for (let i = 0; i < n; i++) module.layer(i).forEach(add);
    }
    return out;
  }

  /** One module's tensors from its slices; `given`: the recipe gave slices (their ranges are checked). */
  function planModule(module: ModuleArchitecture, slices: readonly Slice[], moduleParameters: ParameterMap | undefined, given: boolean): void {
    if (slices.length === 0) return;
    const base = (s: Slice) => s.baseModel ?? recipe.baseModel;
    const layers = (s: Slice) => [s.parameters, moduleParameters, recipe.parameters];
    let fine = true;
    for (const s of slices) {
      // A top-level models: recipe is one group, counted with the models that failed to open.
      if (s.where !== undefined) groups.push({ where: s.where, models: s.sources.map((x) => x.model), ...(base(s) !== undefined ? { baseModel: base(s)! } : {}), baseAppended: s.baseAppended === true });
      if (!given) continue;
      // Reported by sliceLengthProblems.
      if (!sameLengths(s)) fine = false;
      s.sources.forEach((x, j) => {
        if (!checkpoints.has(x.model)) return;
        const n = layersOf(module, x.model);
        if (x.layerRange[1] > n) {
          fine = false;
          problems.push(new MergeLabError('RECIPE_INVALID', `${s.where}.sources[${j}]: layer_range [${x.layerRange.join(', ')}] reaches past the ${n} layer${n === 1 ? '' : 's'} of model "${x.model}"${module.name === 'default' ? '' : ` in module ${module.name}`} (layers 0 to ${n - 1}; the range's end is not included). Use a range within [0, ${n}].`));
        }
      });
    }
    if (!fine || !slices.every(opened)) return;
    const first = slices[0]!;
    const last = slices.at(-1)!;
    const pairs = (s: Slice, w: WeightSpec, count = s.sources.length) => s.sources.slice(0, count).map((x) => ({ model: x.model, weight: w, ...(x.parameters ? { parameters: x.parameters } : {}) }));
    const job = (s: Slice, weight: WeightSpec, inputs: TensorInput[], t: number): TensorJob => ({ weight, inputs, t, parameters: layers(s), ...(base(s) !== undefined ? { baseModel: base(s)! } : {}), ...(s.where ? { where: s.where } : {}) });
    for (const w of module.pre) jobs.push(job(first, w, pairs(first, w), 0));
    let out = 0;
    for (const s of slices) {
      const length = s.sources[0] ? s.sources[0].layerRange[1] - s.sources[0].layerRange[0] : 0;
      for (let k = 0; k < length; k++, out++) {
        const t = length > 1 ? k / (length - 1) : 1;
        const own = s.sources.map((x) => module.layer(x.layerRange[0] + k));
        module.layer(out).forEach((w, j) => jobs.push(job(s, w, s.sources.map((x, q) => ({ model: x.model, weight: own[q]![j]!, ...(x.parameters ? { parameters: x.parameters } : {}) })), t)));
      }
    }
    if (module.post.length > 0 && last.sources.length > first.sources.length) {
      const dropped = last.sources.slice(first.sources.length).map((x) => `"${x.model}"`);
      warnings.push(`${last.where}: the tensors after the last layer (${module.post.map((w) => w.name).join(', ')}) are merged from its first ${first.sources.length} source${first.sources.length === 1 ? '' : 's'} only, leaving out ${dropped.join(', ')}: mergekit pairs the last slice's sources with the first slice's there.`);
    }
    for (const w of module.post) jobs.push(job(last, w, pairs(last, w, Math.min(first.sources.length, last.sources.length)), 0));
  }
}

/** A models: recipe's entries in mergekit's order: the listed models, then the base when not among them. */
export function wholeStackEntries(recipe: Recipe): { model: string; parameters?: ParameterMap }[] {
  const entries: { model: string; parameters?: ParameterMap }[] = recipe.models.map((m) => ({ model: m.model, ...(m.parameters ? { parameters: m.parameters } : {}) }));
  if (recipe.baseModel !== undefined && !entries.some((e) => e.model === recipe.baseModel)) entries.push({ model: recipe.baseModel });
  return entries;
}

export function archLabel(arch: Architecture): string {
  return arch.name === 'inferred' ? 'architecture inferred from the checkpoints (config.json names none mergekit defines)' : `${arch.name} architecture (as mergekit defines it)`;
}

/** Output layers of each module a recipe gives slices for: the sum of its slices' lengths (mergekit's _model_out_config). */
export function slicedLayerCounts(recipe: Recipe): { module: string; layers: number }[] {
  const sum = (slices: readonly RecipeSlice[]) => slices.reduce((n, s) => n + (s.sources[0] ? s.sources[0].layerRange[1] - s.sources[0].layerRange[0] : 0), 0);
  if (recipe.modules) return Object.entries(recipe.modules).flatMap(([module, m]) => (m.slices ? [{ module, layers: sum(m.slices) }] : []));
  if (recipe.slices) return [{ module: 'default', layers: sum(recipe.slices) }];
  if (recipe.layerRange) return [{ module: 'default', layers: recipe.layerRange[1] - recipe.layerRange[0] }];
  return [];
}

function sameLengths(s: RecipeSlice): boolean {
  const n = (x: RecipeSlice['sources'][number]) => x.layerRange[1] - x.layerRange[0];
  return s.sources.every((x) => n(x) === n(s.sources[0]!));
}

/** Slices whose sources give different numbers of layers: checked without the checkpoints, so reported whatever else fails. */
export function sliceLengthProblems(recipe: Recipe): MergeLabError[] {
  const all: [string, RecipeSlice][] = [
    ...(recipe.slices ?? []).map((s, i): [string, RecipeSlice] => [`slices[${i}]`, s]),
    ...Object.entries(recipe.modules ?? {}).flatMap(([name, m]) => (m.slices ?? []).map((s, i): [string, RecipeSlice] => [`modules.${name}.slices[${i}]`, s])),
  ];
  return all
    .filter(([, s]) => !sameLengths(s))
    .map(([where, s]) => new MergeLabError('RECIPE_INVALID', `${where}: its sources give different numbers of layers (${s.sources.map((x) => `"${x.model}" [${x.layerRange.join(', ')}]: ${x.layerRange[1] - x.layerRange[0]}`).join(', ')}); the sources of a slice are merged layer by layer, so each must give as many layers.`));
}
