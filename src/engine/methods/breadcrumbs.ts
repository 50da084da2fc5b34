/** Model Breadcrumbs: Drops both the smallest entries and the largest outliers (a gamma fraction) of each task vector, then adds the weighted sum to the base. */
import { BREADCRUMBS } from './catalog.js';
import { gtaMethod } from './gta.js';

export const breadcrumbs = gtaMethod(BREADCRUMBS);
