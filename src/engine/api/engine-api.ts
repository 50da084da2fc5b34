/**
 * The engine's one interface, used in-process by tests and through comlink by the app (the worker
 * only starts a backend and exposes this). Everything crossing it is plain data or transferable
 * bytes: no tf.Tensor ever leaves the engine.
 */
import type { BackendChoice, BackendInfo, BackendName } from '../backend.js';
import type { ErrorCode } from '../errors.js';
import type { DType } from '../io/types.js';
import type { MergeProgress } from '../merge/progress.js';
import type { Diagnostics } from '../diagnostics/diagnose.js';
import type { RecipeInput } from '../recipe/recipe-text.js';
import type { Recipe } from '../recipe/types.js';
export type { RecipeInput } from '../recipe/recipe-text.js';

export type { Diagnostics, LayerDiagnostics, TensorDiagnostics } from '../diagnostics/diagnose.js';
export type { ModelSpectrum, SpectrumResult } from '../diagnostics/spectrum.js';
export type { ApartCell, CellValues, LayerCell, LayerMap, LayerRow } from '../diagnostics/layer-map.js';
export type { LayerRanks, MatrixRanks, RankCell } from '../diagnostics/layer-ranks.js';
import type { LayerRanks } from '../diagnostics/layer-ranks.js';
import type { SpectrumResult } from '../diagnostics/spectrum.js';
import type { TwinLabSettings, TwinView } from '../methods/twin/lab.js';
import type { RoutedReport } from '../routed/types.js';
export type { RoutedReport, TensorError } from '../routed/types.js';
import type { ChannelLabSettings, ChannelView, ChannelViewOptions } from '../methods/channel/lab.js';

export type { KeptRank, TwinLabSettings, TwinScore, TwinView } from '../methods/twin/lab.js';
export type { ChannelKPoint, ChannelLabSettings, ChannelScore, ChannelView, ChannelViewOptions } from '../methods/channel/lab.js';
export type { AssignmentMap } from '../methods/channel/assignment.js';
export type { HardTaskReport, RoutingDiagnostics, TwinSweepPoint } from '../methods/twin/demo.js';
export type { TwinStorage } from '../methods/twin/storage.js';
export type { ChannelStorage } from '../methods/channel/storage.js';
export type { PairConflictRates } from '../methods/channel/conflicts.js';
export type { EpochStats } from '../router/types.js';

/** One file of a dropped model: its relative path ('/'-separated) and its bytes. */
export interface ModelFile {
  readonly path: string;
  readonly blob: Blob;
}

