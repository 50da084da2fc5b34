/**
 * Every merge method's implementation, in catalog.ts's order. Adding a method means its descriptor
 * in catalog.ts, its file and one line here; everything else (YAML reader, --help, sliders) reads
 * the descriptors.
 */
import { MergeLabError } from '../errors.js';
import { unknownMethodMessage } from './catalog.js';
import { arceeFusion } from './arcee-fusion.js';
import { breadcrumbsTies } from './breadcrumbs-ties.js';
import { breadcrumbs } from './breadcrumbs.js';
import { dareLinear } from './dare-linear.js';
import { dareTies } from './dare-ties.js';
import { dellaLinear } from './della-linear.js';
import { della } from './della.js';
import { karcher } from './karcher.js';
import { linear } from './linear.js';
import { modelStock } from './model-stock.js';
import { multislerp } from './multislerp.js';
import { nearswap } from './nearswap.js';
import { nuslerp } from './nuslerp.js';
import { passthrough } from './passthrough.js';
import { ram } from './ram.js';
import { ramplusTl } from './ramplus-tl.js';
import { sce } from './sce.js';
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
  passthrough,
  nuslerp,
  multislerp,
  karcher,
  sce,
  nearswap,
  arceeFusion,
  ram,
  ramplusTl,
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

export { closest, unknownMethodMessage } from './catalog.js';
