/**
 * What each merge method is, apart from how it computes: names, text, formulas, parameter schemas
 * and the rules the planner checks. The lab's main thread reads methods from here alone, so it
 * loads no tensor code (tfjs stays in the worker); the implementations (registry.ts) are built
 * from these same entries, so the two cannot disagree on a name or a parameter.
 */
import { DENSITY, EPSILON, GAMMA, INT8_MASK, LAMBDA, WEIGHT, normalizeParam, rescaleParam } from './params.js';
import type { SparsificationKind } from './sparsify.js';
import type { MethodDescriptor, ParamSpec } from './types.js';

/** One member of the generalized task-arithmetic family (gta.ts computes all of them). */
export interface GtaConfig {
  readonly id: string;
  readonly label: string;
  readonly summary: string;
  readonly formula: string;
  readonly reference: string;
  readonly sparsification?: SparsificationKind;
  /** TIES sign election by summed mass ('sum', mergekit's only choice) or by count of signs. */
  readonly consensus?: 'sum' | 'count';
  readonly normalizeDefault: boolean;
  readonly rescaleDefault: boolean;
}

export const TASK_ARITHMETIC: GtaConfig = {
  id: 'task_arithmetic',
  label: 'Task Arithmetic',
  summary: "Adds the weighted task vectors (model − base) to the base, scaled by λ.",
  formula: "θ = θ0 + λ · Σ wi·(θi − θ0)   (÷ Σ wi if normalize)",
  reference: 'Ilharco et al., Editing Models with Task Arithmetic, arXiv:2212.04089',
  normalizeDefault: false,
  rescaleDefault: false,
};

export const TIES: GtaConfig = {
  id: 'ties',
  label: 'TIES',
  summary: "Trims each task vector to its largest-magnitude entries, elects a sign per entry by total mass, and averages only the entries that agree with it.",
  formula: "τi' = top-k(|τi|, k = ⌊density·n⌋);  s = sign(Σ wi·τi');  θ = θ0 + λ · Σ [sign(wi·τi') = s]·wi·τi' / Σ [sign(wi·τi') = s]·wi",
  reference: 'Yadav et al., TIES-Merging, arXiv:2306.01708',
  sparsification: 'magnitude',
  consensus: 'sum',
  normalizeDefault: true,
  rescaleDefault: false,
};

export const DARE_LINEAR: GtaConfig = {
  id: 'dare_linear',
  label: 'DARE (linear)',
  summary: "Drops task-vector entries at random (keeping each with probability density), rescales to the original L1 norm, and adds the weighted sum to the base.",
  formula: "τi' = Bernoulli(density) ⊙ τi · ‖τi‖₁/‖masked‖₁;  θ = θ0 + λ · Σ wi·τi'",
  reference: 'Yu et al., Language Models are Super Mario (DARE), arXiv:2311.03099',
  sparsification: 'random',
  normalizeDefault: false,
  rescaleDefault: true,
};

export const DARE_TIES: GtaConfig = {
  id: 'dare_ties',
  label: 'DARE TIES',
  summary: "DARE's random drop and rescale, then TIES's sign election before summing.",
  formula: "τi' = Bernoulli(density) ⊙ τi (rescaled);  s = sign(Σ wi·τi');  θ = θ0 + λ · Σ [sign = s]·wi·τi'",
  reference: 'Yu et al., Language Models are Super Mario (DARE), arXiv:2311.03099',
  sparsification: 'random',
  consensus: 'sum',
  normalizeDefault: false,
  rescaleDefault: true,
};

export const BREADCRUMBS: GtaConfig = {
  id: 'breadcrumbs',
  label: 'Model Breadcrumbs',
  summary: "Drops both the smallest entries and the largest outliers (a gamma fraction) of each task vector, then adds the weighted sum to the base.",
  formula: "keep sorted |τi| positions [n − ⌊density·n⌋ − ⌊γ·n⌋, n − ⌊γ·n⌋);  θ = θ0 + λ · Σ wi·τi'",
  reference: 'Davari & Belilovsky, Model Breadcrumbs, arXiv:2312.06795',
  sparsification: 'magnitude_outliers',
  normalizeDefault: false,
  rescaleDefault: false,
};

export const BREADCRUMBS_TIES: GtaConfig = {
  id: 'breadcrumbs_ties',
  label: 'Model Breadcrumbs with TIES',
  summary: "Breadcrumbs' outlier-and-small-entry trim, then TIES's sign election before summing.",
  formula: "breadcrumbs trim;  s = sign(Σ wi·τi');  θ = θ0 + λ · Σ [sign = s]·wi·τi'",
  reference: 'Davari & Belilovsky, Model Breadcrumbs, arXiv:2312.06795',
  sparsification: 'magnitude_outliers',
  consensus: 'sum',
  normalizeDefault: false,
  rescaleDefault: false,
};

export const DELLA: GtaConfig = {
  id: 'della',
  label: 'DELLA',
  summary: "Drops entries at random with a keep probability that grows with magnitude rank (MagPrune), rescales, elects signs as TIES does and averages the agreeing entries.",
  formula: "p = density − ε + 2ε·rank(|τ|)/(m−1) per row;  τi' = Bernoulli(p) ⊙ τi (rescaled);  TIES election and normalized sum",
  reference: 'Deep et al., DELLA-Merging, arXiv:2406.11617',
  sparsification: 'della_magprune',
  consensus: 'sum',
  normalizeDefault: true,
  rescaleDefault: true,
};

