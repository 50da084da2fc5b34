/** Model Breadcrumbs with TIES: Breadcrumbs' outlier-and-small-entry trim, then TIES's sign election before summing. */
import { BREADCRUMBS_TIES } from './catalog.js';
import { gtaMethod } from './gta.js';

export const breadcrumbsTies = gtaMethod(BREADCRUMBS_TIES);
