/**
 * Every merge method, in the order the CLI's help and the lab list them. Adding a method means
 * adding its file and one line here; everything else (YAML reader, --help, sliders) reads schemas.
 */
import { MergeLabError } from '../errors.js';
import { breadcrumbs } from './breadcrumbs.js';
import { breadcrumbsTies } from './breadcrumbs-ties.js';
import { dareLinear } from './dare-linear.js';
import { dareTies } from './dare-ties.js';
import { della } from './della.js';
import { dellaLinear } from './della-linear.js';
import { linear } from './linear.js';
import { modelStock } from './model-stock.js';
import { slerp } from './slerp.js';
import { taskArithmetic } from './task-arithmetic.js';
import { ties } from './ties.js';
import type { MergeMethod } from './types.js';

export const METHODS: readonly MergeMethod[] = [
  linear,
  taskArithmetic,
  ties,
  dareLinear,
  dareTies,
  breadcrumbs,
  breadcrumbsTies,
  della,
  dellaLinear,
  slerp,
  modelStock,
];

export function findMethod(id: string): MergeMethod | undefined {
  return METHODS.find((m) => m.id === id);
}

/** The method called `id`, or UNKNOWN_METHOD naming the closest known name. */
export function getMethod(id: string): MergeMethod {
  const m = findMethod(id);
  if (m) return m;
  throw new MergeLabError('UNKNOWN_METHOD', unknownMethodMessage(id));
}

export function unknownMethodMessage(id: string): string {
  const nearest = closest(id, METHODS.map((m) => m.id));
  const hint = nearest ? ` Did you mean "${nearest}"?` : '';
  return `merge_method "${id}" is not a method merge-lab knows.${hint} Known methods: ${METHODS.map((m) => m.id).join(', ')}.`;
}

/** The candidate within a small edit distance of `word`, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase().replace(/[-\s]/g, '_');
  for (const c of candidates) {
    const d = editDistance(w, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
