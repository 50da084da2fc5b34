/**
 * The routed methods on the embedded demo, as plain data for the method table (CLI `demo`, the
 * lab): Twin-Merging's rows (router and oracle) at rank 4 and at rank_ratio 0.1, its λ choice,
 * rank sweep with storage, router curve and routing on mixed inputs; Channel Merging's rows for
 * k-means and for average linkage (one router shared by both), each with its K sweep, storage and
 * sign conflicts within and across groups beside random groupings of the same sizes. Wraps
 * methods/twin's twinDemo and methods/channel's channelDemo, drops their typed arrays, and picks
 * their grids: `quick` is a coarse grid with fewer ranks, for tests.
 */
import { FULL_GRID, QUICK_GRID, type DemoSession, type MethodRow, type SweepGrid } from '../demo/method-table.js';
import { MergeLabError } from '../errors.js';
import { channelDemo, type ChannelDemo } from '../methods/channel/index.js';
import type { ClusteringMethod } from '../methods/channel/cluster.js';
import { TWIN_LAMBDAS, TWIN_RANKS, twinDemo, type TwinDemoResult } from '../methods/twin/index.js';
import type { MixedReport } from '../methods/twin/mixed.js';
import type { RouterOptions } from '../router/types.js';

export interface RoutedDemoGrid {
  /** λ values for Twin-Merging's shared task-arithmetic expert. */
  readonly twinLambdas: readonly number[];
  /** Ranks of Twin-Merging's sweep (the table's rank, 4, must be among them). */
  readonly twinRanks: readonly number[];
  /** λ and density values Channel Merging's candidates sweep, at every K. */
  readonly channel: SweepGrid;
}

export const ROUTED_FULL_GRID: RoutedDemoGrid = { twinLambdas: TWIN_LAMBDAS, twinRanks: TWIN_RANKS, channel: FULL_GRID };
export const ROUTED_QUICK_GRID: RoutedDemoGrid = { twinLambdas: [0.2, 0.4], twinRanks: [1, 4, 16], channel: QUICK_GRID };

export interface RankSweepRow {
  readonly rank: number;
  /** Normalized test score with the router and with oracle routing. */
  readonly router: number;
  readonly oracle: number;
  /** Twin storage (shared + factors + dense deltas + router), values and float32 bytes, and its share of the experts'. */
  readonly values: number;
  readonly bytes: number;
  readonly expertBytes: number;
  readonly ratio: number;
}

export interface KSweepRow {
  readonly K: number;
  /** The configuration validation chose at this K. */
  readonly groupMethod: string;
  readonly similarity: 'raw' | 'trimmed';
  readonly params: Readonly<Record<string, number>>;
  readonly validation: number;
  /** Normalized test score with oracle routing, and with the router (when one was trained). */
  readonly oracle: number;
  readonly router?: number;
  /** Package bytes (K merged copies + index tables, no router) and share of the experts'. */
  readonly bytes: number;
  readonly expertBytes: number;
  readonly ratio: number;
  /** Sign-conflict rates between tasks sharing a group and across groups (null when no pair), and for random groupings of the same sizes. */
  readonly conflicts: { readonly within: number | null; readonly across: number | null; readonly random: { readonly within: number | null; readonly across: number | null } };
}

/** A router's training as the tables show it. */
export interface RouterSummary {
  readonly architecture: string;
  readonly hidden: number;
  readonly params: number;
  /** Epochs run and the one kept (best held-out accuracy). */
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly curve: readonly { readonly epoch: number; readonly loss: number; readonly accuracy: number; readonly validationLoss?: number; readonly validationAccuracy?: number }[];
}

/** One grouping's Channel Merging results. */
export interface ChannelClusteringTables {
  readonly clustering: ClusteringMethod;
  /** The rows' K: chosen on validation (the smallest reaching kTarget % of the best K's score). */
  readonly K: number;
  readonly groupMethod: string;
  readonly similarity: 'raw' | 'trimmed';
  readonly kSweep: readonly KSweepRow[];
}

export interface RoutedDemoTables {
  /**
   * Method-table rows: twin_merging and twin_merging_oracle at rank 4 and at rank_ratio 0.1, then
   * channel_merging and channel_merging_oracle for k-means and for average linkage (`clustering`).
   */
  readonly rows: readonly MethodRow[];
  readonly twin: {
    readonly lambda: number;
    readonly lambdaSweep: readonly { readonly lambda: number; readonly validation: number }[];
    readonly rankSweep: readonly RankSweepRow[];
    /** Share of test samples the router sends to their own task, overall and per task. */
    readonly routingAccuracy: number;
    readonly routingPerTask: readonly number[];
    readonly routerParams: number;
    readonly router: RouterSummary;
    /** Storage at each row's choice (float32 bytes; the router apart). */
    readonly storage: readonly { readonly setting: Readonly<Record<string, number>>; readonly values: number; readonly bytes: number; readonly expertBytes: number; readonly ratio: number; readonly routerBytes: number }[];
    /** Routing on blends of two tasks' test inputs, at rank 4 (accuracies in percent). */
    readonly mixed: MixedReport;
  };
  readonly channel: {
    /** k-means first, then average linkage. */
    readonly clusterings: readonly ChannelClusteringTables[];
    readonly routingAccuracy?: number;
    readonly routerParams?: number;
    readonly router?: RouterSummary;
  };
}

export interface RoutedDemoOptions {
  readonly grid?: RoutedDemoGrid;
  /** The routers' training options (default: the paper's architecture). */
  readonly router?: RouterOptions;
  /** Called with a short description as each part starts. */
  readonly onStep?: (step: string) => void;
  readonly signal?: AbortSignal;
}

