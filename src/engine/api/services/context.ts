/**
 * What the engine's services share: the opened models, the demo's decoded checkpoints once it is
 * loaded, how a backend starts, and a signal when either set of models changes (caches keyed by a
 * model's name must then go: a name may come back as other weights).
 */
import type { BackendChoice, BackendInfo, BackendName } from '../../backend.js';
import type { PoolPlan } from '../../merge/pool.js';
import type { MergePool } from '../../merge/pool-protocol.js';
import { chooseBackend, currentBackend } from '../../backend.js';
import { MergeLabError, combineProblems } from '../../errors.js';
import type { Checkpoint } from '../../io/index.js';
import type { ModelFiles } from '../../output/model-files.js';
import type { Recipe } from '../../recipe/types.js';
import type { ModelSummary } from '../engine-api.js';

/** One opened model; `files`: what was dropped beside the weights (config.json, tokenizer), for the merged model's folder. */
export interface OpenedModel {
  readonly checkpoint: Checkpoint;
  readonly summary: ModelSummary;
  readonly files: ModelFiles;
}

export interface EngineHost {
  /** Starts a backend; defaults to chooseBackend (the host sets wasm paths beforehand). */
  startBackend?(choice: BackendChoice): Promise<BackendInfo>;
  /**
   * Starts `count` merge workers (Web Workers in the page) for `plan` on `backend`, each ready;
   * without it every merge runs on the engine's own thread. `cores`: how many the machine has.
   */
  readonly mergeWorkers?: { readonly cores: number; start(count: number, plan: PoolPlan, backend: BackendName): Promise<MergePool> };
}

export type ModelsChange = 'models' | 'demo';

export interface EngineContext {
  readonly host: EngineHost;
  readonly models: Map<string, OpenedModel>;
  /** The demo's checkpoints by id ('base', the task ids), decoded once; undefined before loadDemo. */
  demoInputs: ReadonlyMap<string, Checkpoint> | undefined;
  setBackend(choice: BackendChoice): Promise<BackendInfo>;
  /** The backend running, or 'auto' started now. */
  ensureBackend(): Promise<BackendInfo>;
  /** Tells every listener that the opened models or the demo changed. */
  changed(what: ModelsChange): void;
  onChange(listener: (what: ModelsChange) => void): void;
}

export function createContext(host: EngineHost): EngineContext {
  const listeners: ((what: ModelsChange) => void)[] = [];
  const setBackend = (choice: BackendChoice) => (host.startBackend ? host.startBackend(choice) : chooseBackend(choice));
  return {
    host,
    models: new Map(),
    demoInputs: undefined,
    setBackend,
    async ensureBackend() {
      return currentBackend() ?? (await setBackend('auto'));
    },
    changed(what) {
      for (const l of listeners) l(what);
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}

/** Every model a recipe names (its models and its base), once each. */
export function recipeModelNames(recipe: Recipe): string[] {
  return [...new Set([...recipe.models.map((m) => m.model), ...(recipe.baseModel ? [recipe.baseModel] : [])])];
}

/**
 * The recipe's models: the demo's by their ids, then opened ones; every missing one at once.
 * `demoOnly` says whether caches kept for the demo (keyed by name) are safe to use.
 */
export function recipeCheckpoints(ctx: EngineContext, recipe: Recipe): { checkpoints: Map<string, Checkpoint>; demoOnly: boolean } {
  const checkpoints = new Map<string, Checkpoint>();
  const missing: MergeLabError[] = [];
  let demoOnly = true;
  for (const name of recipeModelNames(recipe)) {
    // The demo's ids name the demo's files first: the app also opens those files under the same
    // ids (to merge them), and only the demo's decoded copies have caches behind them.
    const fromDemo = ctx.demoInputs?.get(name);
    const opened = fromDemo ? undefined : ctx.models.get(name)?.checkpoint;
    if (opened) demoOnly = false;
    const c = fromDemo ?? opened;
    if (c) checkpoints.set(name, c);
    else {
      const known = [...ctx.models.keys(), ...[...(ctx.demoInputs?.keys() ?? [])].map((k) => `${k} (demo)`)];
      missing.push(new MergeLabError('PATH_NOT_FOUND', `Model "${name}" is neither loaded nor a demo model; load it first or fix its name in the recipe (known: ${known.join(', ') || 'none'}).`));
    }
  }
  if (missing.length) throw combineProblems(missing);
  return { checkpoints, demoOnly };
}
