/**
 * The LM demo's static method rows (issue 17, item 8): base, each expert alone, task arithmetic,
 * TIES and DARE-TIES over the five experts through the real engine (planner, methods, runner: the
 * recipe the lab writes, every expert at weight 1, λ global, density per expert), each setting
 * chosen by the mean normalized gain on the validation windows and then scored on the test
 * windows, with bits per byte per domain.
 *
 * DARE drops at random: its λ and density are chosen with the first drop seed, and the chosen
 * setting is then scored on test with every drop seed (the row is their mean; `dropSeeds` keeps
 * each). The demo is one trained seed, so that is the only spread a row can honestly show.
 */
import { MergeLabError } from '../errors.js';
import { mergeToMemory } from '../merge/merge-to-memory.js';
import { METHODS } from '../methods/registry.js';
import type { Recipe } from '../recipe/types.js';
import { DEMO_DTYPES } from './demo-dtype.js';
import type { LmDemo } from './lm-load.js';
import { lossOf, meanOf, normalizedGain, scoreDomains, scoreOnSets, floatLmWeights, type LmReferences } from './lm-windows.js';
import type { MethodRow } from './method-table.js';
import { disposeLmWeights } from '../lm/load.js';

/** A row of the LM table: gains × 100 per domain (perTask) and their mean (normalized), on test. */
export interface LmMethodRow extends MethodRow {
  /** Test bits per byte per domain, in the table's domain order. */
  readonly bitsPerByte: readonly number[];
  /** What identifies the row beside its method (rank, rank_ratio, kTarget); chosen values are in params. */
  readonly setting: Readonly<Record<string, number>>;
  /** The mean gain × 100 on the validation windows of the chosen setting (what chose it). */
  readonly validation?: number;
  /** DARE: each drop seed's test scores at the chosen setting (the row is their mean). */
  readonly dropSeeds?: readonly { readonly seed: number; readonly normalized: number; readonly perTask: readonly number[]; readonly bitsPerByte: readonly number[] }[];
  /** Channel Merging: the method merging each group. */
  readonly groupMethod?: string;
}

/** The values each choice tries; `dareSeeds` are DARE's drop seeds (the first chooses). */
export interface LmGrid {
  readonly taLambdas: readonly number[];
  readonly tiesLambdas: readonly number[];
  readonly tiesDensities: readonly number[];
  readonly dareSeeds: readonly number[];
}

// On the LM demo the static merges of the five experts lose to the base on validation from λ 0.2 up
// (TIES from 0.6): the grids reach down to λ 0.05 and 0.2 so that no choice sits on a grid's edge.
export const LM_FULL_GRID: LmGrid = { taLambdas: [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1], tiesLambdas: [0.2, 0.4, 0.6, 1], tiesDensities: [0.1, 0.2, 0.4, 0.7], dareSeeds: [1, 2, 3] };
export const LM_QUICK_GRID: LmGrid = { taLambdas: [0.3, 1], tiesLambdas: [1], tiesDensities: [0.2, 0.7], dareSeeds: [1, 2] };

/** One point of a choice on validation. */
export interface LmGridPoint {
  readonly method: string;
  readonly params: Readonly<Record<string, number>>;
  /** Mean gain × 100 on the validation windows. */
  readonly validation: number;
}

export interface LmMethodTable {
  readonly rows: readonly LmMethodRow[];
  /** Every setting tried on validation. */
  readonly grid: readonly LmGridPoint[];
}

type Static = { readonly method: 'task_arithmetic' | 'ties' | 'dare_ties'; readonly points: readonly Readonly<Record<string, number>>[] };

/** The lab's recipe for a static method at λ (and density), with a drop seed for DARE. */
export function lmRecipe(method: Static['method'], domains: readonly string[], params: Readonly<Record<string, number>>, randomSeed?: number): Recipe {
  const perModel: Record<string, number> = method === 'task_arithmetic' ? {} : { density: params.density! };
  return {
    mergeMethod: method,
    baseModel: 'base',
    models: domains.map((model) => ({ model, parameters: { weight: 1, ...perModel } })),
    parameters: { lambda: params.lambda! },
    ...(randomSeed !== undefined ? { randomSeed } : {}),
    ...DEMO_DTYPES,
  };
}

