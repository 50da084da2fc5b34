/**
 * A layer stack of the user's own checkpoints (a frankenmerge): slices, each a range of one
 * model's layers, stacked in order into a model of their summed length, and the `slices:` recipe
 * that merges it (passthrough: every slice's layers copied as they are, renumbered). A slice read
 * from an imported recipe that merges several sources, or sets parameters or a base_model, is kept
 * as the recipe has it and merged with the recipe's top-level method and settings, as mergekit
 * merges every slice; the editor shows it but cannot edit it. Pure: the lab's slice editor shows
 * it, the store keeps it, the engine merges the recipe.
 */
import { MergeLabError } from '../../engine/errors.js';
import type { ParameterMap, Recipe, RecipeDtype, RecipeMath, RecipeSlice } from '../../engine/recipe/types.js';
import type { DroppedModel, TensorHeader } from '../store/types.js';

/** An imported slice the editor cannot hold in one model and range, and the top-level merge mergekit applies to it. */
export interface ImportedSlice {
  /** The slice as the recipe has it: every source with its range and parameters, its base_model and parameters. */
  readonly slice: RecipeSlice;
  /** The recipe's merge_method, base_model and parameters, with which every slice is merged. */
  readonly method: string;
  readonly baseModel?: string;
  readonly parameters?: ParameterMap;
}

/** Layers [start, end) of `model` (a dropped model's id); an imported slice's first source, with the whole slice beside it. */
export interface StackSlice {
  readonly model: string;
  readonly start: number;
  readonly end: number;
  readonly imported?: ImportedSlice;
}

/** Whether a recipe's slice is more than one model's range (several sources, parameters, a base_model): the editor then keeps it whole. */
export function needsWholeSlice(s: RecipeSlice): boolean {
  return s.sources.length !== 1 || s.baseModel !== undefined || s.parameters !== undefined || s.sources.some((x) => x.parameters !== undefined);
}

/**
 * A recipe's slices as the stack holds them: each slice's first source as its model and range, and
 * where a slice is more than that (or the recipe merges with a method other than passthrough, or
 * with settings) the slice whole, with the recipe's method, base_model and parameters.
 */
export function stackFromRecipe(recipe: Pick<Recipe, 'mergeMethod' | 'baseModel' | 'parameters' | 'slices'>): StackSlice[] {
  const plainMerge = recipe.mergeMethod === 'passthrough' && recipe.parameters === undefined;
  return (recipe.slices ?? []).map((slice) => {
    const first = slice.sources[0]!;
    const own = { model: first.model, start: first.layerRange[0], end: first.layerRange[1] };
    if (plainMerge && !needsWholeSlice(slice)) return own;
    return {
      ...own,
      imported: {
        slice,
        method: recipe.mergeMethod,
        ...(recipe.baseModel !== undefined ? { baseModel: recipe.baseModel } : {}),
        ...(recipe.parameters !== undefined ? { parameters: recipe.parameters } : {}),
      },
    };
  });
}

/** The models a slice reads, each once: its sources' and its base_model. */
export function sliceModels(s: StackSlice): string[] {
  if (!s.imported) return [s.model];
  const { slice, baseModel } = s.imported;
  return [...new Set([...slice.sources.map((x) => x.model), ...(slice.baseModel !== undefined ? [slice.baseModel] : baseModel !== undefined ? [baseModel] : [])])];
}

/** mergekit's layer index: the first `.N.` of a tensor name (model.layers.7.mlp… → 7). */
const LAYER_INDEX = /\.(\d+)\./;

/** How many layers a checkpoint's tensors hold: the largest layer index + 1 (0 when none has one). */
export function layerCount(tensors: readonly TensorHeader[]): number {
  let most = -1;
  for (const t of tensors) {
    const m = LAYER_INDEX.exec(t.name);
    if (m) most = Math.max(most, Number(m[1]));
  }
  return most + 1;
}

/** The merged model's layer count: the slices' lengths summed. */
export function stackLayers(slices: readonly StackSlice[]): number {
  return slices.reduce((n, s) => n + Math.max(0, s.end - s.start), 0);
}

/** One output layer of the stack: which model and which of its layers it is, and its slice. */
export interface StackLayer {
  readonly layer: number;
  readonly model: string;
  readonly from: number;
  readonly slice: number;
  /** A merged (imported) slice's layer: every source's model and layer, the first being `model`/`from`. */
  readonly sources?: readonly { readonly model: string; readonly from: number }[];
}

