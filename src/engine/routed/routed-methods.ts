/**
 * The routed methods — merges that build a package (shared part, per-task parts, router) instead
 * of one model — in the order the CLI's help and the lab list them after the registry's methods.
 * The CLI's `merge` and the lab's worker both build packages through these entries.
 */
import { closest } from '../methods/registry.js';
import { CHANNEL_MERGING } from './channel.js';
import { TWIN_MERGING } from './twin.js';
import type { RoutedMethod } from './types.js';

export const ROUTED_METHODS: readonly RoutedMethod[] = [TWIN_MERGING, CHANNEL_MERGING];

export function findRoutedMethod(id: string): RoutedMethod | undefined {
  return ROUTED_METHODS.find((m) => m.id === id);
}

/** The routed method a recipe's merge_method names, if it names one. */
export function isRoutedMethod(id: string): boolean {
  return findRoutedMethod(id) !== undefined;
}

/** The closest routed method's id to a misspelt merge_method (for UNKNOWN_METHOD hints). */
export function closestRouted(id: string): string | undefined {
  return closest(id, ROUTED_METHODS.map((m) => m.id));
}
