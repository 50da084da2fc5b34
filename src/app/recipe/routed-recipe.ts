/**
 * The routed methods' settings, from the store: what the worker's twinLab / channelLab /
 * routedPackage take, and the recipe a user downloads (`merge_method: twin_merging` or
 * `channel_merging`, the inner method named by `shared_method` / `group_method` in the top-level
 * parameters, as the recipe reader and the command line take them).
 */
import { MergeLabError } from '../../engine/errors.js';
import type { ChannelLabSettings, TwinLabSettings } from '../../engine/api/engine-api.js';
import type { Recipe } from '../../engine/recipe/types.js';
import { ROUTER_DEFAULTS } from '../../engine/router/types.js';
import { recipeTasks } from '../store/engine-slice.js';
import type { ChannelControls, LabState, TwinControls } from '../store/types.js';
import { DEMO_BASE_ID } from './demo-recipe.js';

/** The routed tasks: the scored ones, plus the hard ones in hard mode once the worker has them. */
export function twinTasks(s: LabState): readonly string[] {
  return [...recipeTasks(s), ...(s.twin.hard ? (s.engine.demo.hardTasks ?? []) : [])];
}

export function twinSettings(c: TwinControls): TwinLabSettings {
  return {
    lambda: c.lambda,
    shared: c.sharedMethod === 'ties' ? { id: 'ties', density: c.sharedDensity } : { id: 'task_arithmetic' },
    ...(c.useEnergy ? { energy: c.energy } : c.useRatio ? { rankRatio: c.rankRatio } : { rank: c.rank }),
    ...(c.exclude.length ? { exclude: c.exclude } : {}),
    temperature: c.temperature,
    ...(c.topK !== undefined ? { topK: c.topK } : {}),
    oracle: c.oracle,
    hard: c.hard,
    router: { architecture: c.router },
    split: c.testScore ? 'test' : 'validation',
    ...(c.mixed ? { mixed: true } : {}),
  };
}

/** The within-group method with only the parameters it reads. */
export function groupMethodSpec(c: ChannelControls): NonNullable<ChannelLabSettings['method']> {
  if (c.groupMethod === 'ties') return { id: 'ties', params: { density: c.density, lambda: c.lambda } };
  if (c.groupMethod === 'task_arithmetic') return { id: 'task_arithmetic', params: { lambda: c.lambda } };
  return { id: 'average' };
}

export function channelSettings(c: ChannelControls): ChannelLabSettings {
  // The small router, as Twin-Merging's lab starts with: the engine's default (the paper's) trains for
  // about a minute on wasm before the first score could be drawn.
  return { K: c.K, method: groupMethodSpec(c), oracle: c.oracle, clustering: c.clustering, split: c.testScore ? 'test' : 'validation', router: { architecture: 'small' }, ...(c.tensor ? { tensor: c.tensor } : {}) };
}

/** mergekit's layout: the method-choosing names (shared_method, group_method, clustering) in `options`, exclude in `listOptions`, written into the top-level parameters. */
function routedOf(method: string, base: string, experts: readonly string[], option: Record<string, string>, parameters: Record<string, number>, lists: Record<string, readonly string[]> = {}): Recipe {
  return { mergeMethod: method, baseModel: base, models: experts.map((model) => ({ model })), options: option, parameters, ...(Object.keys(lists).length ? { listOptions: lists } : {}) };
}

/** The base and experts the recipe names: the demo's ids, or the user's checkpoints by role. */
function recipeModels(s: LabState): { base: string; experts: readonly string[] } {
  if (s.source !== 'mine') return { base: DEMO_BASE_ID, experts: s.method === 'twin_merging' ? twinTasks(s) : recipeTasks(s) };
  const ready = s.dropped.filter((m) => m.status === 'ready');
  const base = ready.find((m) => m.role === 'base');
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', 'Routed methods need a base model: choose "base" as the role of one of your checkpoints.');
  const experts = ready.filter((m) => m.role === 'expert').map((m) => m.id);
  if (experts.length < 2) throw new MergeLabError('TOO_FEW_MODELS', 'Routed methods need at least two experts: choose "expert" as the role of two or more of your checkpoints.');
  return { base: base.id, experts };
}

/** The routed method's recipe (demo models or the user's checkpoints). */
export function routedRecipe(s: LabState): Recipe {
  const { base, experts } = recipeModels(s);
  if (s.method === 'twin_merging') {
    const c = s.twin;
    const tasks = experts;
    const r = ROUTER_DEFAULTS[c.router];
    // The router's options only where there is data to train it on (the demo); the paper's hidden width is twice the features.
    const routing: Record<string, number> =
      s.source === 'mine' ? {} : { ...(typeof r.hidden === 'number' ? { hidden: r.hidden } : {}), epochs: r.epochs, learningRate: r.learningRate, temperature: c.temperature, topK: c.topK ?? tasks.length, seed: r.seed };
    return routedOf(
      'twin_merging',
      base,
      tasks,
      { shared_method: c.sharedMethod },
      {
        ...(c.sharedMethod === 'ties' ? { density: c.sharedDensity } : {}),
        lambda: c.lambda,
        ...(c.useEnergy ? { energy: c.energy } : c.useRatio ? { rank_ratio: c.rankRatio } : { rank: c.rank }),
        ...routing,
      },
      c.exclude.length ? { exclude: c.exclude } : {},
    );
  }
  const c = s.channel;
  const spec = groupMethodSpec(c);
  return routedOf('channel_merging', base, experts, { group_method: spec.id, clustering: c.clustering }, { groups: Math.min(c.K, experts.length), ...(spec.params as Record<string, number> | undefined) });
}
