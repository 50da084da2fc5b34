/** DELLA: Drops entries at random with a keep probability that grows with magnitude rank (MagPrune), rescales, elects signs as TIES does and averages the agreeing entries. */
import { DELLA } from './catalog.js';
import { gtaMethod } from './gta.js';

export const della = gtaMethod(DELLA);
