/**
 * Channel Merging in the language-model lab (lm-lab.ts asks here when a request carries `channel`):
 * the experts' rows grouped per channel (methods/channel's modelBuilder, kept per grouping: task
 * vectors and clusterings once), the K groups merged with the within-group method, and every window
 * scored with one task's looked-up rows (routed/lm-channel.ts' scoreLookups): the task of the
 * router's largest weight, or with `oracle` the window's own expert. The router reads the BASE's
 * mean final hidden state over a window (as routed/lm-channel.ts on the demo table: the base is what
 * every K and method share) and is trained once per training texts, on windows of each expert's
 * text with every 4th held out; what it reads of the scored windows is kept too. A probe's pieces are its windows' first predictions, routed as their
 * whole windows are, so a probe is still a prefix of the full answer.
 */
import { MergeLabError } from '../../errors.js';
import type { Checkpoint } from '../../io/types.js';
import { openLanguageModel } from '../../lm/model.js';
import type { ScoreResult } from '../../lm/score.js';
import type { LmTokenizer } from '../../lm/tokenizer.js';
import type { ChannelModel } from '../../methods/channel/channel-merge.js';
import { checkGroupCount } from '../../methods/channel/cluster.js';
import { modelBuilder, type ModelBuilder } from '../../methods/channel/demo.js';
import { resolveGroupMethod } from '../../methods/channel/group-method.js';
import { checkpointSource } from '../../methods/channel/source.js';
import { scoreLookups } from '../../routed/lm-channel.js';
import { contextWindows, windowFeatures } from '../../routed/lm-twin.js';
import { argmaxTasks, routerLogits, routingWeights } from '../../router/route.js';
import { trainRouterOnSplit } from '../../router/train.js';
import type { TrainedRouter } from '../../router/types.js';
import type { LmLabChannel } from '../lm-lab-channel-api.js';
import type { LmLabRouting } from '../lm-lab-twin-api.js';
import { LM_TWIN_TRAINING_WINDOWS, contextWindowsPick, routerSummary, taskScores, windowsKey, type LmTwinInputs } from './lm-lab-twin.js';

/** What is kept between requests: the grouping's builder, the last channel model, the router, the scored windows' features. */
export interface LmChannelCache {
  builder?: { readonly key: string; readonly value: Promise<ModelBuilder> };
  model?: { readonly key: string; readonly value: ChannelModel };
  router?: { readonly key: string; readonly trained: TrainedRouter };
  /** What the router reads of the scored windows through the base: the same for a K or method move, and for the full answer after its probe. */
  features?: { readonly key: string; readonly value: Float32Array };
}

/** Twin-Merging's inputs less its shared expert, with the tokenizer, the base and Channel Merging's settings. */
export interface LmChannelInputs extends Omit<LmTwinInputs, 'cache' | 'sharedKey' | 'shared' | 'twin'> {
  readonly tokenizer: LmTokenizer;
  readonly cache: LmChannelCache;
  readonly base: string;
  /** The base and every expert, by id. */
  readonly checkpoints: ReadonlyMap<string, Checkpoint>;
  readonly channel: LmLabChannel;
}

const cancelled = () => new MergeLabError('CANCELLED', 'The language-model evaluation was cancelled.');

