/**
 * The demo table over several training seeds: one seed's 360 test samples per task put a row's
 * normalized score within about ±0.7 points (one sample is 0.28 % of a task), so two methods a
 * point or two apart cannot be told apart on one seed. Each seed's demo (its base and experts,
 * trained by `npm run demo:train -- --seed N`) gets the whole table — λ, density and the routed
 * methods' settings chosen on its own validation split — and the rows are then put side by side:
 * mean and sample standard deviation over the seeds, with every seed's own numbers kept.
 *
 * A row is matched across seeds by its method and what does not depend on the seed: Twin-Merging's
 * rank or rank_ratio, Channel Merging's clustering and the rule that chose its K (kTarget). λ, density
 * and Channel Merging's K are chosen per seed on its validation split and are listed per seed.
 */
import { MergeLabError } from '../errors.js';
import type { RoutedDemoTables } from '../routed/demo.js';
import type { MethodRow, MethodTable } from './method-table.js';

/** One seed's table. */
export interface SeedRun {
  readonly seed: number;
  readonly table: MethodTable;
  readonly routed: RoutedDemoTables;
}

export interface Stat {
  readonly mean: number;
  /** Sample standard deviation (n − 1); 0 for one seed. */
  readonly sd: number;
}

export interface SeedRow {
  readonly method: string;
  /** What identifies the row across seeds (rank, rank_ratio, K); λ and density are per seed. */
  readonly setting: Readonly<Record<string, number>>;
  readonly clustering?: string;
  readonly normalized: Stat;
  /** Per task, in the table's task order. */
  readonly perTask: readonly Stat[];
  readonly seeds: readonly { readonly seed: number; readonly params: Readonly<Record<string, number>>; readonly normalized: number; readonly perTask: readonly number[] }[];
}

export interface SeedTable {
  readonly seeds: readonly number[];
  readonly tasks: readonly string[];
  readonly rows: readonly SeedRow[];
  /** Twin-Merging on blends of two tasks' inputs (rank 4): router confidence and soft against hard routing. */
  readonly mixed: { readonly meanLargestWeight: Stat; readonly weightOnPair: Stat; readonly soft: Stat; readonly hard: Stat; readonly even: Stat; readonly bestExpert: Stat };
  /** Channel Merging's sign conflicts at the rows' K (each seed's, in `Ks`), per clustering: within and across groups, and random groupings of the same sizes. */
  readonly conflicts: readonly { readonly clustering: string; readonly Ks: readonly number[]; readonly within: Stat; readonly across: Stat; readonly randomWithin: Stat; readonly randomAcross: Stat }[];
}

/** Mean and sample standard deviation. */
export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd };
}

const FIXED = ['rank', 'rank_ratio', 'energy', 'kTarget'];

/** What identifies a row across seeds; K only where it was fixed, not chosen per seed on validation (kTarget). */
function keyOf(r: MethodRow): { key: string; setting: Record<string, number> } {
  const fixed = 'kTarget' in r.params ? FIXED : [...FIXED, 'K'];
  const setting = Object.fromEntries(Object.entries(r.params).filter(([k]) => fixed.includes(k)));
  return { key: JSON.stringify([r.method, setting, r.clustering ?? null]), setting };
}

/** The seeds' tables side by side (see the file header). Every seed must have the same rows. */
export function seedTable(runs: readonly SeedRun[]): SeedTable {
  if (runs.length === 0) throw new MergeLabError('PARAMETER_INVALID', 'The demo table needs at least one seed.');
  const tasks = runs[0]!.table.tasks;
  const rowsOf = (r: SeedRun) => [...r.table.rows, ...r.routed.rows];
  const first = rowsOf(runs[0]!).map(keyOf);
  for (const run of runs) {
    const keys = rowsOf(run).map((r) => keyOf(r).key);
    if (keys.join('\n') !== first.map((k) => k.key).join('\n')) throw new MergeLabError('INTERNAL', `Seed ${run.seed}'s table has other rows than seed ${runs[0]!.seed}'s.`);
  }
  const rows: SeedRow[] = first.map(({ setting }, i) => {
    const per = runs.map((run) => ({ seed: run.seed, row: rowsOf(run)[i]! }));
    const row = per[0]!.row;
    return {
      method: row.method,
      setting,
      ...(row.clustering !== undefined ? { clustering: row.clustering } : {}),
      normalized: stat(per.map((p) => p.row.normalized)),
      perTask: tasks.map((_, t) => stat(per.map((p) => p.row.perTask[t]!))),
      seeds: per.map((p) => ({ seed: p.seed, params: { ...p.row.params }, normalized: p.row.normalized, perTask: [...p.row.perTask] })),
    };
  });
  const of = (f: (r: SeedRun) => number) => stat(runs.map(f));
  const conflicts = runs[0]!.routed.channel.clusterings.map((c, ci) => {
    // Each seed's conflicts at its own rows' K (chosen on that seed's validation split).
    const at = (r: SeedRun) => {
      const cl = r.routed.channel.clusterings[ci]!;
      return cl.kSweep.find((p) => p.K === cl.K)!.conflicts;
    };
    const num = (x: number | null) => x ?? NaN;
    return {
      clustering: c.clustering,
      Ks: runs.map((r) => r.routed.channel.clusterings[ci]!.K),
      within: of((r) => num(at(r).within)),
      across: of((r) => num(at(r).across)),
      randomWithin: of((r) => num(at(r).random.within)),
      randomAcross: of((r) => num(at(r).random.across)),
    };
  });
  return {
    seeds: runs.map((r) => r.seed),
    tasks,
    rows,
    mixed: {
      meanLargestWeight: of((r) => r.routed.twin.mixed.meanLargestWeight),
      weightOnPair: of((r) => r.routed.twin.mixed.weightOnPair),
      soft: of((r) => r.routed.twin.mixed.soft),
      hard: of((r) => r.routed.twin.mixed.hard),
      even: of((r) => r.routed.twin.mixed.even),
      bestExpert: of((r) => r.routed.twin.mixed.bestExpert),
    },
    conflicts,
  };
}
