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

export const PASSTHROUGH: MethodDescriptor = {
  id: 'passthrough',
  label: 'Passthrough',
  summary: "Copies one model's tensors unchanged, each optionally multiplied by scale.",
  formula: 'θ = scale · θ1   (θ1 when scale is unset)',
  reference: 'mergekit passthrough',
  params: [
    {
      name: 'scale',
      scope: 'model',
      type: 'number',
      ui: { min: -2, max: 2, step: 0.05 },
      help: 'Multiplies the tensor (a filter or a list gives a value per tensor or layer); unset leaves it as it is.',
    },
  ],
  base: 'optional',
  minModels: 1,
  maxModels: 1,
  modelCount: 'exactly one model (a base_model must be that model)',
  random: false,
};

export const NUSLERP: MethodDescriptor = {
  id: 'nuslerp',
  label: 'NuSLERP',
  summary: 'Spherical interpolation between two models at t = w2 / (w1 + w2), per row, per column or over the flattened tensor; with a base_model, between their task vectors, added back to the base.',
  formula: 't = w2/(w1+w2) (0.5 if |w1+w2| < 1e-6);  cos Ω = v̂1·v̂2;  θ = (sin((1−t)Ω)·v1 + sin(tΩ)·v2) / sin Ω  (linear where |sin Ω| < 1e-8);  with a base: v = θi − θ0, θ = θ0 + slerp',
  reference: 'mergekit nuslerp; Shoemake, Animating rotation with quaternion curves (1985)',
  params: [
    { ...WEIGHT, help: 'Relative weight of this model; t = weight of the second model / sum of both weights.' },
    {
      name: 'nuslerp_row_wise',
      scope: 'global',
      type: 'boolean',
      default: false,
      help: 'Interpolate each column (vectors along the first axis) rather than each row; ignored when nuslerp_flatten is true.',
    },
    {
      name: 'nuslerp_flatten',
      scope: 'global',
      type: 'boolean',
      default: true,
      help: 'Treat the whole tensor as one vector (one angle per tensor).',
    },
  ],
  base: 'optional',
  minModels: 2,
  maxModels: 3,
  modelCount: 'exactly two models, plus an optional base_model that is neither of them',
  random: false,
};

export const MULTISLERP: MethodDescriptor = {
  id: 'multislerp',
  label: 'Multi-SLERP',
  summary: 'Barycentric interpolation of any number of models on the hypersphere: the weighted mean of their unit vectors, mapped back to the sphere and scaled by the weighted mean norm; with a base_model, of their task vectors.',
  formula: 'ui = vi/(‖vi‖+ε);  m = Σ wi·ui / ‖Σ wi·ui‖;  τ = Σ wi·(ui − (ui·m)·m);  θ = (m·cos‖τ‖ + τ·sin‖τ‖/‖τ‖) · Σ wi‖vi‖   (w normalized to sum 1 by default; vi = θi − θ0 with a base)',
  reference: 'Goddard, Multi-SLERP (goddard.blog/posts/multislerp-wow-what-a-cool-idea); mergekit multislerp',
  params: [
    { ...WEIGHT, help: "This model's weight in the barycentric mean." },
    {
      name: 'normalize_weights',
      scope: 'global',
      type: 'boolean',
      default: true,
      help: 'Divide the weights by their sum.',
    },
    {
      name: 'eps',
      scope: 'global',
      type: 'number',
      default: 1e-8,
      ui: { min: 0, max: 1e-4, step: 1e-8 },
      help: 'Added to norms before dividing; a weighted mean shorter than eps falls back to linear (two models) or is an error.',
    },
  ],
  base: 'optional',
  minModels: 1,
  differentVocabularies: 'refuse',
  random: false,
};

export const KARCHER: MethodDescriptor = {
  id: 'karcher',
  label: 'Karcher Mean',
  summary: 'The Riemannian (Karcher) mean of all the models, base_model included, with equal weights: their directions averaged on the unit sphere by fixed-point iteration, scaled by the mean norm.',
  formula: 'ui = θi/‖θi‖;  u ← normalized mean;  repeat: T = Σ αi·Ωi/sin Ωi·(ui − cos Ωi·u),  u ← cos‖T‖·u + sin‖T‖·T/‖T‖ (until ‖T‖ < tol);  θ = (Σ αi‖θi‖)·u,  αi = 1/N',
  reference: 'Karcher mean (en.wikipedia.org/wiki/Karcher_mean); mergekit karcher',
  params: [
    {
      name: 'max_iter',
      scope: 'global',
      type: 'integer',
      default: 10,
      ui: { min: 0, max: 50, step: 1 },
      help: 'Most fixed-point iterations.',
    },
    {
      name: 'tol',
      scope: 'global',
      type: 'number',
      default: 1e-5,
      ui: { min: 0, max: 1e-3, step: 1e-6 },
      help: 'Stop when the update is shorter than this; models with a norm at most tol are left out of the direction.',
    },
  ],
  base: 'optional',
  minModels: 1,
  differentVocabularies: 'refuse',
  random: false,
};

