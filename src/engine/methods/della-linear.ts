/** DELLA (linear): DELLA's magnitude-ranked random drop and rescale, then a plain weighted sum of the task vectors. */
import { gtaMethod } from './gta.js';

export const dellaLinear = gtaMethod({
  id: 'della_linear',
  label: 'DELLA (linear)',
  summary: "DELLA's magnitude-ranked random drop and rescale, then a plain weighted sum of the task vectors.",
  formula: "p = density − ε + 2ε·rank(|τ|)/(m−1) per row;  τi' = Bernoulli(p) ⊙ τi (rescaled);  θ = θ0 + λ · Σ wi·τi'",
  reference: 'Deep et al., DELLA-Merging, arXiv:2406.11617',
  sparsification: 'della_magprune',
  normalizeDefault: false,
  rescaleDefault: true,
});
