/**
 * The LM demo's table (issue 17, item 8; CLI `demo --suite lm`), in the digits table's schema
 * (seed-table.ts): rows of { method, setting, clustering?, normalized, perTask, seeds } with the
 * normalized gain × 100 per domain as perTask and, beside it, bits per byte per domain. Every row
 * is measured on the same windows against the same references (lm-windows.ts): base and experts,
 * task arithmetic, TIES, DARE-TIES (lm-method-table.ts), Twin-Merging at rank 16 and rank_ratio 0.1
 * (routed/lm-twin-demo.ts) and Channel Merging with k-means and average linkage
 * (routed/lm-channel.ts), router and oracle rows; every setting chosen on the validation windows and
 * reported on the test windows.
 *
 * The shipped LM demo is one trained seed: `seeds` holds that one seed and a row's sd is 0, except
 * DARE-TIES', which is over its drop seeds (`sdOver` says so). Nothing is averaged over seeds that
 * were not trained.
 */
import type { RouterOptions, RoutingOptions } from '../router/types.js';
import { lmChannelDemo, type LmChannelOptions, type LmChannelResult } from '../routed/lm-channel.js';
import { lmTwinDemo, type LmTwinDemoResult } from '../routed/lm-twin-demo.js';
import type { LmTwinRank } from '../routed/lm-twin.js';
import type { LmDemo } from './lm-load.js';
import { LM_FULL_GRID, lmMethodTable, type LmGrid, type LmGridPoint, type LmMethodRow } from './lm-method-table.js';
import { LmReferences, lmWindowSets, type LmWindowOptions } from './lm-windows.js';
import { stat, type Stat } from './seed-table.js';

export interface LmTableOptions {
  readonly grid?: LmGrid;
  readonly windows?: LmWindowOptions;
  readonly twin?: { readonly lambdas?: readonly number[]; readonly choices?: readonly LmTwinRank[] };
  readonly channel?: Pick<LmChannelOptions, 'candidates' | 'clusterings' | 'kTarget' | 'seed'>;
  /** Both routers' training (default: the paper's architecture). */
  readonly router?: RouterOptions;
  readonly routing?: RoutingOptions;
  readonly onStep?: (step: string) => void;
}

/** The default windows: 24 of each domain's validation text choose the settings (as the trainer selects), all of it trains the routers. */
export const LM_TABLE_WINDOWS: LmWindowOptions = { validationWindows: 24 };

export interface LmTableRow {
  readonly method: string;
  /** What identifies the row beside its method (rank, rank_ratio, kTarget); λ, density and K are per seed. */
  readonly setting: Readonly<Record<string, number>>;
  readonly clustering?: string;
  /** Mean normalized gain × 100 over the domains. */
  readonly normalized: Stat;
  /** Normalized gain × 100 per domain, in the table's domain order. */
  readonly perTask: readonly Stat[];
  /** Test bits per byte per domain. */
  readonly bitsPerByte: readonly Stat[];
  /** What the sd is over: DARE-TIES' drop seeds; absent where there is nothing to vary (sd 0, one trained seed). */
  readonly sdOver?: string;
  readonly seeds: readonly { readonly seed: number; readonly params: Readonly<Record<string, number>>; readonly normalized: number; readonly perTask: readonly number[]; readonly bitsPerByte: readonly number[] }[];
}

export interface LmDemoTable {
  readonly suite: 'lm';
  /** The demo's one trained seed (its manifest's training.seed; null when the manifest does not say). */
  readonly seeds: readonly (number | null)[];
  readonly note: string;
  readonly tasks: readonly string[];
  readonly context: number;
  /** Windows per domain: validation (choosing settings), router (training the routers), test; mixed test windows. */
  readonly windows: { readonly validation: Readonly<Record<string, number>>; readonly router: Readonly<Record<string, number>>; readonly test: Readonly<Record<string, number>>; readonly mixed: number };
  readonly rows: readonly LmTableRow[];
  /** The mixed test windows (no single expert is right): routing and bits per byte. */
  readonly mixed: {
    /** Twin-Merging at its first rank choice: the router's mean largest weight, soft (its weights) and hard (argmax) routing. */
    readonly twin: { readonly setting: Readonly<Record<string, number>>; readonly meanLargestWeight: Stat; readonly soft: Stat; readonly hard: Stat };
    /** Channel Merging: its router's mean largest weight, and each clustering's lookup of the largest weight's task. */
    readonly channel: { readonly meanLargestWeight: Stat; readonly routed: readonly { readonly clustering: string; readonly K: number; readonly bitsPerByte: Stat }[] };
    readonly base: Stat;
    readonly bestExpert: Stat;
    readonly bestExpertDomain: string;
  };
  readonly perSeed: readonly {
    readonly seed: number | null;
    readonly rows: readonly LmMethodRow[];
    /** Every static setting tried on validation. */
    readonly grid: readonly LmGridPoint[];
    /** Each expert (row) on each domain (column), test bits per byte. */
    readonly crossTask: Readonly<Record<string, Readonly<Record<string, number>>>>;
    readonly twin: LmTwinDemoResult;
    readonly channel: LmChannelResult;
  }[];
}

