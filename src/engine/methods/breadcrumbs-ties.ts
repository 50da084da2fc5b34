/** Model Breadcrumbs with TIES: Breadcrumbs' outlier-and-small-entry trim, then TIES's sign election before summing. */
import { gtaMethod } from './gta.js';

export const breadcrumbsTies = gtaMethod({
  id: 'breadcrumbs_ties',
  label: 'Model Breadcrumbs with TIES',
  summary: "Breadcrumbs' outlier-and-small-entry trim, then TIES's sign election before summing.",
  formula: "breadcrumbs trim;  s = sign(Σ wi·τi');  θ = θ0 + λ · Σ [sign = s]·wi·τi'",
  reference: 'Davari & Belilovsky, Model Breadcrumbs, arXiv:2312.06795',
  sparsification: 'magnitude_outliers',
  consensus: 'sum',
  normalizeDefault: false,
  rescaleDefault: false,
});