export const DELLA_LINEAR: GtaConfig = {
  id: 'della_linear',
  label: 'DELLA (linear)',
  summary: "DELLA's magnitude-ranked random drop and rescale, then a plain weighted sum of the task vectors.",
  formula: "p = density − ε + 2ε·rank(|τ|)/(m−1) per row;  τi' = Bernoulli(p) ⊙ τi (rescaled);  θ = θ0 + λ · Σ wi·τi'",
  reference: 'Deep et al., DELLA-Merging, arXiv:2406.11617',
  sparsification: 'della_magprune',
  normalizeDefault: false,
  rescaleDefault: true,
};

/** A task-arithmetic family member's descriptor: its parameters follow from how it trims. */
export function gtaDescriptor(c: GtaConfig): MethodDescriptor {
  // Density and rescale act through the sparsification alone: a method without one (task
  // arithmetic) does not list them, so neither the lab nor --help offers a control that changes
  // nothing (mergekit accepts them there and ignores them; a recipe naming them gets a warning).
  const perModel: ParamSpec[] = c.sparsification ? [WEIGHT, DENSITY] : [WEIGHT];
  if (c.sparsification === 'magnitude_outliers') perModel.push(GAMMA);
  if (c.sparsification === 'della_magprune') perModel.push(EPSILON);
  const normalizeHelp = c.consensus
    ? 'Divide each entry by the sum of the weights of the models whose sign won there.'
    : 'Divide the combined task vector by the sum of the weights.';
  return {
    id: c.id,
    label: c.label,
    summary: c.summary,
    formula: c.formula,
    reference: c.reference,
    params: [...perModel, LAMBDA, normalizeParam(c.normalizeDefault, normalizeHelp), ...(c.sparsification ? [rescaleParam(c.rescaleDefault)] : []), INT8_MASK],
    base: 'required',
    minModels: 2,
    random: c.sparsification === 'random' || c.sparsification === 'della_magprune',
    shapeMismatch: 'skip',
    taskVectors: {
      ...(c.sparsification ? { sparsification: c.sparsification } : {}),
      ...(c.consensus ? { consensus: c.consensus } : {}),
      rescaleDefault: c.rescaleDefault,
    },
  };
}

export const LINEAR: MethodDescriptor = {
  id: 'linear',
  label: 'Linear',
  summary: 'A weighted average of the models (a "model soup"); the base model takes part only if it has a weight.',
  formula: 'θ = Σ wi·θi / Σ wi   (no division if normalize is false)',
  reference: 'Wortsman et al., Model soups, arXiv:2203.05482',
  params: [WEIGHT, normalizeParam(true, 'Divide by the sum of the weights (a weighted mean rather than a weighted sum).')],
  base: 'optional',
  minModels: 1,
  random: false,
};

export const SLERP: MethodDescriptor = {
  id: 'slerp',
  label: 'SLERP',
  summary: 'Spherical linear interpolation from the base model (t = 0) to the other model (t = 1), tensor by tensor.',
  formula: 'θ = sin((1−t)Ω)/sin Ω · v0 + sin(tΩ)/sin Ω · v1,  cos Ω = v0·v1 / (‖v0‖‖v1‖)  (linear if |cos Ω| > 0.9995)',
  reference: 'Shoemake, Animating rotation with quaternion curves (1985); mergekit slerp',
  params: [
    {
      name: 't',
      scope: 'global',
      type: 'number',
      required: true,
      min: 0,
      max: 1,
      ui: { min: 0, max: 1, step: 0.01 },
      help: 'Interpolation factor: 0 gives the base model, 1 the other model (a list gives a gradient over layers).',
    },
  ],
  base: 'required',
  minModels: 2,
  maxModels: 2,
  random: false,
};

export const MODEL_STOCK: MethodDescriptor = {
  id: 'model_stock',
  label: 'Model Stock',
  summary: 'Interpolates between the base and the average of the fine-tunes, trusting the average more the more aligned their task vectors are.',
  formula: 'cos = mean_{i<j} cos(θi−θ0, θj−θ0);  t = N·cos / (1 + (N−1)·cos);  θ = t·mean(θi) + (1−t)·θ0',
  reference: 'Jang et al., Model Stock, arXiv:2403.19522',
  params: [
    {
      name: 'filter_wise',
      scope: 'global',
      type: 'boolean',
      default: false,
      help: 'Compute the angle per row (output channel) instead of over the whole tensor.',
    },
  ],
  base: 'required',
  minModels: 3,
  random: false,
};

/** Channel Merging's plain mean of a group's rows: a group method that is not one of METHODS. */
export const AVERAGE = 'average';

/** Every method, in the order the CLI's help and the lab list them. */
export const METHODS: readonly MethodDescriptor[] = [
  LINEAR,
  gtaDescriptor(TASK_ARITHMETIC),
  gtaDescriptor(TIES),
  gtaDescriptor(DARE_LINEAR),
  gtaDescriptor(DARE_TIES),
  gtaDescriptor(BREADCRUMBS),
  gtaDescriptor(BREADCRUMBS_TIES),
  gtaDescriptor(DELLA),
  gtaDescriptor(DELLA_LINEAR),
  SLERP,
  MODEL_STOCK,
];

export function findMethod(id: string): MethodDescriptor | undefined {
  return METHODS.find((m) => m.id === id);
}

export function unknownMethodMessage(id: string): string {
  const nearest = closest(id, METHODS.map((m) => m.id));
  const hint = nearest ? ` Did you mean "${nearest}"?` : '';
  return `merge_method "${id}" is not a method merge-lab knows.${hint} Known methods: ${METHODS.map((m) => m.id).join(', ')}.`;
}

/** The candidate within a small edit distance of `word`, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const w = word.toLowerCase().replace(/[-\s]/g, '_');
  for (const c of candidates) {
    const d = editDistance(w, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
