/**
 * The lab store's vocabulary: plain, serialisable descriptions of what is loaded. No tensors and
 * no bytes live in the store (those stay in src/app/demo/assets.ts and, later, the worker).
 */
import type { RecipeDtype, RecipeMath } from '../../engine/recipe/types.js';
import type { MergeProgress } from '../../engine/merge/progress.js';
import type { StateCreator } from 'zustand';
import type { BackendChoice, BackendInfo, BackendName } from '../../engine/backend.js';
import type { ChannelView, Diagnostics, LayerRanks, LmLabAnswer, LmLabMode, LmLabProgress, LmLabSummary, RoutedReport, ScoreSplit, SpectrumResult, SweepPoint, TwinView } from '../../engine/api/engine-api.js';
import type { GroupMethodId } from '../routed/methods.js';
import type { EngineClient } from '../engine/engine-client.js';
import type { LiveEngine } from '../engine/live-engine.js';
import type { DiskTarget, WrittenTo } from '../export/disk-target.js';
import type { ModelPair } from '../recipe/demo-recipe.js';
import type { LayerStackSlice } from './stack-slice.js';
import type { LmDemoSlice, LmSplit } from './lm-demo-types.js';

export type * from './lm-demo-types.js';

export type { BackendChoice, BackendInfo, BackendName };

/** An error as the UI shows it: the engine's stable code and its message naming the file. */
export interface AppError {
  readonly code: string;
  readonly message: string;
}

export type LoadStatus = 'loading' | 'ready' | 'error';

export type ModelRole = 'base' | 'expert';

/** One checkpoint's row in the Models panel, from its safetensors header. */
export interface ModelEntry {
  /** The file name; unique within the lab. */
  readonly id: string;
  readonly role: ModelRole;
  /** The demo task an expert was fine-tuned on. */
  readonly taskId?: string;
  readonly status: LoadStatus;
  /** Distinct tensor dtypes in file order, e.g. ['F16']. */
  readonly dtypes?: readonly string[];
  readonly parameters?: number;
  readonly tensors?: number;
  /** File size in bytes. */
  readonly bytes?: number;
  readonly error?: AppError;
}

/** One demo task as the manifest declares it, with the accuracies the trainer measured. */
export interface TaskEntry {
  readonly id: string;
  readonly label: string;
  /** describeTransform's text, plus the label shift when there is one. */
  readonly transform: string;
  readonly hard: boolean;
  /** Test-split accuracy (fraction) of the base model on this task. */
  readonly baseAccuracy: number;
  /** Test-split accuracy (fraction) of this task's expert on it. */
  readonly expertAccuracy: number;
}

/** The digits data file. */
export interface DataEntry {
  readonly file: string;
  readonly status: LoadStatus;
  /** Bytes as shipped (gzip). */
  readonly bytes?: number;
  readonly samples?: number;
  readonly features?: number;
  readonly error?: AppError;
}

/** Normalized scores (%) of the trainer's reference merges, from the manifest. */
export interface ReferenceScores {
  readonly base: number;
  readonly average: number;
  readonly taskArithmetic: { readonly lambda: number; readonly score: number };
  readonly ties: { readonly lambda: number; readonly density: number; readonly score: number };
}

/**
 * idle → loading → loaded (every file settled; some rows may carry errors) or failed (the
 * manifest itself could not be read, so there is nothing to list).
 */
export type DemoStatus = 'idle' | 'loading' | 'loaded' | 'failed';

export interface DemoInfo {
  readonly status: DemoStatus;
  readonly datasetName?: string;
  readonly attribution?: string;
  readonly manifestBytes?: number;
  readonly reference?: ReferenceScores;
  /** performance.measure('demo-load') duration, once loaded. */
  readonly loadMs?: number;
  /** manifest + checkpoints + data, in bytes, once loaded. */
  readonly totalBytes?: number;
  /** Rows that failed to load. */
  readonly problems?: number;
  /** Why the whole demo could not load (manifest unreadable). */
  readonly error?: AppError;
}

export interface ModelsSlice {
  readonly demo: DemoInfo;
  readonly models: readonly ModelEntry[];
  readonly tasks: readonly TaskEntry[];
  readonly data: DataEntry | null;
  /** Fetches and checks the embedded demo; safe to call again (a newer call supersedes). */
  loadDemo(): Promise<void>;
}

