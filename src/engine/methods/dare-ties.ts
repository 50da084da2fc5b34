/** DARE TIES: DARE's random drop and rescale, then TIES's sign election before summing. */
import { gtaMethod } from './gta.js';

export const dareTies = gtaMethod({
  id: 'dare_ties',
  label: 'DARE TIES',
  summary: "DARE's random drop and rescale, then TIES's sign election before summing.",
  formula: "τi' = Bernoulli(density) ⊙ τi (rescaled);  s = sign(Σ wi·τi');  θ = θ0 + λ · Σ [sign = s]·wi·τi'",
  reference: 'Yu et al., Language Models are Super Mario (DARE), arXiv:2311.03099',
  sparsification: 'random',
  consensus: 'sum',
  normalizeDefault: false,
  rescaleDefault: true,
});
