/** DARE (linear): Drops task-vector entries at random (keeping each with probability density), rescales to the original L1 norm, and adds the weighted sum to the base. */
import { gtaMethod } from './gta.js';

export const dareLinear = gtaMethod({
  id: 'dare_linear',
  label: 'DARE (linear)',
  summary: "Drops task-vector entries at random (keeping each with probability density), rescales to the original L1 norm, and adds the weighted sum to the base.",
  formula: "τi' = Bernoulli(density) ⊙ τi · ‖τi‖₁/‖masked‖₁;  θ = θ0 + λ · Σ wi·τi'",
  reference: 'Yu et al., Language Models are Super Mario (DARE), arXiv:2311.03099',
  sparsification: 'random',
  normalizeDefault: false,
  rescaleDefault: true,
});