/**
 * The merge recipe being edited: the method and the demo's global controls. Every change asks the
 * engine for a new live score (latest wins). `inputAt` is the performance.now() of the user's
 * input, for the 'slider-to-score' measure.
 */
export interface RecipeSlice {
  readonly method: string;
  /** Every expert's density (methods that trim or drop). */
  readonly density: number;
  /** The global λ scaling the merged task vector. */
  readonly lambda: number;
  /** Other global parameters the user set (normalize, t, …), by name; unset ones use the method's default. */
  readonly globals: Readonly<Record<string, number | boolean>>;
  /** Your checkpoints' recipe: its `dtype` (absent: the stored dtype, as mergekit) and arithmetic. */
  readonly dtype?: RecipeDtype;
  readonly math: RecipeMath;
  setArithmetic(a: { readonly dtype?: RecipeDtype | undefined; readonly math?: RecipeMath }): void;
  setMethod(id: string): void;
  setGlobal(name: string, value: number | boolean, inputAt?: number): void;
  setDensity(value: number, inputAt?: number): void;
  setLambda(value: number, inputAt?: number): void;
  /** The demo's per-expert values (task id → parameter → value); an expert without one takes the shared control. */
  readonly demoModels: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** A method with an optional base (linear) on the demo: the base merged in with this weight; undefined leaves it out. */
  readonly baseWeight?: number;
  /** random_seed for the methods that draw at random (DARE, DELLA); DEFAULT_RANDOM_SEED (42) until set. */
  readonly randomSeed: number;
  /** A value per layer group on the demo (parameter → group → value), written as filter lists; replaces that parameter's one value. */
  readonly layered: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** A pairwise method's two demo models (SLERP): `base` the t = 0 end (base_model), `other` the t = 1 end; undefined: the first two experts. */
  readonly pair?: ModelPair;
  /** One expert's own value on the demo (undefined: back to the shared control); out-of-range values are clamped to the schema's range. */
  setDemoModelParam(id: string, name: string, value: number | undefined, inputAt?: number): void;
  setBaseWeight(weight: number | undefined): void;
  /** A whole number from 0 to 2^53 − 1; anything else is ignored. */
  setRandomSeed(seed: number): void;
  /** A value per layer group for `name` (undefined: back to one value for every tensor). */
  setLayered(name: string, groups: Readonly<Record<string, number>> | undefined, inputAt?: number): void;
  setPair(pair: ModelPair | undefined): void;
}

/**
 * The engine worker as the status bar shows it. starting → ready; a worker that dies or a GPU
 * device that is lost goes restarting → ready (with `notice` saying so); failed when no backend starts.
 */
export type EngineStatus = 'idle' | 'starting' | 'ready' | 'restarting' | 'failed';

/** The demo inside the worker (for live scores): separate from the files the page downloaded. */
export interface EngineDemo {
  readonly status: 'idle' | 'loading' | 'ready' | 'unavailable' | 'error';
  /** Scored task ids, in the engine's table order: the recipe names experts by these. */
  readonly tasks?: readonly string[];
  /** Each expert on its own task (percent), per split: the normalizers of that split's scores. */
  readonly expertAccuracy?: Readonly<Record<ScoreSplit, readonly number[]>>;
  /** performance.measure('engine-demo-load'): opening the demo models and loadDemo in the worker. */
  readonly loadMs?: number;
  /** The hard tasks loaded in the worker for Twin-Merging's hard mode (once it was asked for). */
  readonly hardTasks?: readonly string[];
  readonly error?: AppError;
}

export interface EngineInfo {
  readonly status: EngineStatus;
  /** The user's setting (the status bar's Backend select; ?backend= in the URL sets it at start). */
  readonly choice: BackendChoice;
  /** The backend running, once started. */
  readonly backend?: BackendInfo;
  /** "The engine restarted on wasm after …": set by a recovery, kept until the next user choice. */
  readonly notice?: string;
  /** How many times the engine was restarted after a failure. */
  readonly restarts: number;
  /** Why the engine could not start at all. */
  readonly error?: AppError;
  readonly demo: EngineDemo;
}

