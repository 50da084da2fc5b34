/** DELLA (linear): DELLA's magnitude-ranked random drop and rescale, then a plain weighted sum of the task vectors. */
import { DELLA_LINEAR } from './catalog.js';
import { gtaMethod } from './gta.js';

export const dellaLinear = gtaMethod(DELLA_LINEAR);
