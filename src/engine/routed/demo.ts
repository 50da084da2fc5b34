/**
 * The routed methods on the embedded demo, as plain data for the method table (CLI `demo`, the
 * lab): Twin-Merging's rows (router and oracle), its λ choice and rank sweep with storage, and
 * Channel Merging's rows and K sweep with storage. Wraps methods/twin's twinDemo and
 * methods/channel's channelDemo, drops their typed arrays, and picks their grids: `quick` is a
 * coarse grid with fewer ranks, for tests.
 */
import { FULL_GRID, QUICK_GRID, type DemoSession, type MethodRow, type SweepGrid } from '../demo/method-table.js';
import { MergeLabError } from '../errors.js';
import { channelDemo, type ChannelDemo } from '../methods/channel/index.js';
import { TWIN_LAMBDAS, TWIN_RANKS, twinDemo, type TwinDemoResult } from '../methods/twin/index.js';

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
  /** Sign-conflict rates between tasks sharing a group and across groups (null when no pair). */
  readonly conflicts: { readonly within: number | null; readonly across: number | null };
}

export interface RoutedDemoTables {
  /** twin_merging, twin_merging_oracle, channel_merging, channel_merging_oracle: method-table rows. */
  readonly rows: readonly MethodRow[];
  readonly twin: {
    readonly lambda: number;
    readonly rank: number;
    readonly lambdaSweep: readonly { readonly lambda: number; readonly validation: number }[];
    readonly rankSweep: readonly RankSweepRow[];
    /** Share of test samples the router sends to their own task, overall and per task. */
    readonly routingAccuracy: number;
    readonly routingPerTask: readonly number[];
    readonly routerParams: number;
  };
  readonly channel: {
    readonly K: number;
    readonly groupMethod: string;
    readonly similarity: 'raw' | 'trimmed';
    readonly kSweep: readonly KSweepRow[];
    readonly routingAccuracy?: number;
    readonly routerParams?: number;
  };
}

export interface RoutedDemoOptions {
  readonly grid?: RoutedDemoGrid;
  /** Called with a short description as each part starts. */
  readonly onStep?: (step: string) => void;
  readonly signal?: AbortSignal;
}

/** Twin-Merging then Channel Merging on the demo session, as plain data. */
export async function routedDemo(session: DemoSession, options: RoutedDemoOptions = {}): Promise<RoutedDemoTables> {
  const grid = options.grid ?? ROUTED_FULL_GRID;
  if (!grid.twinRanks.includes(4)) throw new MergeLabError('PARAMETER_INVALID', `The Twin-Merging rank sweep must include the table's rank 4; got ${grid.twinRanks.join(', ')}.`);
  options.onStep?.('twin_merging');
  const twin = await twinDemo(session, { lambdas: grid.twinLambdas, ranks: grid.twinRanks, signal: options.signal });
  options.onStep?.('channel_merging');
  const channel = await channelDemo(session, { grid: grid.channel, signal: options.signal });
  return { rows: [...twin.rows, ...channelRows(channel)], twin: twinTables(twin), channel: channelTables(channel) };
}

function twinTables(t: TwinDemoResult): RoutedDemoTables['twin'] {
  return {
    lambda: t.lambda,
    rank: t.rank,
    lambdaSweep: t.lambdaSweep.map((p) => ({ lambda: p.lambda, validation: p.validation })),
    rankSweep: t.sweep.map((p) => ({ rank: p.rank, router: p.router, oracle: p.oracle, values: p.storage.total, bytes: p.storage.bytes.total, expertBytes: p.storage.bytes.experts, ratio: p.storage.ratio })),
    routingAccuracy: t.routing.accuracy,
    routingPerTask: [...t.routing.perTask],
    routerParams: t.storage.router,
  };
}

/** The router row first, as Twin-Merging's: channel_merging, then channel_merging_oracle. */
function channelRows(c: ChannelDemo): MethodRow[] {
  const plain = (r: ChannelDemo['rows'][number]): MethodRow => ({ method: r.method, params: { ...r.params }, perTask: [...r.perTask], normalized: r.normalized });
  const routed = c.rows.filter((r) => r.method === 'channel_merging');
  const oracle = c.rows.filter((r) => r.method !== 'channel_merging');
  return [...routed, ...oracle].map(plain);
}

function channelTables(c: ChannelDemo): RoutedDemoTables['channel'] {
  const row = c.rows[0]!;
  const routed = c.rows.find((r) => r.method === 'channel_merging');
  return {
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
      conflicts: { within: s.conflicts.within ?? null, across: s.conflicts.across ?? null },
    })),
    ...(routed?.routingAccuracy !== undefined ? { routingAccuracy: routed.routingAccuracy } : {}),
    ...(c.router ? { routerParams: c.router.params } : {}),
  };
}