/** Progress of a merge, after each tensor. */
export type JobProgress = MergeProgress;

/** A finished merge: numbers and the Blob URLs of its files (the bytes stay out of the store). */
export interface JobResult {
  readonly tensors: number;
  readonly milliseconds: number;
  readonly backend: BackendName;
  /** Merge workers that merged the tensors beside the engine worker (Merge into a folder); absent or 1: the engine worker alone. */
  readonly workers?: number;
  /** Size of model.safetensors. */
  readonly bytes: number;
  readonly warnings: readonly string[];
  readonly weightsUrl: string;
  readonly recipeUrl: string;
  /** The merged model's folder: its name and files (weights first), as the zip and "Save into a folder" give them. */
  readonly folderName: string;
  readonly folderFiles: readonly string[];
  /** Set when the merge was written to disk as it ran (Merge to disk): where the files are. */
  readonly writtenTo?: WrittenTo;
}

export type JobStatus = 'idle' | 'running' | 'cancelling' | 'done' | 'cancelled' | 'failed';

/** What a merge job was asked to merge: the handed-out recipe's key (or its error's) and the models' source. */
export interface JobRecipe {
  readonly key: string;
  readonly method: string;
  readonly source: ModelSource;
}

export interface JobState {
  readonly id?: string;
  readonly status: JobStatus;
  /** The recipe and source it merged (every job once merge() ran): a finished job is shown only while they are the current ones (job-shown.ts). */
  readonly made?: JobRecipe;
  readonly progress?: JobProgress;
  readonly result?: JobResult;
  readonly error?: AppError;
}

/** A live score as shown, with the settings it was computed for. */
export interface LiveShown {
  /** The request it answers (requests are numbered; only the latest one is measured). */
  readonly seq: number;
  readonly method: string;
  readonly density: number;
  readonly lambda: number;
  /** Every setting of the recipe it scored, in words (recipe-settings.ts): per-expert and per-layer values too. */
  readonly settings: string;
  /** The split scored: validation while sliders move, test when asked for (demoSplit). */
  readonly split: ScoreSplit;
  /** Accuracy per task on that split, percent, in EngineDemo.tasks order. */
  readonly perTask: readonly number[];
  readonly normalized: number;
  /** Time the engine took (merge + scoring in the worker). */
  readonly milliseconds: number;
  /** performance.now() of the input that asked for it, when a user input did. */
  readonly inputAt?: number;
}

export interface LiveState {
  readonly status: 'idle' | 'computing' | 'ready' | 'error';
  /** The newest request sent. */
  readonly requested: number;
  readonly shown?: LiveShown;
  readonly error?: AppError;
  /** Answers to requests numbered up to this are not shown: they belong to settings or models since replaced. */
  readonly floor?: number;
}

export interface EngineSlice {
  readonly engine: EngineInfo;
  /** The digits demo's split the live score and the sweep are on: validation, or the held-out test split on request. */
  readonly demoSplit: ScoreSplit;
  /** Scores the live score and the sweep on this split from now on (asks both again). */
  setDemoSplit(split: ScoreSplit): void;
  /** The memory budget passed to merges, in MiB. */
  readonly budgetMiB: number;
  readonly job: JobState;
  readonly live: LiveState;
  /** The engine client, once startEngine() ran (the test hook hands out its remote). */
  engineClient(): EngineClient | undefined;
  /** The second worker, for the demo's live score (the test hook hands out its remote). */
  liveEngine(): LiveEngine | undefined;
  /** Starts the engine worker with the current choice and keeps the demo loaded in it. Once. */
  startEngine(): void;
  /** The user's backend override: restarts the worker on it. */
  setBackendChoice(choice: BackendChoice): void;
  setBudgetMiB(mib: number): void;
  /**
   * Merges the demo with the current recipe; the result's files become downloadable. With `into`,
   * the merge is written into that folder as it runs (src/app/export/), never held whole.
   */
  merge(into?: DiskTarget): Promise<void>;
  cancelMerge(): Promise<void>;
  /** Asks for a live score of the current recipe on the demo (latest wins). */
  /** `ahead`: settings likely asked for next (the slider's next step), scored while the engine would wait. */
  requestLive(inputAt?: number, ahead?: readonly SettingsAhead[]): void;
}