/** Twin-Merging then Channel Merging on the demo session, as plain data. */
export async function routedDemo(session: DemoSession, options: RoutedDemoOptions = {}): Promise<RoutedDemoTables> {
  const grid = options.grid ?? ROUTED_FULL_GRID;
  if (!grid.twinRanks.includes(4)) throw new MergeLabError('PARAMETER_INVALID', `The Twin-Merging rank sweep must include the table's rank 4; got ${grid.twinRanks.join(', ')}.`);
  options.onStep?.('twin_merging');
  const twin = await twinDemo(session, { lambdas: grid.twinLambdas, ranks: grid.twinRanks, signal: options.signal, ...(options.router ? { router: options.router } : {}) });
  options.onStep?.('channel_merging (k-means)');
  const kmeans = await channelDemo(session, { grid: grid.channel, signal: options.signal, clustering: 'kmeans', ...(options.router ? { router: options.router } : {}) });
  options.onStep?.('channel_merging (average linkage)');
  const linkage = await channelDemo(session, { grid: grid.channel, signal: options.signal, clustering: 'average_linkage', ...(kmeans.router?.trained ? { router: kmeans.router.trained } : { router: false }) });
  return { rows: [...twin.rows, ...channelRows(kmeans), ...channelRows(linkage)], twin: twinTables(twin), channel: channelTables([kmeans, linkage]) };
}

function summary(r: { readonly options: { readonly architecture: string; readonly hidden: number }; readonly params: number; readonly curve: RouterSummary['curve']; readonly bestEpoch: number }): RouterSummary {
  return { architecture: r.options.architecture, hidden: r.options.hidden, params: r.params, epochs: r.curve.length, bestEpoch: r.bestEpoch, curve: r.curve.map((e) => ({ ...e })) };
}

function twinTables(t: TwinDemoResult): RoutedDemoTables['twin'] {
  return {
    lambda: t.lambda,
    lambdaSweep: t.lambdaSweep.map((p) => ({ lambda: p.lambda, validation: p.validation })),
    rankSweep: t.sweep.map((p) => ({ rank: p.rank, router: p.router, oracle: p.oracle, values: p.storage.total, bytes: p.storage.bytes.total, expertBytes: p.storage.bytes.experts, ratio: p.storage.ratio })),
    routingAccuracy: t.routing.accuracy,
    routingPerTask: [...t.routing.perTask],
    routerParams: t.storage.router,
    router: summary({ options: t.routerOptions, params: t.storage.router, curve: t.curve, bestEpoch: t.routerBestEpoch }),
    storage: t.storageByChoice.map((st, k) => ({
      setting: t.rows[2 * k]!.params,
      values: st.total,
      bytes: st.bytes.total,
      expertBytes: st.bytes.experts,
      ratio: st.ratio,
      routerBytes: st.withRouter.bytes - st.bytes.total,
    })),
    mixed: percentMixed(t.mixed!),
  };
}

/** The mixed-input report with accuracies and weights as the tables print them: accuracies in percent. */
function percentMixed(m: MixedReport): MixedReport {
  const pc = (x: number) => 100 * x;
  return {
    pairs: m.pairs.map((p) => ({ ...p, soft: pc(p.soft), hard: pc(p.hard), even: pc(p.even), expertA: pc(p.expertA), expertB: pc(p.expertB) })),
    meanLargestWeight: m.meanLargestWeight,
    weightOnPair: m.weightOnPair,
    soft: pc(m.soft),
    hard: pc(m.hard),
    even: pc(m.even),
    bestExpert: pc(m.bestExpert),
  };
}

/** The router row first, as Twin-Merging's: channel_merging, then channel_merging_oracle; each names its clustering. */
function channelRows(c: ChannelDemo): MethodRow[] {
  const plain = (r: ChannelDemo['rows'][number]): MethodRow => ({ method: r.method, params: { ...r.params }, perTask: [...r.perTask], normalized: r.normalized, clustering: r.clustering });
  const routed = c.rows.filter((r) => r.method === 'channel_merging');
  const oracle = c.rows.filter((r) => r.method !== 'channel_merging');
  return [...routed, ...oracle].map(plain);
}

function channelTables(runs: readonly ChannelDemo[]): RoutedDemoTables['channel'] {
  const first = runs[0]!;
  const routed = first.rows.find((r) => r.method === 'channel_merging');
  const rate = (x: number | null | undefined) => x ?? null;
  return {
    clusterings: runs.map((c) => {
      const row = c.rows[0]!;
      return {
        clustering: row.clustering,
        K: c.model.K,
        groupMethod: row.groupMethod,
        similarity: row.similarity,
        kSweep: c.sweep.map((s) => ({
          K: s.K,
          groupMethod: s.groupMethod,
          similarity: s.similarity,
          params: { ...s.params },
          validation: s.validation,
          oracle: s.normalized,
          ...(s.routed !== undefined ? { router: s.routed } : {}),
          bytes: s.storage.packageBytes,
          expertBytes: s.storage.expertBytes,
          ratio: s.storage.ratio,
          conflicts: { within: rate(s.conflicts.within), across: rate(s.conflicts.across), random: { within: rate(s.conflicts.random.within), across: rate(s.conflicts.random.across) } },
        })),
      };
    }),
    ...(routed?.routingAccuracy !== undefined ? { routingAccuracy: routed.routingAccuracy } : {}),
    ...(first.router ? { routerParams: first.router.params } : {}),
    ...(first.router?.trained ? { router: summary({ options: first.router.trained.options, params: first.router.params, curve: first.router.trained.curve, bestEpoch: first.router.trained.bestEpoch }) } : {}),
  };
}