export const SCE: MethodDescriptor = {
  id: 'sce',
  label: 'SCE',
  summary: 'Select, Calculate, Erase: keeps the entries where the task vectors vary most across models, weights each model by its mean squared task vector, and averages only the entries whose sign agrees with the elected one.',
  formula: 'τi = θi − θ0;  keep top-k of Var_i(τi), k = ⌊select_topk·#(Var ≠ 0)⌋;  wi = mean(τi²)/Σ mean(τj²);  s = sign(Σ τi);  θ = θ0 + Σ [sign τi = s]·wi·τi / max(Σ [sign τi = s]·wi, 1e-6)',
  reference: 'Wan et al., FuseChat: Knowledge Fusion of Chat Models (SCE), arXiv:2408.07990',
  params: [
    {
      name: 'select_topk',
      scope: 'global',
      type: 'number',
      default: 1,
      ui: { min: 0, max: 1, step: 0.01 },
      help: 'Fraction of the entries with nonzero variance across models that are kept (1 keeps all, 0 none).',
    },
    INT8_MASK,
  ],
  base: 'required',
  minModels: 2,
  differentVocabularies: 'refuse',
  random: false,
};

export const NEARSWAP: MethodDescriptor = {
  id: 'nearswap',
  label: 'NearSwap',
  summary: 'Takes the other model where it is close to the base and keeps the base where they are far apart: each entry moves towards the other model by t / |difference|, at most all the way.',
  formula: 'w = clamp(t / max(|θ0 − θ1|, 1e-6), 0, 1);  θ = w·θ1 + (1 − w)·θ0',
  reference: 'alchemonaut, QuartetAnemoi-70B-t0.0001 (huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001); mergekit nearswap',
  params: [
    {
      name: 't',
      scope: 'global',
      type: 'number',
      required: true,
      ui: { min: 0, max: 0.01, step: 0.0001 },
      help: 'Similarity threshold: entries closer than t are swapped for the other model\'s outright; farther ones move t/|difference| of the way.',
    },
  ],
  base: 'required',
  minModels: 2,
  maxModels: 2,
  differentVocabularies: 'refuse',
  random: false,
};

export const ARCEE_FUSION: MethodDescriptor = {
  id: 'arcee_fusion',
  label: 'Arcee Fusion',
  summary: "Adds the other model's changes only where they matter most: importance = |difference| × the row's KL divergence between the two models' softmaxes; entries at or above median + 1.5·IQR of the importances are taken, the rest stay the base's.",
  formula: 'I = |θ1 − θ0| · KL(softmax(θ1) ‖ softmax(θ0)) per row;  m = [I ≥ median(I) + 1.5·(q75(I) − q25(I))];  θ = θ0 + m·(θ1 − θ0)',
  reference: 'Arcee AI (arcee.ai); mergekit arcee_fusion',
  params: [],
  base: 'required',
  minModels: 2,
  maxModels: 2,
  modelCount: 'exactly two models, one of them the base_model',
  float32Result: true,
  random: false,
};

const RAM_EPSILON: ParamSpec = {
  name: 'epsilon',
  scope: 'global',
  type: 'number',
  default: 1e-5,
  ui: { min: 0, max: 1e-3, step: 1e-5 },
  help: 'A task-vector entry counts as changed where |τ| > epsilon.',
};

export const RAM: MethodDescriptor = {
  id: 'ram',
  label: 'Reinforced Agent Merging',
  summary: 'Adds each changed entry of the task vectors as it is where only one model changed it, and their average where several did (entries within epsilon of the base count as unchanged).',
  formula: 'τi = θi − θ0;  ci = [|τi| > ε];  n = Σ ci;  θ = θ0 + Σ ci·τi / max(n, 1)',
  reference: 'Reinforced Agent Merging, arXiv:2601.13572',
  params: [RAM_EPSILON],
  base: 'required',
  minModels: 2,
  differentVocabularies: 'refuse',
  random: false,
};

export const RAMPLUS_TL: MethodDescriptor = {
  id: 'ramplus_tl',
  label: 'Reinforced Agent Merging Plus (Tensor-Local)',
  summary: "RAM with each model's uniquely changed entries scaled up by 1 + r·min(ρ, alpha), where ρ is the model's ratio of shared to unique changed entries in the tensor.",
  formula: 'ρi = #(ci ∧ n > 1) / max(#(ci ∧ n = 1), ε);  λi = 1 + r·clamp(ρi, 0, α);  θ = θ0 + Σ ci·τi·([n = 1]·λi + [n > 1]/max(n, 1))',
  reference: 'Reinforced Agent Merging, arXiv:2601.13572',
  params: [
    { name: 'r', scope: 'global', type: 'number', default: 0.1, ui: { min: 0, max: 1, step: 0.01 }, help: 'How much the unique entries are scaled up per unit of ρ.' },
    { name: 'alpha', scope: 'global', type: 'number', default: 0.2, ui: { min: 0, max: 2, step: 0.05 }, help: 'Upper bound on ρ before scaling.' },
    RAM_EPSILON,
  ],
  base: 'required',
  minModels: 2,
  float32Result: true,
  differentVocabularies: 'refuse',
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
  PASSTHROUGH,
  NUSLERP,
  MULTISLERP,
  KARCHER,
  SCE,
  NEARSWAP,
  ARCEE_FUSION,
  RAM,
  RAMPLUS_TL,
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