const one = (x: number): Stat => ({ mean: x, sd: 0 });

/** Twin-Merging's rows (router, then oracle, per rank choice) as table rows. */
function twinRows(t: LmTwinDemoResult): LmMethodRow[] {
  return t.rows.flatMap((row) =>
    (['router', 'oracle'] as const).map((via) => ({
      method: via === 'router' ? 'twin_merging' : 'twin_merging_oracle',
      setting: row.setting,
      params: { lambda: row.lambda },
      perTask: row.perDomain.map((d) => 100 * (via === 'router' ? d.gainRouter : d.gainOracle)),
      normalized: row.normalized[via],
      bitsPerByte: row.perDomain.map((d) => d[via].bitsPerByte),
    })),
  );
}

/** Builds the whole table on the demo; see the file header. */
export async function lmDemoTable(demo: LmDemo, options: LmTableOptions = {}): Promise<LmDemoTable> {
  const step = options.onStep ?? (() => undefined);
  const sets = lmWindowSets(demo.manifest, options.windows ?? LM_TABLE_WINDOWS);
  const references = await LmReferences.measure(demo, sets, step);
  const statics = await lmMethodTable(demo, references, options.grid ?? LM_FULL_GRID, step);
  const twin = await lmTwinDemo(demo, {
    references,
    ...(options.twin?.lambdas ? { lambdas: options.twin.lambdas } : {}),
    ...(options.twin?.choices ? { choices: options.twin.choices } : {}),
    ...(options.router ? { router: options.router } : {}),
    ...(options.routing ? { routing: options.routing } : {}),
    onStep: step,
  });
  const channel = await lmChannelDemo(demo, references, { ...options.channel, ...(options.router ? { router: options.router } : {}), ...(options.routing ? { routing: options.routing } : {}), onStep: step });
  const rows = [...statics.rows, ...twinRows(twin), ...channel.rows];
  const trainedSeed = demo.manifest.training.seed;
  const seed = typeof trainedSeed === 'number' ? trainedSeed : null;
  const domains = sets.domains;
  const count = (s: readonly (readonly unknown[])[]) => Object.fromEntries(domains.map((d, i) => [d, s[i]!.length]));
  const experts = Object.fromEntries(domains.map((d) => [d, references.mixed(d).bitsPerByte]));
  const bestExpertDomain = domains.reduce((a, b) => (experts[b]! < experts[a]! ? b : a));
  const firstTwin = twin.rows[0]!;
  return {
    suite: 'lm',
    seeds: [seed],
    note: "The LM demo is one trained seed: each row is that seed's, with sd 0, except DARE-TIES, whose mean and sd are over its drop seeds at the setting chosen with the first.",
    tasks: domains,
    context: sets.context,
    windows: { validation: count(sets.validation), router: count(sets.router), test: count(sets.test), mixed: sets.mixed.length },
    rows: rows.map((r) => {
      const drops = r.dropSeeds;
      const over = (f: (x: NonNullable<LmMethodRow['dropSeeds']>[number]) => number) => stat(drops!.map(f));
      return {
        method: r.method,
        setting: r.setting,
        ...(r.clustering !== undefined ? { clustering: r.clustering } : {}),
        normalized: drops ? over((x) => x.normalized) : one(r.normalized),
        perTask: domains.map((_, i) => (drops ? over((x) => x.perTask[i]!) : one(r.perTask[i]!))),
        bitsPerByte: domains.map((_, i) => (drops ? over((x) => x.bitsPerByte[i]!) : one(r.bitsPerByte[i]!))),
        ...(drops ? { sdOver: `drop seeds ${drops.map((x) => x.seed).join(', ')}` } : {}),
        seeds: [{ seed: seed ?? 0, params: { ...r.params }, normalized: r.normalized, perTask: [...r.perTask], bitsPerByte: [...r.bitsPerByte] }],
      };
    }),
    mixed: {
      twin: { setting: firstTwin.setting, meanLargestWeight: one(firstTwin.mixed.meanLargestWeight), soft: one(firstTwin.mixed.soft.bitsPerByte), hard: one(firstTwin.mixed.hard.bitsPerByte) },
      channel: { meanLargestWeight: one(channel.mixed.meanLargestWeight), routed: channel.clusterings.map((c) => ({ clustering: c.clustering, K: c.K, bitsPerByte: one(c.mixed.bitsPerByte) })) },
      base: one(references.mixed('base').bitsPerByte),
      bestExpert: one(experts[bestExpertDomain]!),
      bestExpertDomain,
    },
    perSeed: [
      {
        seed,
        rows,
        grid: statics.grid,
        crossTask: Object.fromEntries(domains.map((e) => [e, Object.fromEntries(domains.map((d, i) => [d, references.loss(e, 'test', i).bitsPerByte]))])),
        twin,
        channel,
      },
    ],
  };
}
