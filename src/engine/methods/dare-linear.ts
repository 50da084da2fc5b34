/** DARE (linear): Drops task-vector entries at random (keeping each with probability density), rescales to the original L1 norm, and adds the weighted sum to the base. */
import { DARE_LINEAR } from './catalog.js';
import { gtaMethod } from './gta.js';

export const dareLinear = gtaMethod(DARE_LINEAR);
