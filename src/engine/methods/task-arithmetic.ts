/** Task Arithmetic: Adds the weighted task vectors (model − base) to the base, scaled by λ. */
import { gtaMethod } from './gta.js';

export const taskArithmetic = gtaMethod({
  id: 'task_arithmetic',
  label: 'Task Arithmetic',
  summary: "Adds the weighted task vectors (model − base) to the base, scaled by λ.",
  formula: "θ = θ0 + λ · Σ wi·(θi − θ0)   (÷ Σ wi if normalize)",
  reference: 'Ilharco et al., Editing Models with Task Arithmetic, arXiv:2212.04089',
  normalizeDefault: false,
  rescaleDefault: false,
});
