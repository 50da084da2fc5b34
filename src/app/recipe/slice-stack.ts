/**
 * A layer stack of the user's own checkpoints (a frankenmerge): slices, each a range of one
 * model's layers, stacked in order into a model of their summed length, and the `slices:` recipe
 * that merges it (passthrough: every slice's layers copied as they are, renumbered). Pure: the
 * lab's slice editor shows it, the store keeps it, the engine merges the recipe.
 */
import { MergeLabError } from '../../engine/errors.js';
import type { Recipe, RecipeDtype, RecipeMath } from '../../engine/recipe/types.js';
import type { DroppedModel, TensorHeader } from '../store/types.js';

/** Layers [start, end) of `model` (a dropped model's id). */
export interface StackSlice {
  readonly model: string;
  readonly start: number;
  readonly end: number;
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
}

/** The stack layer by layer, for the strip the editor draws. */
export function stackStrip(slices: readonly StackSlice[]): StackLayer[] {
  const out: StackLayer[] = [];
  slices.forEach((s, i) => {
    for (let k = s.start; k < s.end; k++) out.push({ layer: out.length, model: s.model, from: k, slice: i });
  });
  return out;
}

/** What is wrong with the stack, one sentence per problem, naming the slice (numbered from 1) and model. */
export function stackProblems(slices: readonly StackSlice[], models: readonly DroppedModel[]): string[] {
  const problems: string[] = [];
  if (slices.length === 0) problems.push('The layer stack has no slices: add one.');
  slices.forEach((s, i) => {
    const m = models.find((x) => x.id === s.model);
    const at = `Slice ${i + 1}`;
    if (!m) {
      problems.push(`${at} takes layers of "${s.model}", which is not among your checkpoints: choose another model.`);
      return;
    }
    if (m.status !== 'ready' || !m.tensors) {
      problems.push(`${at} takes layers of "${s.model}", which is ${m.status === 'error' ? 'not readable' : 'still being read'}.`);
      return;
    }
    const n = layerCount(m.tensors);
    if (!Number.isInteger(s.start) || !Number.isInteger(s.end) || s.start < 0 || s.end <= s.start) {
      problems.push(`${at}: its layers run from ${s.start} up to ${s.end}; give a first layer from 0 and an end past it.`);
    } else if (s.end > n) {
      problems.push(`${at}: "${s.model}" has ${n} layer${n === 1 ? '' : 's'} (0 to ${n - 1}), so the slice can end at ${n} at most, not ${s.end}.`);
    }
  });
  return problems;
}

/** The stack a model's list starts with: the base's (else the first ready model's) whole layer stack. */
export function initialStack(models: readonly DroppedModel[]): StackSlice[] {
  const ready = models.filter((m) => m.status === 'ready' && m.tensors);
  const first = ready.find((m) => m.role === 'base') ?? ready[0];
  return first ? [{ model: first.id, start: 0, end: layerCount(first.tensors!) }] : [];
}

/**
 * The recipe merging the stack: `slices:`, one source each, merged with passthrough. Throws a
 * MergeLabError listing every problem of the stack.
 */
export function stackRecipe(slices: readonly StackSlice[], models: readonly DroppedModel[], c: { readonly dtype?: RecipeDtype; readonly math?: RecipeMath } = {}): Recipe {
  const problems = stackProblems(slices, models);
  if (problems.length > 0) throw new MergeLabError('RECIPE_INVALID', problems.join(' '));
  return {
    mergeMethod: 'passthrough',
    models: [...new Set(slices.map((s) => s.model))].map((model) => ({ model })),
    slices: slices.map((s) => ({ sources: [{ model: s.model, layerRange: [s.start, s.end] as const }] })),
    ...(c.dtype ? { dtype: c.dtype } : {}),
    ...(c.math === 'float32' ? { math: c.math } : {}),
  };
}