export interface TensorSummary {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface ModelSummary {
  /** The id the recipe uses for this model. */
  readonly id: string;
  /** What the files were called (a file name or the dropped folder). */
  readonly name: string;
  readonly tensors: readonly TensorSummary[];
  readonly parameters: number;
  readonly bytes: number;
  readonly dtypes: readonly DType[];
}

export interface Problem {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface CheckResult {
  readonly warnings: readonly string[];
  readonly problems: readonly Problem[];
  /** Peak memory the merge would need, in bytes (see estimateMergeMemory). */
  readonly memoryBytes?: number;
}

export interface MergeOptions {
  /** Refuse before starting when the estimated peak memory is larger (BUDGET_EXCEEDED). */
  readonly budgetBytes?: number;
  /** Cap on one backend buffer (default: the WebGPU adapter's binding limit); set low to test splitting. */
  readonly maxBlockBytes?: number;
  /** The merged model's folder name: its model card's title (default "merged-model"). */
  readonly name?: string;
  /**
   * Model id → the name the recipe written into the output (its metadata, the downloaded recipe)
   * gives it: the file as it sits on disk, so that recipe runs unchanged beside the files.
   */
  readonly recipeNames?: Readonly<Record<string, string>>;
}

/** One file of the merged model's folder besides its weights. */
export interface FolderFile {
  /** The file's name in the folder, e.g. "config.json". */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Called after each tensor. A top-level argument, so comlink can proxy it (it does not look inside objects). */
export type ProgressCallback = (p: MergeProgress) => void;

export interface MergeResult {
  /** The merged model as one safetensors file, the recipe in `__metadata__.merge_recipe`. */
  readonly bytes: Uint8Array;
  readonly recipeYaml: string;
  /**
   * The rest of the model folder, as mergekit writes it: config.json (when the donor model had one),
   * the tokenizer's files (when it had them, or from tokenizer_source), mergekit_config.yml and
   * README.md. Side files come from what was opened with each model (openModel's files).
   */
  readonly folder: readonly FolderFile[];
  readonly warnings: readonly string[];
  readonly tensors: number;
  readonly milliseconds: number;
  readonly backend: BackendName;
}

/**
 * A folder the merged model is written into while it is merged: Chromium's FileSystemDirectoryHandle
 * (File System Access API), handed to the worker, has these members.
 */
export interface OutputFolder {
  getFileHandle(name: string, options?: { create?: boolean }): Promise<{ createWritable(): Promise<OutputWritable> }>;
  removeEntry(name: string): Promise<void>;
}

/** A file being written into an OutputFolder: the browser keeps it aside until it is closed. */
export interface OutputWritable {
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface FolderMergeOptions extends MergeOptions {
  /** Weights past this many bytes go into shards with an index, as mergekit's (default 5 GB, its "5B"). */
  readonly maxShardSize?: number;
  /**
   * Merge workers beside the engine's thread, which then only reads and writes: 'auto' (the
   * default) one per core for a merge large enough to gain from them (autoWorkerCount), 1 none.
   * Only where the host can start workers (the page's engine worker); the bytes are the same.
   */
  readonly workers?: number | 'auto';
}

/** A merge written into an OutputFolder (MergesService.mergeToFolder). */
export interface FolderMergeResult {
  /** What was written, in order: the weights (model.safetensors, or its shards and index), then the rest of the folder. */
  readonly files: readonly string[];
  /** Bytes of the weights files' tensor data. */
  readonly weightsBytes: number;
  readonly recipeYaml: string;
  readonly warnings: readonly string[];
  readonly tensors: number;
  readonly milliseconds: number;
  readonly backend: BackendName;
  /** How many merge workers merged the tensors (1: the engine's own thread). */
  readonly workers: number;
}

/** The embedded demo's files, fetched by the app (the worker reads no URLs itself). */
export interface LiveOptions {
  /** Recipes to score ahead, most likely first, once this answer is out. */
  readonly then?: readonly RecipeInput[];
  /** The split scored (default validation); `then` is scored on the same one. */
  readonly split?: ScoreSplit;
}

export interface SweepOptions {
  /** The split every point is scored on (default validation). */
  readonly split?: ScoreSplit;
}

export interface RoutedMergeOptions {
  /**
   * Channel Merging's error at every K and every tensor's assignment map (default true): a build
   * at each K, so T builds in all — what the lab draws for small models, and skips for large ones.
   */
  readonly detail?: boolean;
}

export interface DiagnoseOptions {
  /** Recipes over the demo's models to diagnose ahead, most likely first, once this answer is out. */
  readonly then?: readonly RecipeInput[];
}

export interface TwinLabOptions {
  /**
   * Settings to work on ahead, most likely first, once this view is out and while no other
   * Twin-Merging request comes in (their stages are cached; a request stops the guess at its next stage).
   */
  readonly then?: readonly TwinLabSettings[];
}

export interface DemoBlobs {
  readonly manifest: string;
  /** Checkpoint file name (as the manifest names it) → its bytes. */
  readonly checkpoints: Readonly<Record<string, Blob>>;
  /** The gzipped digits CSV (or already inflated by the server: both are accepted). */
  readonly digits: Blob;
  /** The demo's hard mode, when the app fetched it: enables `hard: true` in twinLab. */
  readonly hard?: HardDemoBlobs;
}

/** manifest-hard.json (the demo plus its hard tasks) and the checkpoints it names beyond the default demo's. */
export interface HardDemoBlobs {
  readonly manifest: string;
  readonly checkpoints: Readonly<Record<string, Blob>>;
}

/** The demo split a live score or sweep is on: validation while sliders move (choosing on test would tune on it), test on request. */
export type ScoreSplit = 'validation' | 'test';

export interface DemoSummary {
  /** The scored tasks, in table order; the recipe names experts by these ids and the base "base". */
  readonly tasks: readonly string[];
  /** Each expert on its own task (percent) on each split: the normalizers of that split's scores. */
  readonly expertAccuracy: Readonly<Record<ScoreSplit, readonly number[]>>;
  /** The hard tasks loaded for hard mode (DemoBlobs.hard), when there are any. */
  readonly hardTasks?: readonly string[];
}

/** The routed methods: not per-tensor merges, so not in the method registry (see methods/twin, methods/channel). */
export type RoutedMethodId = 'twin_merging' | 'channel_merging';

/** Which package routedPackage builds, at which settings. */
export type RoutedPackageRequest =
  | { readonly method: 'twin_merging'; readonly settings: TwinLabSettings }
  | { readonly method: 'channel_merging'; readonly settings: ChannelLabSettings };

export interface RoutedMergeResult {
  /** File name → bytes: the package (twin.json or channel.json first names the rest). */
  readonly files: Record<string, Uint8Array>;
  readonly report: RoutedReport;
  /** The recipe as written back (merge-recipe.yml). */
  readonly recipeYaml: string;
  readonly warnings: readonly string[];
  readonly milliseconds: number;
}

export interface LiveScore {
  /** The split scored. */
  readonly split: ScoreSplit;
  /** Accuracy per task on that split (percent), in DemoSummary.tasks order. */
  readonly perTask: readonly number[];
  /** Mean over tasks of merged / expert accuracy, percent. */
  readonly normalized: number;
  readonly milliseconds: number;
}

/** One point of a sweep: the recipe at that value of the swept parameter. */
export interface SweepRequest {
  readonly value: number;
  readonly recipe: RecipeInput;
}

export interface SweepPoint {
  readonly value: number;
  /** Accuracy per task (percent) on the split asked for, in DemoSummary.tasks order. */
  readonly perTask: readonly number[];
  readonly normalized: number;
}

export interface SpectrumOptions {
  /** A 2-D tensor's name; absent: the largest one. */
  readonly tensor?: string;
  /** The rank to measure the error and the subspace overlap at (default: the median 90%-energy rank). */
  readonly rank?: number;
}

/** The models the engine has open, read from dropped files. */
export interface ModelsService {
  /**
   * Reads the headers of a dropped model (a file, or a folder's files) under `id`; replaces an older
   * one. The other files of the folder (config.json, tokenizer files) are kept for merge's folder.
   */
  openModel(id: string, files: readonly ModelFile[]): Promise<ModelSummary>;
  closeModel(id: string): Promise<void>;
  /** Every open model's summary, in the order they were opened. */
  listModels(): Promise<ModelSummary[]>;
}

/** Checks and merges over the open models (and the demo's, for routed methods): jobs the caller names and may cancel. */
export interface MergesService {
  /** Validates a recipe against the open models, reading no tensor. */
  check(recipe: RecipeInput): Promise<CheckResult>;
  /** Merges into one safetensors file in memory. `jobId` names the job for cancel(). */
  merge(jobId: string, recipe: RecipeInput, options?: MergeOptions, onProgress?: ProgressCallback): Promise<MergeResult>;
  /**
   * A twin_merging / channel_merging recipe over opened models (or the demo's), as `merge-lab merge`
   * builds it: checked against the headers first (every problem at once), then the package from the
   * checkpoints alone (no data, so no router) with its report — per tensor and task the
   * reconstruction error, storage now and at other ranks or K. Cancel with cancel(jobId).
   */
  routedMerge(jobId: string, recipe: RecipeInput, onProgress?: ProgressCallback, options?: RoutedMergeOptions): Promise<RoutedMergeResult>;
  /**
   * Merges into `folder` while the merge runs (issue 20, item 2): the weights streamed into their
   * files tensor by tensor, never held whole, then the rest of the model folder (as `merge` gives it,
   * with merge-recipe.yml as the CLI writes it). All or nothing: the files are closed only once every
   * one is written; on a failure or cancel they are aborted and the ones created removed. The budget
   * counts the merge's working memory only (mergeWorkingMemory), not the result.
   */
  mergeToFolder(jobId: string, recipe: RecipeInput, folder: OutputFolder, options?: FolderMergeOptions, onProgress?: ProgressCallback): Promise<FolderMergeResult>;
  /** Stops job `jobId` before its next tensor; its merge rejects with CANCELLED. */
  cancel(jobId: string): Promise<void>;
}

/** The embedded demo: live scores, sweeps and the routed methods' labs, each latest-wins on a lane of its own. */
export interface DemoService {
  /** Loads the embedded demo for live scoring; replaces a demo loaded before. */
  loadDemo(files: DemoBlobs): Promise<DemoSummary>;
  /**
   * Merges the demo's experts with `recipe` and scores the result on the test split. Latest
   * wins: a call overtaken by a newer one rejects with CANCELLED instead of running. Recent
   * answers are kept, and `options.then` names recipes likely asked for next (the slider's next
   * step): they are scored while the engine would otherwise wait, and any request stops them.
   */
  liveDemo(recipe: RecipeInput, options?: LiveOptions): Promise<LiveScore>;
  /**
   * The demo merged and scored at each point (a λ or density sweep, for the chart that marks the
   * current value). Runs beside liveDemo without cancelling it; a newer sweep cancels this one.
   */
  sweepDemo(points: readonly SweepRequest[], options?: SweepOptions): Promise<SweepPoint[]>;
  /**
   * Twin-Merging on the demo at the lab's settings (λ of the shared expert, rank or energy,
   * temperature, top-k, hard mode): scores with the router and with oracle routing, storage, the
   * rank sweep, routing weights and the router's training curve. Stages are cached (see
   * methods/twin/lab.ts): a rank or temperature move takes a few forwards, none when it was worked
   * on ahead (`then`). Latest wins.
   */
  twinLab(settings: TwinLabSettings, options?: TwinLabOptions): Promise<TwinView>;
  /**
   * Channel Merging on the demo at K with a within-group method: oracle and routed scores, storage,
   * the K = 1..T sweep with sign conflicts within and across groups, and one tensor's assignment
   * map. Every K of a method is cached, so a K move is a lookup; with `{ sweep: 'known' }` a new
   * method or λ/density answers once its K is done (the app then asks for the whole sweep). Latest wins.
   */
  channelLab(settings: ChannelLabSettings, options?: ChannelViewOptions): Promise<ChannelView>;
  /** The routed method's package at these settings (file name → bytes; twin.json or channel.json names the rest). */
  routedPackage(request: RoutedPackageRequest): Promise<Record<string, Uint8Array>>;
}

/** Weights-only diagnostics of a recipe over the demo's or opened models (no data read). */
export interface DiagnosticsService {
  /**
   * Sign conflicts, the mass the TIES election drops and task-vector cosines for `recipe`,
   * per tensor, per layer and overall (plain numbers, for charts). Model names resolve against
   * the demo's ids first ('base' and the task ids), then the opened models. Latest wins, as in
   * liveDemo: a call overtaken by a newer one rejects with CANCELLED. For the demo's models, recent
   * answers are kept and `options.then` is diagnosed ahead, as liveDemo does.
   */
  diagnose(recipe: RecipeInput, options?: DiagnoseOptions): Promise<Diagnostics>;
  /**
   * The SVD spectrum of each task vector of one 2-D tensor (models resolve as in diagnose), the
   * energy curve, 90%-energy and effective ranks, the error at `rank` and the tasks' subspace
   * overlap. Factorisations of the demo's models are kept, so a rank move is cheap. Latest wins.
   */
  spectrum(recipe: RecipeInput, options?: SpectrumOptions): Promise<SpectrumResult>;
  /**
   * The effective rank of each expert's task vector for every weight matrix (GPT-2's fused c_attn
   * per q, k, v), and per layer and module as the per-layer map draws it (models resolve as in
   * diagnose). Depends on the models only; the numbers are kept while they stay open. Latest wins.
   */
  layerRanks(recipe: RecipeInput): Promise<LayerRanks>;
}

/** Recipes as text and back, for a page whose main thread holds no YAML library. */
export interface RecipesService {
  /** The recipe as mergekit YAML: what the lab shows and hands out (the page's main thread holds no YAML library). */
  recipeText(recipe: Recipe): Promise<string>;
  /** Reads a recipe file's text as `merge-lab merge` does: the recipe, or every problem at once (a MergeLabError naming `fileName`). */
  readRecipe(text: string, fileName: string): Promise<Recipe>;
}

/** The backend and its memory. */
export interface SystemService {
  /** Starts a backend ('auto': webgpu, else wasm, else cpu) and says which and why. */
  setBackend(choice: BackendChoice): Promise<BackendInfo>;
  backend(): Promise<BackendInfo | undefined>;
  /** tfjs' live tensor count and bytes: flat across repeated requests, or something leaks. */
  memory(): Promise<{ readonly numTensors: number; readonly numBytes: number }>;
}

/** How a language model is opened for scoring (LmService.openLm). */
export interface LmOpenOptions {
  /**
   * The model folder's files (config.json, weights, tokenizer.json …). Left out: the files opened
   * under the same id by models.openModel (its config.json and tokenizer must have been dropped with it).
   */
  readonly files?: readonly ModelFile[];
  /** A tokenizer.json apart from the model's folder, or 'bytes' (UTF-8 bytes as ids). */
  readonly tokenizer?: 'bytes' | ModelFile;
}

export interface LmSummary {
  readonly id: string;
  /** The model as messages name it. */
  readonly name: string;
  readonly modelType: 'llama' | 'mistral' | 'qwen2' | 'gpt2';
  readonly parameters: number;
  readonly vocabSize: number;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly maxPositions: number;
  /** 'bytes', or the tokenizer.json read. */
  readonly tokenizer: string;
  /** The context scoreTexts uses when none is given. */
  readonly defaultContext: number;
}

/** One text to score: a name for the answer and its text. */
export interface LmText {
  readonly name: string;
  readonly text: string;
}

export interface LmScoreOptions {
  /** Tokens per window (default: the summary's defaultContext). */
  readonly context?: number;
  /** No tensor larger than this (default 64 MiB); the lab gives the adapter's binding limit. */
  readonly maxTensorBytes?: number;
  /** Answer each predicted token's loss too. */
  readonly perToken?: boolean;
}

export interface LmTextScore {
  readonly name: string;
  /** Tokens predicted (the text's tokens but the first). */
  readonly tokens: number;
  /** UTF-8 bytes of the text. */
  readonly bytes: number;
  /** Summed loss, nats. */
  readonly nll: number;
  /** Mean loss, nats per token. */
  readonly loss: number;
  readonly perplexity: number;
  readonly bitsPerByte: number;
  readonly context: number;
  /** Each window's position, tokens and summed loss (non-overlapping windows of `context` tokens). */
  readonly windows: readonly { readonly start: number; readonly tokens: number; readonly nll: number }[];
  readonly perToken?: Float32Array;
}

export interface LmProgress {
  /** Which text (index into the texts asked for) and how far into it. */
  readonly text: number;
  readonly texts: number;
  readonly tokensDone: number;
  readonly tokens: number;
}

/** Called after each batch of windows. A top-level argument, so comlink can proxy it. */
export type LmProgressCallback = (p: LmProgress) => void;

/** Transformer language models (src/engine/lm): opened from a folder's files, weights held on the backend, texts scored. */
export interface LmService {
  /**
   * Reads config.json, the tokenizer and the weights of a Llama/Mistral/Qwen2/GPT-2 model under
   * `id` (replacing one opened before under it). Refuses, naming the file or tensor, a model it
   * cannot score (LM_CONFIG_INVALID, LM_UNSUPPORTED, TOKENIZER_INVALID, TENSOR_MISSING, SHAPE_MISMATCH).
   */
  openLm(id: string, options?: LmOpenOptions): Promise<LmSummary>;
  /** Lets the model's weights go. */
  closeLm(id: string): Promise<void>;
  /**
   * Scores each text with model `id` (teacher-forced, windows of `context` tokens). Latest wins per
   * model: a newer scoreTexts for the same id, or cancelScore(id), makes this one reject with
   * CANCELLED at its next block; models scored side by side do not cancel each other.
   */
  scoreTexts(id: string, texts: readonly LmText[], options?: LmScoreOptions, onProgress?: LmProgressCallback): Promise<LmTextScore[]>;
  /** Stops model `id`'s scoring at its next block. */
  cancelScore(id: string): Promise<void>;
}

/** One task of the language-model lab: a text, and the expert fine-tuned for it (if any). */
export interface LmLabTask {
  /** The text's name (its file's), for the answer and for messages. */
  readonly name: string;
  readonly text: string;
  /** This task's expert (one of LmLabRequest.experts): the normalized gain is against it; absent: no gain. */
  readonly expert?: string;
  /**
   * Character ranges [start, end) of `text`, each scored on its own from position 0 (separate
   * windows: excerpts spread over a longer text, or windows that must not run into each other);
   * absent: the whole text, in consecutive windows of the context. Bits per byte count the ranges' bytes.
   */
  readonly windows?: readonly (readonly [start: number, end: number])[];
}

/** 'probe': the first tokens of each text (while a slider is dragged); 'full': every token of every text. */
export type LmLabMode = 'probe' | 'full';

export interface LmLabRequest {
  /** The merge, over opened models by their ids. */
  readonly recipe: RecipeInput;
  /** The base's id: its config.json and tokenizer are the lab's (every model is scored on its tokens). */
  readonly base: string;
  /** The experts scored beside the merge, each on every text (once, then kept until the models or texts change). */
  readonly experts: readonly string[];
  readonly tasks: readonly LmLabTask[];
  readonly mode: LmLabMode;
  /** Tokens per window (default: LmLabSummary.context). */
  readonly context?: number;
  /** Predictions a probe scores of each text (default: two windows, at most 256). */
  readonly probeTokens?: number;
  /** No tensor larger than this (default: half the WebGPU adapter's binding limit, else 64 MiB). */
  readonly maxTensorBytes?: number;
}

/** One model's score on one text (or on its probe). */
export interface LmLabMetrics {
  /** Tokens predicted. */
  readonly tokens: number;
  /** Summed loss, nats. */
  readonly nll: number;
  /** Mean loss, nats per token. */
  readonly loss: number;
  readonly perplexity: number;
  /** Bits per UTF-8 byte of the text; null for a probe, whose token prefix has no known byte count. */
  readonly bitsPerByte: number | null;
}

export interface LmLabTaskScore {
  readonly name: string;
  readonly expert?: string;
  /** Tokens predicted in this answer (a probe's fewer than the text's). */
  readonly tokens: number;
  /** Tokens the whole text predicts. */
  readonly textTokens: number;
  /** UTF-8 bytes of the whole text. */
  readonly bytes: number;
  readonly base: LmLabMetrics;
  /** Each expert of the request on this text, in the request's order. */
  readonly experts: readonly LmLabMetrics[];
  readonly merged: LmLabMetrics;
  /** (loss_base − loss_merged) / (loss_base − loss_expert) against its expert; null without one, or when the expert's loss equals the base's. */
  readonly gain: number | null;
}

export interface LmLabAnswer {
  readonly mode: LmLabMode;
  readonly context: number;
  /** The predictions a probe scores of each text (the full texts' first ones). */
  readonly probeTokens: number;
  readonly base: string;
  readonly experts: readonly string[];
  /** The tokenizer every text was read with: 'bytes' or the base's tokenizer.json. */
  readonly tokenizer: string;
  readonly tasks: readonly LmLabTaskScore[];
  /** The mean gain over the tasks whose expert scores better than the base (the others' gain means nothing); null when there are none. */
  readonly meanGain: number | null;
  /** Scoring the base and experts (0 when every score was kept), merging, scoring the merge, and in all. */
  readonly milliseconds: { readonly references: number; readonly merge: number; readonly merged: number; readonly total: number };
}

export interface LmLabProgress {
  /** Scoring the base and experts, merging, or scoring the merged model. */
  readonly stage: 'references' | 'merge' | 'merged';
  /** Tokens scored of every model's texts this request scores. */
  readonly tokensDone: number;
  readonly tokens: number;
}

/** Called after each batch of windows. A top-level argument, so comlink can proxy it. */
export type LmLabProgressCallback = (p: LmLabProgress) => void;

/** A λ or density sweep of the language-model lab: the probe of every task scored at each point. */
export interface LmLabSweepRequest extends Omit<LmLabRequest, 'recipe' | 'mode'> {
  readonly points: readonly SweepRequest[];
}

/** One point of an LM sweep: the merge at that value, scored on each task's probe. */
export interface LmLabSweepPoint {
  readonly value: number;
  /** The merged model's mean loss over the tasks (nats/token, each task's probe weighted alike). */
  readonly loss: number;
  /** The answer's mean gain (tasks whose expert beats the base); null when there are none. */
  readonly meanGain: number | null;
  /** Per task, in the request's order: the merged model's probe loss and normalized gain. */
  readonly tasks: readonly { readonly name: string; readonly loss: number; readonly gain: number | null }[];
}

/** Points of a sweep done of all, after each point. */
export type LmLabSweepProgressCallback = (p: { readonly done: number; readonly points: number }) => void;

/** The lab's language model: the base's config.json and tokenizer, read without any weight. */
export interface LmLabSummary {
  readonly base: string;
  readonly modelType: 'llama' | 'mistral' | 'qwen2' | 'gpt2';
  readonly parameters: number;
  readonly vocabSize: number;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly maxPositions: number;
  readonly tokenizer: string;
  /** The context evaluate uses when none is given. */
  readonly context: number;
  /** The predictions a probe scores of each text when none is given. */
  readonly probeTokens: number;
}

/** The language-model lab over opened models: base and experts scored once per text, the merge at every recipe. */
export interface LmLabService {
  /**
   * Reads the opened base's config.json and tokenizer (no weights): the lab's model, or a refusal
   * naming the file (LM_CONFIG_INVALID, LM_UNSUPPORTED, TOKENIZER_INVALID).
   */
  describeLab(base: string): Promise<LmLabSummary>;
  /**
   * Scores the base and every expert on every text (kept until the models or texts change), merges
   * `recipe` into memory and scores the merge: per task loss, perplexity, bits per byte and normalized
   * gain. Latest wins: a newer call, or cancelEvaluate(), makes this one reject with CANCELLED.
   */
  evaluate(request: LmLabRequest, onProgress?: LmLabProgressCallback): Promise<LmLabAnswer>;
  /** Stops the evaluation running at its next block. */
  cancelEvaluate(): Promise<void>;
  /**
   * Merges each point's recipe and scores its probe of every task (base and experts as evaluate
   * keeps them), on a lane and a merge session of its own: it runs beside evaluate without
   * cancelling it or being cancelled by it; a newer sweep cancels this one (CANCELLED).
   */
  sweep(request: LmLabSweepRequest, onProgress?: LmLabSweepProgressCallback): Promise<LmLabSweepPoint[]>;
  /** Stops the sweep running at its next block (its settings moved: the worker is the sliders' again). */
  cancelSweep(): Promise<void>;
}

/**
 * The engine: one service object per concern, each owning its one cancellation mechanism
 * (services/cancel.ts). In-process callers use it as is; the worker exposes this very object over
 * comlink (workers/expose.ts), so `remote.merges.merge(...)` reaches `engine.merges.merge`.
 */
export interface EngineApi {
  readonly models: ModelsService;
  readonly merges: MergesService;
  readonly demo: DemoService;
  readonly diagnostics: DiagnosticsService;
  readonly recipes: RecipesService;
  readonly system: SystemService;
  readonly lm: LmService;
  readonly lmLab: LmLabService;
}