export type TabId = 'models' | 'methods' | 'about';

/** Which models the Merge panel merges: the digits demo's, the LM demo's (lm-demo-slice.ts), or the checkpoints the user dropped. */
export type ModelSource = 'demo' | 'lm' | 'mine';

/** A dropped model's role in the recipe; excluded models stay listed but are left out of it. */
export type DroppedRole = 'base' | 'expert' | 'excluded';

/** One dropped checkpoint (a file, or a folder of shards) as its row shows it: headers only. */
export interface DroppedModel {
  /** The id it is opened under in the worker and named by in the recipe (its name, made unique). */
  readonly id: string;
  /** The dropped file's or folder's name. */
  readonly name: string;
  /** How many files it came as (a sharded folder has several). */
  readonly files: number;
  readonly role: DroppedRole;
  readonly status: LoadStatus;
  readonly dtypes?: readonly string[];
  readonly parameters?: number;
  readonly bytes?: number;
  /** Tensor names and shapes from the header (metadata, for the header checks against the base). */
  readonly tensors?: readonly TensorHeader[];
  readonly error?: AppError;
}

export interface TensorHeader {
  readonly name: string;
  readonly shape: readonly number[];
}

/** A group of files that make one model: a single file, or a folder with paths relative to it. */
export interface DroppedGroup {
  readonly name: string;
  readonly files: readonly { readonly path: string; readonly blob: Blob }[];
}

export interface DroppedSlice {
  readonly source: ModelSource;
  readonly dropped: readonly DroppedModel[];
  /** Per-model parameter values set by the user (model id → parameter → value); absent ones use the global control or the default. */
  readonly perModel: Readonly<Record<string, Readonly<Record<string, number>>>>;
  setSource(source: ModelSource): void;
  /** Opens each group in the worker as a new model (switching to "my checkpoints"). */
  addModels(groups: readonly DroppedGroup[]): Promise<void>;
  removeModel(id: string): void;
  moveModel(id: string, delta: -1 | 1): void;
  setRole(id: string, role: DroppedRole): void;
  setModelParam(id: string, name: string, value: number): void;
}

export interface UiSlice {
  readonly tab: TabId;
  /** Presentation mode: large type for a projector (#present=1). */
  readonly present: boolean;
  /** Parts left out by `*_hide` URL flags (see presentation.ts). */
  readonly hidden: readonly string[];
  /** The preset whose story is shown, until the user changes something it set. */
  readonly preset?: string;
  setTab(tab: TabId): void;
  setPresentation(present: boolean, hidden: readonly string[]): void;
  setPreset(id: string | undefined): void;
}

/** A chart's data as shown, with the request it answers and the input that asked for it. */
export interface ChartData<T> {
  readonly status: 'idle' | 'computing' | 'ready' | 'error';
  /** The newest request sent. */
  readonly requested: number;
  readonly shown?: { readonly seq: number; readonly data: T; readonly inputAt?: number };
  readonly error?: AppError;
  /** Answers to requests numbered up to this are not shown: they belong to settings or models since replaced. */
  readonly floor?: number;
}

export type SweepParam = 'lambda' | 'density';

export interface SweepData {
  readonly param: SweepParam;
  readonly method: string;
  /** The split its points are scored on. */
  readonly split: ScoreSplit;
  readonly points: readonly SweepPoint[];
}

/** The per-layer map's colourings: sign conflict and cosine come with the diagnostics, effective rank with its own SVDs. */
export type LayerMetric = 'conflict' | 'cosine' | 'rank';

