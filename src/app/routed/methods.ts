/**
 * The routed methods as the lab lists them: Twin-Merging and Channel Merging merge per input (a
 * router picks the experts' parts), so they are not per-tensor MergeMethods and not in the method
 * registry. What they compute (label, summary, formula, paper) and their controls' ranges come from
 * the engine's descriptions (src/engine/routed/info.ts), the same text the command line's --help prints.
 */
import { TWIN_PARAMS } from '../../engine/methods/twin/params.js';
import { CHANNEL_PARAMS, ROUTED_INFO, findRoutedInfo, type RoutedInfo } from '../../engine/routed/info.js';
import type { ParamSpec } from '../../engine/methods/types.js';
import type { RoutedMethodId } from '../../engine/api/engine-api.js';

/** The routed methods as the lab lists them (descriptions only: their code runs in the worker). */
export const ROUTED_METHODS: readonly RoutedInfo[] = ROUTED_INFO;
export const findRoutedMethod = findRoutedInfo;

export function isRoutedMethod(id: string): id is RoutedMethodId {
  return findRoutedInfo(id) !== undefined;
}

function param(list: readonly ParamSpec[], name: string, what: string): ParamSpec {
  const p = list.find((x) => x.name === name);
  if (!p) throw new Error(`${what} has no "${name}".`);
  return p;
}

/** A Twin-Merging setting's schema entry (ranges and help for its slider). */
export const twinParam = (name: string): ParamSpec => param(TWIN_PARAMS, name, 'TWIN_PARAMS');

/** A Channel Merging setting's schema entry. */
export const channelParam = (name: string): ParamSpec => param(CHANNEL_PARAMS, name, 'CHANNEL_PARAMS');

/** Within-group methods the lab offers (any task-vector method works in the engine). */
export const GROUP_METHODS = [
  { id: 'average', label: 'average' },
  { id: 'task_arithmetic', label: 'task arithmetic' },
  { id: 'ties', label: 'TIES' },
] as const;

export type GroupMethodId = (typeof GROUP_METHODS)[number]['id'];
