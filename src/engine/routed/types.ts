/**
 * The routed methods' contract: merges whose result is not one model but a package — a shared
 * part, per-task parts and (with data) a router — so they are not per-tensor MergeMethods and not
 * in the method registry. One entry per method (routed-methods.ts) tells the CLI's --help, the
 * recipe validation and the lab what the method takes, and builds its package from checkpoints
 * alone: the router needs data, so a package built here has none, and says so.
 */
import type { MergeLabError } from '../errors.js';
import type { Checkpoint } from '../io/types.js';
import type { CancelToken, MergeProgress } from '../merge/progress.js';
import type { ParamSpec } from '../methods/types.js';
import type { Recipe } from '../recipe/types.js';
import type { AssignmentMap } from '../methods/channel/assignment.js';

/**
 * A string parameter of a routed method: the name of a merge method run inside it, or another name
 * (Recipe.options); or, with `list`, a list of strings (Recipe.listOptions, e.g. Twin's exclude).
 */
export interface OptionSpec {
  readonly name: string;
  /** Absent for a list, whose default is empty. */
  readonly default?: string;
  /** The names accepted, for --help and the lab's select (empty for a list of patterns). */
  readonly choices: readonly string[];
  readonly help: string;
  /** 'method': names a merge method; 'name': one of `choices`; 'list': a list of patterns. */
  readonly kind: 'method' | 'name' | 'list';
}

export interface RoutedValidateInput {
  readonly recipe: Recipe;
  /** Opened checkpoints by model name as written in the recipe. */
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  /** Models that could not be opened, with why; reported with the other problems. */
  readonly failures?: ReadonlyMap<string, MergeLabError>;
  /** The base model's config.json (number of layers, for a shared expert's gradients). */
  readonly config?: Readonly<Record<string, unknown>>;
}

export interface RoutedValidation {
  /** Every problem found, each a MergeLabError with its code; empty when the recipe can be built. */
  readonly problems: MergeLabError[];
  readonly warnings: string[];
}

export interface RoutedBuildOptions {
  /** After each tensor (the CLI's progress bar reads the same shape as a merge's). */
  readonly onProgress?: (p: MergeProgress) => void;
  readonly onWarning?: (message: string) => void;
  /** Checked between tensors; a cancelled build throws CANCELLED and returns nothing. */
  readonly cancel?: CancelToken;
  readonly config?: Readonly<Record<string, unknown>>;
  /**
   * Channel Merging: also rebuild every expert at each K = 1..T, for the error sweep (T merges per
   * tensor instead of one; the lab asks for it on small models). Twin-Merging's sweep is free.
   */
  readonly errorSweep?: boolean;
  /** Channel Merging: also report each tensor's assignment map (which group each task's row is in, per channel). */
  readonly assignments?: boolean;
}

/** One tensor's reconstruction error, per task: how far the package's rebuilt weights are from the expert's. */
export interface TensorError {
  readonly name: string;
  readonly shape: readonly number[];
  /** 'lowrank' / 'dense' / 'own' (Twin-Merging's parts; 'own': excluded, each task's copy), 'channel' (looked up through the index). */
  readonly kind: 'lowrank' | 'dense' | 'own' | 'channel';
  /** Per task (Twin-Merging low-rank parts): the rank kept. */
  readonly ranks?: readonly number[];
  /** Channel Merging: the index table's channels (a bias following its weight: one per element). */
  readonly channels?: number;
  /**
   * Per task: ‖rebuilt − expert‖_F / ‖expert − reference‖_F, where the reference is the shared
   * expert θ* (Twin-Merging: the error of the low-rank delta) or the base θ0 (Channel Merging).
   * 0: the expert is rebuilt exactly.
   */
  readonly errors: readonly number[];
}

/** Storage of the package against keeping every expert (tensor data only, no file headers). */
export interface PackageStorage {
  readonly values: number;
  readonly bytes: number;
  readonly expertValues: number;
  readonly expertBytes: number;
  /** bytes / expertBytes. */
  readonly ratio: number;
}

/** The package at another setting (rank, or K): its size and, when known, how far it is from the experts. */
export interface SweepEntry {
  readonly setting: number;
  readonly bytes: number;
  readonly ratio: number;
  /** Mean over tensors and tasks of TensorError.errors at this setting. */
  readonly meanError?: number;
  /** Per task (RoutedReport.tasks order): the mean over tensors. */
  readonly taskErrors?: readonly number[];
}

/** What a package build reports (plain data: no typed arrays, JSON as it is). */
export interface RoutedReport {
  readonly method: string;
  readonly tasks: readonly string[];
  /** The inner method: Twin-Merging's shared expert, Channel Merging's group method. */
  readonly inner: { readonly role: 'shared expert' | 'group method'; readonly id: string; readonly params: Readonly<Record<string, number | boolean>> };
  /** Twin-Merging: { rank }, { rank_ratio } or { energy }; Channel Merging: { K }. */
  readonly setting: Readonly<Record<string, number>>;
  /** Channel Merging: how rows were grouped. */
  readonly clustering?: 'kmeans' | 'average_linkage';
  readonly tensors: readonly TensorError[];
  readonly storage: PackageStorage;
  /** The same storage at other settings (ranks, or K = 1..T), with the mean error when known. */
  readonly storageSweep: readonly SweepEntry[];
  /** Channel Merging with RoutedBuildOptions.assignments: one map per tensor, in tensor order. */
  readonly assignments?: readonly AssignmentMap[];
  /** Always false here: a router needs data (see the file header). */
  readonly router: false;
  readonly warnings: readonly string[];
}

export interface RoutedPackage {
  /** File name → bytes: the package, ready to write into a folder. */
  readonly files: Record<string, Uint8Array>;
  readonly report: RoutedReport;
}

export interface RoutedMethod {
  /** The recipe's merge_method. */
  readonly id: 'twin_merging' | 'channel_merging';
  readonly label: string;
  readonly summary: string;
  readonly formula: string;
  readonly reference: string;
  /** What the paper leaves open (or we could not read), and what we chose: shown under the method's explanation in the lab. */
  readonly choices: string;
  /** Its own numeric parameters (top-level only), in the registry's schema. */
  readonly params: readonly ParamSpec[];
  /** Its method-choosing string parameters. */
  readonly options: readonly OptionSpec[];
  /** What else `parameters` may hold: the inner method's own parameters, in words (for --help). */
  readonly innerParams: string;
  readonly base: 'required';
  /** Distinct models including the base. */
  readonly minModels: number;
  /** The package's files, the router's last (absent from a package built without data). */
  readonly files: readonly string[];
  /** Checks the whole recipe against the checkpoints' headers, before any tensor is read. */
  validate(input: RoutedValidateInput): RoutedValidation;
  /** Builds the package from the checkpoints (no data: no router). Validate first. */
  buildPackage(recipe: Recipe, checkpoints: ReadonlyMap<string, Checkpoint>, options?: RoutedBuildOptions): Promise<RoutedPackage>;
  /** A few lines describing a report, for the CLI. */
  describe(report: RoutedReport): string[];
}