export interface ChartsSlice {
  /** Sign conflicts, dropped mass and cosines for the current recipe: follows every slider move. */
  readonly diagnostics: ChartData<Diagnostics>;
  /** The SVD spectrum of the chosen tensor's task vectors. */
  readonly spectrum: ChartData<SpectrumResult>;
  /**
   * The per-layer map's effective ranks (the map's other metrics come with the diagnostics): asked
   * once a diagnostics answer carries a layer map and the map is coloured by effective rank, again
   * only when the models, base or dtype change.
   */
  readonly layerRanks: ChartData<LayerRanks>;
  /** What the per-layer map is coloured by. */
  readonly layerMetric: LayerMetric;
  /** The demo's score along λ or density, the other settings as they are. */
  readonly sweep: ChartData<SweepData>;
  /** The spectrum's tensor (absent: the engine's choice, the largest 2-D tensor). */
  readonly spectrumTensor?: string;
  /** The rank marked on the spectrum (absent: the median 90%-energy rank). */
  readonly svdRank?: number;
  readonly sweepParam: SweepParam;
  setSpectrumTensor(name: string): void;
  setSvdRank(rank: number, inputAt?: number): void;
  setSweepParam(param: SweepParam): void;
  /** Colours the per-layer map; effective rank asks for its SVDs (one per matrix and expert) the first time. */
  setLayerMetric(metric: LayerMetric): void;
  /** Asks for the charts' data for the current recipe (each only when its inputs changed). */
  /** `ahead`: as requestLive's, for the diagnostics. */
  requestCharts(inputAt?: number, ahead?: readonly SettingsAhead[]): void;
}

/** Twin-Merging's controls in the Merge panel (methods/twin/lab.ts's settings). */
export interface TwinControls {
  /** The shared expert's method: task arithmetic, or TIES at sharedDensity. */
  readonly sharedMethod: 'task_arithmetic' | 'ties';
  readonly sharedDensity: number;
  /** λ of the shared expert. */
  readonly lambda: number;
  /** Cut each delta by an energy share instead of a fixed rank. */
  readonly useEnergy: boolean;
  readonly rank: number;
  readonly energy: number;
  readonly temperature: number;
  /** Top-k routing weights kept; undefined: every task. */
  readonly topK?: number;
  /** Show the oracle's (true-task) score as the headline. */
  readonly oracle: boolean;
  /** Route between the demo's hard tasks too (fetches manifest-hard.json and its expert once). */
  readonly hard: boolean;
  /** Cut each matrix to ⌊rankRatio · min(m, n)⌋ instead of a fixed rank (ignored with useEnergy). */
  readonly useRatio: boolean;
  readonly rankRatio: number;
  /** Tensor-name patterns kept out of the merge (each task's own), e.g. ['head', 'bias']. */
  readonly exclude: readonly string[];
  /** The router: the paper's d → 2d → 2d → T (slow to train: ~20 s) or the small d → 32 → T. */
  readonly router: 'paper' | 'small';
  /** Score on the held-out test split instead of validation (shown on request, labelled). */
  readonly testScore: boolean;
  /** Score routing on blends of two tasks' inputs too. */
  readonly mixed: boolean;
}

/** Channel Merging's controls (methods/channel/lab.ts's settings). */
export interface ChannelControls {
  /** Groups per channel, 1..T. */
  readonly K: number;
  readonly groupMethod: GroupMethodId;
  /** λ of task arithmetic / TIES inside a group. */
  readonly lambda: number;
  /** TIES' density inside a group. */
  readonly density: number;
  readonly oracle: boolean;
  /** The assignment map's tensor (absent: the first 2-D one). */
  readonly tensor?: string;
  /** How rows are grouped: k-means (the default) or average linkage. */
  readonly clustering: 'kmeans' | 'average_linkage';
  /** Score on the held-out test split instead of validation (shown on request, labelled). */
  readonly testScore: boolean;
}

/** A routed package built in the worker: its files as Blob URLs (the bytes stay out of the store). */
export interface RoutedPackageState {
  readonly status: 'idle' | 'building' | 'ready' | 'error';
  /** Which build this is (a chart's data-seq). */
  readonly seq?: number;
  readonly method?: string;
  readonly files?: readonly { readonly name: string; readonly url: string; readonly bytes: number }[];
  /** For the user's checkpoints: what the data-free build reports (reconstruction errors, storage sweep). */
  readonly report?: RoutedReport;
  readonly warnings?: readonly string[];
  readonly milliseconds?: number;
  /** Tensors done / total while building (the user's checkpoints). */
  readonly progress?: { readonly done: number; readonly total: number };
  readonly error?: AppError;
}

