/**
 * The lab store's vocabulary: plain, serialisable descriptions of what is loaded. No tensors and
 * no bytes live in the store (those stay in src/app/demo/assets.ts and, later, the worker).
 */
import type { StateCreator } from 'zustand';

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

/** The merge recipe being edited. Only the method for now; parameters arrive with the lab. */
export interface RecipeSlice {
  readonly method: string;
  setMethod(id: string): void;
}

export type TabId = 'models' | 'methods' | 'about';

export interface UiSlice {
  readonly tab: TabId;
  setTab(tab: TabId): void;
}

export type LabState = ModelsSlice & RecipeSlice & UiSlice;

/** A slice creator over the whole store (zustand's slices pattern). */
export type SliceCreator<T> = StateCreator<LabState, [], [], T>;
