/**
 * Twin-Merging on the LM demo (public/demo/lm), end to end: the shared task-arithmetic expert with λ
 * chosen on validation, the exclusive parts at the table's rank choices (rank 16, rank_ratio 0.1),
 * the router trained on the domains' validation windows (every 4th held out for its curve and early
 * stopping), and the routed merge scored per window on the test split — each domain's test text in
 * windows of the demo's context, and the manifest's mixed test windows — with the router and with
 * oracle routing (each domain window sent wholly to its domain's expert).
 *
 * As the digits twin (methods/twin/demo.ts): λ is chosen by the oracle-routed twin's mean normalized
 * gain on validation at the first rank choice (the router is trained on that split, so its own
 * validation score would flatter it). On the mixed windows, where no single expert is right, soft
 * routing (the router's weights) is compared with hard routing (all weight on its largest).
 */
import { MergeLabError } from '../errors.js';
import type { LmDemo } from '../demo/lm-load.js';
import type { ScoreResult } from '../lm/score.js';
import { disposeLmWeights } from '../lm/load.js';
import { LmReferences, lmWindowSets, lossOf, meanOf as mean, normalizedGain as gain, type DomainWindows, type LmLoss } from '../demo/lm-windows.js';
import { buildSharedExpert, taskArithmeticRecipe } from '../methods/twin/shared.js';
import { argmaxTasks, meanLargestWeight, oneHotWeights, routerLogits, routingAccuracy, routingWeights } from '../router/route.js';
import { trainRouterOnSplit } from '../router/train.js';
import type { RouterOptions, RoutingOptions } from '../router/types.js';
import { LmTwinModel, decomposeLmTwin, lmExclusive, scoreRoutedWindows, tripletsFor, windowFeatures, type LmTwinRank } from './lm-twin.js';

export type { LmLoss };

/** λ values tried for the shared expert. */
export const LM_TWIN_LAMBDAS: readonly number[] = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0];
/** The table's rank choices: rank 16 and the paper code's rank_ratio 0.1. */
export const LM_TWIN_CHOICES: readonly LmTwinRank[] = [{ rank: 16 }, { rankRatio: 0.1 }];

export interface LmTwinDemoOptions {
  readonly lambdas?: readonly number[];
  readonly choices?: readonly LmTwinRank[];
  /** The router (default: the paper's architecture). */
  readonly router?: RouterOptions;
  readonly routing?: RoutingOptions;
  /** At most this many validation windows per domain (λ choice and router training); default all. */
  readonly validationWindows?: number;
  /** At most this many test windows per domain; default all. */
  readonly testWindows?: number;
  /** The windows and the base's and experts' scores on them, measured once for several tables (then the window limits above are theirs). */
  readonly references?: LmReferences;
  readonly onStep?: (step: string) => void;
}

export interface LmTwinDomainRow {
  readonly domain: string;
  readonly router: LmLoss;
  readonly oracle: LmLoss;
  /** (loss_base − loss_twin) / (loss_base − loss_expert) on this domain's test windows. */
  readonly gainRouter: number;
  readonly gainOracle: number;
}

export interface LmTwinMixed {
  readonly windows: number;
  /** The router's largest weight, averaged over the mixed windows. */
  readonly meanLargestWeight: number;
  /** Each window's weights over the domains (the chart's data). */
  readonly weights: readonly (readonly number[])[];
  readonly ids: readonly string[];
  /** The twin with the router's weights, and with all weight on each window's largest. */
  readonly soft: LmLoss;
  readonly hard: LmLoss;
  /** The base and each expert on the same windows. */
  readonly base: LmLoss;
  readonly experts: Readonly<Record<string, LmLoss>>;
}

export interface LmTwinRow {
  readonly method: 'twin_merging';
  /** { rank: 16 } or { rank_ratio: 0.1 }. */
  readonly setting: Readonly<Record<string, number>>;
  readonly lambda: number;
  readonly perDomain: readonly LmTwinDomainRow[];
  /** Mean normalized gain over the domains × 100, with the router and with oracle routing. */
  readonly normalized: { readonly router: number; readonly oracle: number };
  readonly mixed: LmTwinMixed;
}