/** Hard mode's files: fetched once, when hard mode is first turned on. */
export type HardModeStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface RoutedSlice {
  readonly twin: TwinControls;
  readonly channel: ChannelControls;
  /** The engine's answers for the current controls (latest wins), like the charts' data. */
  readonly twinView: ChartData<TwinView>;
  readonly channelView: ChartData<ChannelView>;
  readonly routedPackage: RoutedPackageState;
  readonly hardMode: { readonly status: HardModeStatus; readonly error?: AppError };
  setTwin(patch: Partial<TwinControls>, inputAt?: number): void;
  setChannel(patch: Partial<ChannelControls>, inputAt?: number): void;
  /**
   * Asks the engine for the routed method's view at the current controls (twin or channel).
   * `ranksAhead`: Twin-Merging ranks to work on ahead once the view is out (after a rank move).
   */
  requestRouted(inputAt?: number, ranksAhead?: readonly number[]): void;
  /** Builds the current routed method's package in the worker and publishes its files. */
  buildRoutedPackage(): Promise<void>;
}

/** A text file dropped beside the models: one task of the language-model lab (its text stays out of the store). */
export interface LmTextEntry {
  /** Unique among the texts: the file's name, made unique. */
  readonly id: string;
  /** The file's name. */
  readonly name: string;
  readonly bytes: number;
  readonly status: LoadStatus;
  readonly error?: AppError;
}

/** The lab's language model: the base's config.json and tokenizer as the engine read them (describeLab). */
export interface LmModelInfo {
  /** idle: no base (or not your checkpoints); checking: asked; ready: a language model the lab scores; unsupported: why not. */
  readonly status: 'idle' | 'checking' | 'ready' | 'unsupported';
  readonly base?: string;
  readonly summary?: LmLabSummary;
  readonly error?: AppError;
}

/** One evaluation as shown: the engine's answer and what it was asked about. */
export interface LmEvalData {
  readonly answer: LmLabAnswer;
  /** The request's identity (recipe, base, experts, texts, their experts): the current one differs → the answer is stale. */
  readonly key: string;
  /** The recipe's method id and settings in words (recipe-settings.ts). */
  readonly method: string;
  readonly settings: string;
  /** On the LM demo: the split its windows are from. */
  readonly split?: LmSplit;
}

export interface LmEvalState {
  /** cancelled: the user stopped the newest request (the answer shown, if any, is an older one). */
  readonly status: 'idle' | 'computing' | 'ready' | 'error' | 'cancelled';
  readonly requested: number;
  readonly shown?: { readonly seq: number; readonly data: LmEvalData; readonly inputAt?: number };
  readonly error?: AppError;
  /** Answers to requests numbered up to this are not shown (their models or texts were replaced). */
  readonly floor?: number;
  /** The newest request's progress while it computes. */
  readonly progress?: LmLabProgress;
  /** The newest request's mode. */
  readonly mode?: LmLabMode;
  /** The newest request's key: an answer shown with the same key is the current settings' (a probe while the full texts compute). */
  readonly key?: string;
}

export interface LmLabSlice {
  readonly lmTexts: readonly LmTextEntry[];
  /** Text id → the expert the user chose for it (an expert id, or null for none); absent: matched by name. */
  readonly lmExperts: Readonly<Record<string, string | null>>;
  readonly lmModel: LmModelInfo;
  readonly lmEval: LmEvalState;
  /** Reads each file as a task's text (a bad one is listed with its error; the others are kept). */
  addTexts(files: readonly { readonly name: string; readonly blob: Blob }[]): Promise<void>;
  removeText(id: string): void;
  /** The expert a text is scored against (null: none; undefined: back to matching by name). */
  setTextExpert(id: string, expert: string | null | undefined): void;
  /** Asks for the current settings' evaluation of the full texts (after a cancel or an error). */
  evaluateLm(): void;
  /** Stops the evaluation running; the answer shown stays, marked as not the current settings'. */
  cancelLmEval(): void;
}

export type LabState = ModelsSlice & RecipeSlice & EngineSlice & UiSlice & DroppedSlice & ChartsSlice & RoutedSlice & LmLabSlice & LmDemoSlice & LayerStackSlice;

/** A slice creator over the whole store (zustand's slices pattern). */
export type SliceCreator<T> = StateCreator<LabState, [], [], T>;

/** Slider settings likely asked for next, for the engine to work on ahead (see recipe/steps-ahead.ts). */
export type SettingsAhead = Partial<Pick<LabState, 'density' | 'lambda'>>;
