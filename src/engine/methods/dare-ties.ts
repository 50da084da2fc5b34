/** DARE TIES: DARE's random drop and rescale, then TIES's sign election before summing. */
import { DARE_TIES } from './catalog.js';
import { gtaMethod } from './gta.js';

export const dareTies = gtaMethod(DARE_TIES);
