/**
 * Per-tensor parameter values, as mergekit's ConfigReader computes them: a model's own setting,
 * then the slice's, then the top level's, then the method's default. Filters match by substring
 * of the tensor name (first match wins, none falls through); gradients interpolate over t, the
 * tensor's position in the layer stack (0 outside it).
 */
import type { ParameterMap, ParameterSetting, Scalar } from './types.js';

/** The value of `setting` for `tensorName` at layer position `t`, or undefined if no filter matches. */
export function evaluateSetting(setting: ParameterSetting, tensorName: string, t: number): Scalar | undefined {
  if (typeof setting === 'number' || typeof setting === 'boolean') return setting;
  if (setting.length === 0) return undefined;
  if (setting.every((e) => typeof e === 'number' || typeof e === 'boolean')) return interpolate(setting as readonly Scalar[], t);
  for (const entry of setting) {
    if (typeof entry !== 'object' || entry === null) continue;
    const f = entry.filter;
    if (f === undefined || f === null || f === '*' || tensorName.includes(f)) return evaluateSetting(entry.value as ParameterSetting, tensorName, t);
  }
  return undefined;
}

/** mergekit's evaluate_setting on a list of numbers (Python's bools are numbers there too). */
function interpolate(g: readonly Scalar[], t: number): number {
  const v = g.map(Number);
  const scaled = t * (v.length - 1);
  const i0 = Math.trunc(scaled);
  const i1 = Math.min(v.length - 1, i0 + 1);
  const frac = scaled - i0;
  return (1 - frac) * v[i0]! + frac * v[i1]!;
}

/** Looks a parameter up through the layers in order, skipping those that do not set it here. */
export function lookupParameter(
  name: string,
  layers: readonly (ParameterMap | undefined)[],
  tensorName: string,
  t: number,
): Scalar | undefined {
  for (const layer of layers) {
    const s = layer?.[name];
    if (s === undefined) continue;
    const v = evaluateSetting(s, tensorName, t);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The layer index of a tensor (the first integer path component, e.g. `model.layers.7.mlp` → 7). */
export function layerIndex(tensorName: string): number | undefined {
  const m = /(?:^|\.)(\d+)(?:\.|$)/.exec(tensorName);
  return m ? Number(m[1]) : undefined;
}

/** How many layers the stack has: from the model's config.json, else from the tensor names. */
export function countLayers(tensorNames: readonly string[], config?: Readonly<Record<string, unknown>>): number {
  for (const key of ['num_hidden_layers', 'n_layer', 'num_layers', 'n_layers']) {
    const v = config?.[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  let max = -1;
  for (const n of tensorNames) max = Math.max(max, layerIndex(n) ?? -1);
  return max + 1;
}

/** mergekit's t for a tensor: layer / (layers − 1) inside the stack (1 for a single layer), else 0. */
export function layerPosition(tensorName: string, numLayers: number): number {
  const layer = layerIndex(tensorName);
  if (layer === undefined || numLayers <= 0) return 0;
  return numLayers > 1 ? layer / (numLayers - 1) : 1;
}
