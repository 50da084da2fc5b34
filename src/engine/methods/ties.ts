/** TIES: Trims each task vector to its largest-magnitude entries, elects a sign per entry by total mass, and averages only the entries that agree with it. */
import { gtaMethod } from './gta.js';

export const ties = gtaMethod({
  id: 'ties',
  label: 'TIES',
  summary: "Trims each task vector to its largest-magnitude entries, elects a sign per entry by total mass, and averages only the entries that agree with it.",
  formula: "τi' = top-k(|τi|, k = ⌊density·n⌋);  s = sign(Σ wi·τi');  θ = θ0 + λ · Σ [sign(wi·τi') = s]·wi·τi' / Σ [sign(wi·τi') = s]·wi",
  reference: 'Yadav et al., TIES-Merging, arXiv:2306.01708',
  sparsification: 'magnitude',
  consensus: 'sum',
  normalizeDefault: true,
  rescaleDefault: false,
});
