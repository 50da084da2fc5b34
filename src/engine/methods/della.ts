/** DELLA: Drops entries at random with a keep probability that grows with magnitude rank (MagPrune), rescales, elects signs as TIES does and averages the agreeing entries. */
import { gtaMethod } from './gta.js';

export const della = gtaMethod({
  id: 'della',
  label: 'DELLA',
  summary: "Drops entries at random with a keep probability that grows with magnitude rank (MagPrune), rescales, elects signs as TIES does and averages the agreeing entries.",
  formula: "p = density − ε + 2ε·rank(|τ|)/(m−1) per row;  τi' = Bernoulli(p) ⊙ τi (rescaled);  TIES election and normalized sum",
  reference: 'Deep et al., DELLA-Merging, arXiv:2406.11617',
  sparsification: 'della_magprune',
  consensus: 'sum',
  normalizeDefault: true,
  rescaleDefault: true,
});