export async function lmMethodTable(demo: LmDemo, references: LmReferences, grid: LmGrid = LM_FULL_GRID, onStep: (s: string) => void = () => undefined): Promise<LmMethodTable> {
  const { config } = demo;
  const sets = references.sets;
  const domains = sets.domains;
  if (grid.dareSeeds.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'DARE-TIES on the LM demo needs at least one drop seed.');
  const rows: LmMethodRow[] = [];
  const gridPoints: LmGridPoint[] = [];
  const merge = (recipe: Recipe) => mergeToMemory({ recipe, methods: METHODS, checkpoints: demo.checkpoints });
  const testScores = async (values: Readonly<Record<string, Float32Array>>, where: string) => {
    const s = await scoreOnSets(config, values, sets, where, { validation: false });
    const perTask = references.gains('test', s.test!);
    return { perTask: perTask.map((g) => 100 * g), normalized: 100 * meanOf(perTask), bitsPerByte: s.test!.map((x, i) => lossOf(x, sets.test[i]!, true).bitsPerByte) };
  };

  onStep('base and expert rows');
  rows.push({
    method: 'base',
    setting: {},
    params: {},
    perTask: domains.map(() => 0),
    normalized: 0,
    bitsPerByte: domains.map((_, i) => references.loss('base', 'test', i).bitsPerByte),
  });
  // Each expert merged alone (a linear recipe) and scored on its own domain's test windows: the
  // row is measured through the same path as every merge, not copied from the references.
  const own: { gain: number; bitsPerByte: number }[] = [];
  for (const [i, d] of domains.entries()) {
    const values = await merge({ mergeMethod: 'linear', models: [{ model: d, parameters: { weight: 1 } }], ...DEMO_DTYPES });
    const w = floatLmWeights(config, values, `the ${d} expert`);
    try {
      const [scores] = await scoreDomains(config, w, [sets.test[i]!], sets.context);
      const loss = lossOf(scores!, sets.test[i]!, true);
      own.push({ gain: normalizedGain(references.loss('base', 'test', i).loss, loss.loss, references.loss(d, 'test', i).loss), bitsPerByte: loss.bitsPerByte });
    } finally {
      disposeLmWeights(w.tensors);
    }
  }
  rows.push({ method: 'expert', setting: {}, params: {}, perTask: own.map((o) => 100 * o.gain), normalized: 100 * meanOf(own.map((o) => o.gain)), bitsPerByte: own.map((o) => o.bitsPerByte) });

  const ties = grid.tiesDensities.flatMap((density) => grid.tiesLambdas.map((lambda) => ({ lambda, density })));
  const statics: Static[] = [
    { method: 'task_arithmetic', points: grid.taLambdas.map((lambda) => ({ lambda })) },
    { method: 'ties', points: ties },
    { method: 'dare_ties', points: ties },
  ];
  for (const m of statics) {
    if (m.points.length === 0) throw new MergeLabError('PARAMETER_INVALID', `The LM table's grid has no setting for ${m.method}.`);
    const seed = m.method === 'dare_ties' ? grid.dareSeeds[0] : undefined;
    let best: LmGridPoint | undefined;
    for (const params of m.points) {
      onStep(`${m.method} ${Object.entries(params).map(([k, v]) => `${k} ${v}`).join(' ')} on validation`);
      const s = await scoreOnSets(config, await merge(lmRecipe(m.method, domains, params, seed)), sets, m.method, { test: false });
      const point = { method: m.method, params, validation: 100 * meanOf(references.gains('validation', s.validation!)) };
      gridPoints.push(point);
      // Strictly greater: on a tie the earlier (smaller) setting stays.
      if (!best || point.validation > best.validation) best = point;
    }
    onStep(`${m.method} on test`);
    if (m.method !== 'dare_ties') {
      rows.push({ method: m.method, setting: {}, params: best!.params, validation: best!.validation, ...(await testScores(await merge(lmRecipe(m.method, domains, best!.params)), m.method)) });
      continue;
    }
    const dropSeeds: NonNullable<LmMethodRow['dropSeeds']>[number][] = [];
    for (const s of grid.dareSeeds) dropSeeds.push({ seed: s, ...(await testScores(await merge(lmRecipe(m.method, domains, best!.params, s)), `dare_ties (seed ${s})`)) });
    const meanAt = (f: (x: (typeof dropSeeds)[number]) => readonly number[]) => domains.map((_, i) => meanOf(dropSeeds.map((x) => f(x)[i]!)));
    rows.push({
      method: m.method,
      setting: {},
      params: best!.params,
      validation: best!.validation,
      perTask: meanAt((x) => x.perTask),
      normalized: meanOf(dropSeeds.map((x) => x.normalized)),
      bitsPerByte: meanAt((x) => x.bitsPerByte),
      dropSeeds,
    });
  }
  return { rows, grid: gridPoints };
}