export interface LmTwinDemoResult {
  readonly domains: readonly string[];
  readonly context: number;
  readonly split: 'test';
  readonly windows: { readonly validation: Readonly<Record<string, number>>; readonly test: Readonly<Record<string, number>>; readonly mixed: number };
  readonly lambda: number;
  /** Oracle-routed mean normalized gain × 100 on validation at the first rank choice, per λ. */
  readonly lambdaSweep: readonly { readonly lambda: number; readonly validation: number }[];
  readonly router: {
    readonly architecture: string;
    readonly reads: string;
    readonly epochs: number;
    readonly bestEpoch: number;
    readonly samples: { readonly training: number; readonly heldOut: number };
    /** Share of the held-out validation windows, and of the test domain windows, whose largest weight is their domain. */
    readonly heldOutAccuracy: number | null;
    readonly testAccuracy: number;
  };
  /** Test losses of the base and each expert per domain (the gains' references). */
  readonly references: Readonly<Record<string, { readonly base: LmLoss; readonly expert: LmLoss }>>;
  readonly rows: readonly LmTwinRow[];
}

/** Runs the demo's Twin-Merging table; see the file header. Leaves no tensor behind. */
export async function lmTwinDemo(demo: LmDemo, options: LmTwinDemoOptions = {}): Promise<LmTwinDemoResult> {
  const { manifest, config, checkpoints } = demo;
  const step = options.onStep ?? (() => undefined);
  const domains = manifest.domains.map((d) => d.id);
  const T = domains.length;
  const context = manifest.context;
  const lambdas = options.lambdas ?? LM_TWIN_LAMBDAS;
  const choices = options.choices ?? LM_TWIN_CHOICES;
  if (lambdas.length === 0 || choices.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'Twin-Merging on the LM demo needs at least one λ and one rank choice.');
  const references =
    options.references ??
    (await LmReferences.measure(demo, lmWindowSets(manifest, { validationWindows: options.validationWindows, routerWindows: options.validationWindows, testWindows: options.testWindows }), step));
  const sets = references.sets;
  const validation = sets.validation;
  const test = sets.test;
  const mixed = sets.mixed;
  const scoreOptions = { context };
  const ref = (model: string, split: 'validation' | 'test', d: number) => references.loss(model, split, d);

  const experts = new Map(domains.map((d) => [d, checkpoints.get(d)!]));
  const maxRank = Math.max(...choices.map((c) => tripletsFor(c, config)));
  const twinAt = async (lambda: number) => {
    const shared = await buildSharedExpert({ recipe: taskArithmeticRecipe('base', domains, lambda), checkpoints });
    return { shared, decomposition: await decomposeLmTwin(config, shared, experts, domains, maxRank) };
  };
  /** Oracle routing on one split's domain windows: each domain's windows with all weight on its expert. */
  const oracleScores = async (model: LmTwinModel, sets: DomainWindows) => {
    const flat = sets.flat();
    const labels = sets.flatMap((s, d) => s.map(() => d));
    const scores = await scoreRoutedWindows(model, flat, oneHotWeights(labels, T), scoreOptions);
    let at = 0;
    return sets.map((s) => scores.slice(at, (at += s.length)));
  };

  // λ on validation, oracle-routed, at the first choice.
  const lambdaSweep: { lambda: number; validation: number }[] = [];
  for (const lambda of lambdas) {
    step(`shared expert at λ ${lambda}`);
    const { shared, decomposition } = await twinAt(lambda);
    const model = new LmTwinModel(config, shared, lmExclusive(decomposition, choices[0]!));
    try {
      const scores = await oracleScores(model, validation);
      const gains = domains.map((d, i) => gain(ref('base', 'validation', i).loss, lossOf(scores[i]!, validation[i]!, true).loss, ref(d, 'validation', i).loss));
      lambdaSweep.push({ lambda, validation: 100 * mean(gains) });
    } finally {
      model.dispose();
    }
  }
  const lambda = lambdaSweep.reduce((a, b) => (b.validation > a.validation ? b : a)).lambda;

  step(`router at λ ${lambda}`);
  const { shared, decomposition } = await twinAt(lambda);
  // The router reads θ*: its features do not depend on the rank.
  const sharedOnly = new LmTwinModel(config, shared, lmExclusive(decomposition, choices[0]!));
  let trainFeatures: Float32Array;
  let testFeatures: Float32Array;
  let mixedFeatures: Float32Array;
  try {
    const w = sharedOnly.sharedWeights();
    try {
      trainFeatures = await windowFeatures(config, w, sets.router.flat());
      testFeatures = await windowFeatures(config, w, test.flat());
      mixedFeatures = await windowFeatures(config, w, mixed);
    } finally {
      disposeLmWeights(w.tensors);
    }
  } finally {
    sharedOnly.dispose();
  }
  const trainLabels = Int32Array.from(sets.router.flatMap((s, d) => s.map(() => d)));
  const trained = await trainRouterOnSplit({ features: trainFeatures, featureSize: config.hiddenSize, labels: trainLabels, tasks: T }, options.router ?? {});
  const route = async (features: Float32Array, count: number) => routingWeights(await routerLogits(trained.router, features, count), T, options.routing ?? {});
  const testLabels = Int32Array.from(test.flatMap((s, d) => s.map(() => d)));
  const testWeights = await route(testFeatures, testLabels.length);
  const mixedWeights = await route(mixedFeatures, mixed.length);
  const hardMixed = oneHotWeights(argmaxTasks(mixedWeights, T), T);
  const last = trained.curve.find((e) => e.epoch === trained.bestEpoch);

  const rows: LmTwinRow[] = [];
  for (const choice of choices) {
    const setting: Record<string, number> = 'rank' in choice ? { rank: choice.rank } : { rank_ratio: choice.rankRatio };
    step(`twin at ${Object.entries(setting).map(([k, v]) => `${k} ${v}`).join('')}`);
    const model = new LmTwinModel(config, shared, lmExclusive(decomposition, choice));
    try {
      const oracle = await oracleScores(model, test);
      const routedFlat = await scoreRoutedWindows(model, test.flat(), testWeights, scoreOptions);
      let at = 0;
      const routed = test.map((s) => routedFlat.slice(at, (at += s.length)));
      const perDomain = domains.map((d, i): LmTwinDomainRow => {
        const base = ref('base', 'test', i).loss;
        const expert = ref(d, 'test', i).loss;
        const r = lossOf(routed[i]!, test[i]!, true);
        const o = lossOf(oracle[i]!, test[i]!, true);
        return { domain: d, router: r, oracle: o, gainRouter: gain(base, r.loss, expert), gainOracle: gain(base, o.loss, expert) };
      });
      const soft = await scoreRoutedWindows(model, mixed, mixedWeights, scoreOptions);
      const hard = await scoreRoutedWindows(model, mixed, hardMixed, scoreOptions);
      const mixedLoss = (s: readonly ScoreResult[]) => lossOf(s, mixed, false);
      rows.push({
        method: 'twin_merging',
        setting,
        lambda,
        perDomain,
        normalized: { router: 100 * mean(perDomain.map((r) => r.gainRouter)), oracle: 100 * mean(perDomain.map((r) => r.gainOracle)) },
        mixed: {
          windows: mixed.length,
          meanLargestWeight: meanLargestWeight(mixedWeights, T),
          weights: mixed.map((_, i) => Array.from(mixedWeights.subarray(i * T, (i + 1) * T))),
          ids: [...sets.mixedIds],
          soft: mixedLoss(soft),
          hard: mixedLoss(hard),
          base: references.mixed('base'),
          experts: Object.fromEntries(domains.map((d) => [d, references.mixed(d)])),
        },
      });
    } finally {
      model.dispose();
    }
  }

  return {
    domains,
    context,
    split: 'test',
    windows: {
      validation: Object.fromEntries(domains.map((d, i) => [d, validation[i]!.length])),
      test: Object.fromEntries(domains.map((d, i) => [d, test[i]!.length])),
      mixed: mixed.length,
    },
    lambda,
    lambdaSweep,
    router: {
      architecture: trained.options.architecture,
      reads: "the mean of the shared expert's final hidden states over the window's tokens",
      epochs: trained.curve.length,
      bestEpoch: trained.bestEpoch,
      samples: trained.samples,
      heldOutAccuracy: last?.validationAccuracy ?? null,
      testAccuracy: routingAccuracy(testWeights, testLabels, T),
    },
    references: Object.fromEntries(domains.map((d, i) => [d, { base: ref('base', 'test', i), expert: ref(d, 'test', i) }])),
    rows,
  };
}
