/** Model Breadcrumbs: Drops both the smallest entries and the largest outliers (a gamma fraction) of each task vector, then adds the weighted sum to the base. */
import { gtaMethod } from './gta.js';

export const breadcrumbs = gtaMethod({
  id: 'breadcrumbs',
  label: 'Model Breadcrumbs',
  summary: "Drops both the smallest entries and the largest outliers (a gamma fraction) of each task vector, then adds the weighted sum to the base.",
  formula: "keep sorted |τi| positions [n − ⌊density·n⌋ − ⌊γ·n⌋, n − ⌊γ·n⌋);  θ = θ0 + λ · Σ wi·τi'",
  reference: 'Davari & Belilovsky, Model Breadcrumbs, arXiv:2312.06795',
  sparsification: 'magnitude_outliers',
  normalizeDefault: false,
  rescaleDefault: false,
});
