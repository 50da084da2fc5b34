/** TIES: Trims each task vector to its largest-magnitude entries, elects a sign per entry by total mass, and averages only the entries that agree with it. */
import { TIES } from './catalog.js';
import { gtaMethod } from './gta.js';

export const ties = gtaMethod(TIES);