/** The stack layer by layer, for the strip the editor draws and the per-layer map. */
export function stackStrip(slices: readonly StackSlice[]): StackLayer[] {
  const out: StackLayer[] = [];
  slices.forEach((s, i) => {
    const several = s.imported && s.imported.slice.sources.length > 1 ? s.imported.slice.sources : undefined;
    for (let k = s.start; k < s.end; k++) {
      const sources = several?.map((x) => ({ model: x.model, from: x.layerRange[0] + (k - s.start) }));
      out.push({ layer: out.length, model: s.model, from: k, slice: i, ...(sources ? { sources } : {}) });
    }
  });
  return out;
}

/** What is wrong with the stack, one sentence per problem, naming the slice (numbered from 1) and model. */
export function stackProblems(slices: readonly StackSlice[], models: readonly DroppedModel[]): string[] {
  const problems: string[] = [];
  if (slices.length === 0) problems.push('The layer stack has no slices: add one.');
  slices.forEach((s, i) => {
    const at = `Slice ${i + 1}`;
    const sources = s.imported ? s.imported.slice.sources.map((x) => ({ model: x.model, start: x.layerRange[0], end: x.layerRange[1] })) : [s];
    for (const src of sources) problems.push(...sourceProblems(at, src, models));
    const lengths = new Set(sources.map((x) => x.end - x.start));
    if (lengths.size > 1) problems.push(`${at}: its sources give ${[...lengths].join(' and ')} layers; every source of a slice must give as many.`);
  });
  return problems;
}

function sourceProblems(at: string, s: { readonly model: string; readonly start: number; readonly end: number }, models: readonly DroppedModel[]): string[] {
  const m = models.find((x) => x.id === s.model);
  if (!m) return [`${at} takes layers of "${s.model}", which is not among your checkpoints: choose another model.`];
  if (m.status !== 'ready' || !m.tensors) return [`${at} takes layers of "${s.model}", which is ${m.status === 'error' ? 'not readable' : 'still being read'}.`];
  const n = layerCount(m.tensors);
  if (!Number.isInteger(s.start) || !Number.isInteger(s.end) || s.start < 0 || s.end <= s.start) {
    return [`${at}: its layers run from ${s.start} up to ${s.end}; give a first layer from 0 and an end past it.`];
  }
  if (s.end > n) return [`${at}: "${s.model}" has ${n} layer${n === 1 ? '' : 's'} (0 to ${n - 1}), so the slice can end at ${n} at most, not ${s.end}.`];
  return [];
}

/** The stack a model's list starts with: the base's (else the first ready model's) whole layer stack. */
export function initialStack(models: readonly DroppedModel[]): StackSlice[] {
  const ready = models.filter((m) => m.status === 'ready' && m.tensors);
  const first = ready.find((m) => m.role === 'base') ?? ready[0];
  return first ? [{ model: first.id, start: 0, end: layerCount(first.tensors!) }] : [];
}

/**
 * The recipe merging the stack: `slices:`, one source each, merged with passthrough; where the
 * stack holds imported slices, those as the recipe had them, every slice merged with its method,
 * base_model and parameters. Throws a MergeLabError listing every problem of the stack.
 */
export function stackRecipe(slices: readonly StackSlice[], models: readonly DroppedModel[], c: { readonly dtype?: RecipeDtype; readonly math?: RecipeMath } = {}): Recipe {
  const problems = stackProblems(slices, models);
  if (problems.length > 0) throw new MergeLabError('RECIPE_INVALID', problems.join(' '));
  const merge = slices.find((s) => s.imported)?.imported;
  return {
    mergeMethod: merge?.method ?? 'passthrough',
    ...(merge?.baseModel !== undefined ? { baseModel: merge.baseModel } : {}),
    models: [...new Set(slices.flatMap(sliceModels))].map((model) => ({ model })),
    slices: slices.map((s) => s.imported?.slice ?? { sources: [{ model: s.model, layerRange: [s.start, s.end] as const }] }),
    ...(merge?.parameters !== undefined ? { parameters: merge.parameters } : {}),
    ...(c.dtype ? { dtype: c.dtype } : {}),
    ...(c.math === 'float32' ? { math: c.math } : {}),
  };
}
