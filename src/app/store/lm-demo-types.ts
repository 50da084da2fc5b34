/**
 * The LM demo in the store (lm-demo-slice.ts): its files and domains as plain descriptions, the
 * split the card scores, and the λ/density sweep over it. The texts, blobs and tasks stay in the
 * slice's closure; the store holds no bytes.
 */
import type { LmLabSweepPoint, LmLabTask } from '../../engine/api/engine-api.js';
import type { LmSplit } from '../../engine/demo/lm-eval-set.js';
import type { AppError, ChartData, LoadStatus, SweepParam } from './types.js';

export type { LmSplit };

/** idle → loading → loaded (every file settled; rows may carry errors) or failed (the manifest or config.json could not be read). */
export type LmDemoStatus = 'idle' | 'loading' | 'loaded' | 'failed';

/** One of the LM demo's checkpoints as its row shows it. */
export interface LmDemoModelRow {
  /** The id it is opened under in the worker and named by in the lab's recipe: "lm-base", or the domain's id. */
  readonly id: string;
  /** Its file, relative to lm/manifest.json (what the handed-out recipe names). */
  readonly file: string;
  readonly role: 'base' | 'expert';
  /** The domain an expert was fine-tuned on. */
  readonly domain?: string;
  readonly status: LoadStatus;
  /** Bytes received so far, then the file's size. */
  readonly received: number;
  readonly bytes?: number;
  readonly dtypes?: readonly string[];
  readonly parameters?: number;
  readonly error?: AppError;
}

/** One text domain: what it holds, its held-out texts' sizes and the trainer's test numbers. */
export interface LmDemoDomainRow {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  readonly validationBytes: number;
  readonly testBytes: number;
  /** Test bits per byte the trainer measured on this domain's whole test text: the base's and its expert's. */
  readonly baseBitsPerByte: number;
  readonly expertBitsPerByte: number;
}

export interface LmDemoInfo {
  readonly status: LmDemoStatus;
  readonly models: readonly LmDemoModelRow[];
  readonly domains: readonly LmDemoDomainRow[];
  /** Bytes received of every file, and of all of them once each answered (undefined before). */
  readonly received: number;
  readonly total?: number;
  /** The window the models read, in bytes (tokens). */
  readonly context?: number;
  readonly parameters?: number;
  readonly manifestBytes?: number;
  readonly attribution?: string;
  /** performance.measure('lm-demo-load'), once loaded. */
  readonly loadMs?: number;
  /** Rows that failed. */
  readonly problems?: number;
  readonly error?: AppError;
}

/** The LM demo's sweep: the merge's probe losses and gains at each value of λ or density. */
export interface LmSweepData {
  readonly param: SweepParam;
  readonly method: string;
  /** The recipe's settings in words when it was asked (the swept one's value is the slider's then). */
  readonly settings: string;
  /** The tasks (domain ids, then "mixed") each point's per-task values follow. */
  readonly tasks: readonly string[];
  /** Bytes of each task's validation windows scored per point. */
  readonly probeTokens: number;
  readonly points: readonly LmLabSweepPoint[];
}

export interface LmDemoSlice {
  readonly lmDemo: LmDemoInfo;
  /** The split the card scores: validation while the sliders move; test only when asked for. */
  readonly lmSplit: LmSplit;
  readonly lmSweep: ChartData<LmSweepData>;
  /** Fetches public/demo/lm/ (progress in lmDemo) and opens its models in the worker; a newer call supersedes. */
  loadLmDemo(): Promise<void>;
  setLmSplit(split: LmSplit): void;
  /** The LM demo's tasks on `split` (their texts stay out of the state); undefined until it loaded. */
  lmDemoTasks(split: LmSplit): readonly LmLabTask[] | undefined;
  /** Each domain's validation text labelled by its expert (Twin-Merging's router trains on it); undefined until it loaded. */
  lmDemoRouterTexts(): readonly { readonly expert: string; readonly text: string }[] | undefined;
}