/** Scores every task's pieces with the looked-up rows of each window's task; answers each task's summed score and the routing. */
export async function scoreChannelTasks(o: LmChannelInputs): Promise<{ scores: ScoreResult[]; routing: Omit<LmLabRouting, 'tasks'> & { readonly weights: (readonly (readonly number[])[])[] } }> {
  const { config, cache, channel, experts } = o;
  const T = experts.length;
  checkGroupCount(channel.K, T, 'Channel Merging in the language-model lab');
  const perExpert = channel.windowsPerExpert ?? LM_TWIN_TRAINING_WINDOWS;
  if (!Number.isInteger(perExpert) || perExpert < 1) throw new MergeLabError('PARAMETER_OUT_OF_RANGE', `windowsPerExpert must be a whole number ≥ 1 (got ${perExpert}).`);
  const problems = experts.filter((e) => !channel.training.some((t) => t.expert === e)).map((e) => `"${e}"`);
  if (problems.length) throw new MergeLabError('PARAMETER_INVALID', `Channel Merging's router needs a training text for every expert; none names ${problems.join(', ')}.`);

  const builderKey = JSON.stringify([o.base, experts, channel.clustering]);
  if (cache.builder?.key !== builderKey) {
    cache.model = undefined;
    cache.builder = { key: builderKey, value: modelBuilder(checkpointSource(o.checkpoints, o.base, experts), { clustering: channel.clustering }) };
  }
  const builder = await cache.builder.value;
  if (o.cancel.cancelled) throw cancelled();
  const modelKey = JSON.stringify([builderKey, channel.method, channel.K]);
  if (cache.model?.key !== modelKey) cache.model = { key: modelKey, value: await builder.build(resolveGroupMethod(channel.method), 'raw', channel.K) };
  const model = cache.model.value;
  if (o.cancel.cancelled) throw cancelled();

  const windows = o.tasks.flatMap((t) => t.windows.map((w) => w.slice(0, o.score.context + 1)));
  const routerKey = [o.base, JSON.stringify(channel.router ?? {}), perExpert, o.score.context, ...experts, ...channel.training.map((t) => `${t.expert}\u0001${t.text}`)].join('\u0000');
  const featuresKey = [o.base, o.score.context, windowsKey(windows)].join('\u0000');
  let features = cache.features?.key === featuresKey ? cache.features.value : undefined;
  // The base's forward passes only when the router or the windows' features are not kept.
  if (cache.router?.key !== routerKey || !features) {
    const baseLm = await openLanguageModel({ label: o.base, config, tokenizer: o.tokenizer }, o.checkpoints.get(o.base)!, { cancel: o.cancel });
    try {
      if (cache.router?.key !== routerKey) {
        const training = experts.map((e) => contextWindowsPick(channel.training.filter((t) => t.expert === e).flatMap((t) => contextWindows(o.encode(t.text), o.score.context)), perExpert));
        const train = await windowFeatures(config, baseLm.weights, training.flat(), { cancel: o.cancel });
        const labels = Int32Array.from(training.flatMap((w, e) => w.map(() => e)));
        const trained = await trainRouterOnSplit({ features: train, featureSize: config.hiddenSize, labels, tasks: T }, { architecture: channel.router?.architecture ?? 'small', seed: channel.router?.seed ?? 0 });
        cache.router = { key: routerKey, trained };
      }
      if (!features) {
        features = await windowFeatures(config, baseLm.weights, windows, { cancel: o.cancel });
        cache.features = { key: featuresKey, value: features };
      }
    } finally {
      baseLm.dispose();
    }
  }
  if (o.cancel.cancelled) throw cancelled();
  const trained = cache.router!.trained;
  const routed = routingWeights(await routerLogits(trained.router, features, windows.length), T, {});
  const chosen = argmaxTasks(routed, T);
  // Per task, each window's weights and the task it looks up (oracle: its own expert, when it has one).
  let at = 0;
  const weights: (readonly (readonly number[])[])[] = [];
  const lookups: number[][] = [];
  for (const t of o.tasks) {
    const w: number[][] = [];
    const l: number[] = [];
    for (let i = 0; i < t.windows.length; i++, at++) {
      w.push(Array.from(routed.subarray(at * T, (at + 1) * T)));
      l.push(channel.oracle && t.expert !== undefined ? t.expert : chosen[at]!);
    }
    weights.push(w);
    lookups.push(l);
  }
  const pieces = o.tasks.flatMap((t) => t.pieces);
  const pieceTasks = o.tasks.flatMap((t, i) => t.pieces.map((_, j) => lookups[i]![j]!));
  const [scored] = await scoreLookups(config, model, [{ windows: pieces, task: pieceTasks }], o.score);
  return { scores: taskScores(o.tasks, scored!), routing: { experts: [...experts], weights, router: routerSummary(trained) } };
}
