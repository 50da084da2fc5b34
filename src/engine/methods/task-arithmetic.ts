/** Task Arithmetic: Adds the weighted task vectors (model − base) to the base, scaled by λ. */
import { TASK_ARITHMETIC } from './catalog.js';
import { gtaMethod } from './gta.js';

export const taskArithmetic = gtaMethod(TASK_ARITHMETIC);
