/**
 * The demo service: the embedded demo loaded once, its live score, sweeps, and the routed methods'
 * labs (Twin-Merging, Channel Merging) with their packages. Its lanes (services/cancel.ts), one
 * per kind of request so none cancels another: the live score (answers kept and worked on ahead:
 * answers-ahead.ts), sweeps, the Twin lab and the Channel lab — each latest-wins.
 */
import { MergeLabError } from '../../errors.js';
import type { Checkpoint } from '../../io/index.js';
import { parseManifest } from '../../demo/manifest.js';
import type { DemoSession } from '../../demo/method-table.js';
import { openDemoSession } from '../../demo/session.js';
import { createLiveSession, memoizedCheckpoint, type LiveSession } from '../../live/live-session.js';
import { createChannelLab, type ChannelLab } from '../../methods/channel/lab.js';
import { loadHardTasks, type HardTasks } from '../../methods/twin/demo.js';
import { createTwinLab, type TwinLab } from '../../methods/twin/lab.js';
import { buildTwinPackage } from '../../methods/twin/package.js';
import { nextTask } from '../../next-task.js';
import { parseRecipe } from '../../recipe/parse.js';
import { recipeText as textOf } from '../../recipe/recipe-text.js';
import { RecentMap } from '../../recent.js';
import { answersAhead, type AnswersAhead } from '../answers-ahead.js';
import type { DemoBlobs, DemoService, DemoSummary, LiveOptions, LiveScore, RoutedPackageRequest, ScoreSplit, SweepOptions, SweepPoint, SweepRequest, TwinLabOptions } from '../engine-api.js';
import { createLanes } from './cancel.js';
import type { EngineContext } from './context.js';

/** How many recent live scores the demo keeps (a slider's range is ~100 positions). */
const RECENT_ANSWERS = 128;

/** The demo's score for one recipe on one split: per-task accuracy (%) and the normalized score. */
interface DemoAnswer {
  readonly perTask: number[];
  readonly normalized: number;
}

/**
 * One loaded demo. `inputs`: its checkpoints decoded once, shared by live merges and diagnostics.
 * `sweeps`: a live session of its own, so a sweep and a slider's score never cancel each other.
 * `scores`: recent scores by split and recipe (answerKey), shared by live scores and sweeps (the demo's models never change).
 * `twin` / `channel`: the routed methods' lab sessions, opened on first use; `hard`: the demo's hard tasks, when given.
 */
interface LoadedDemo {
  readonly session: DemoSession;
  readonly live: LiveSession;
  readonly sweeps: LiveSession;
  readonly inputs: ReadonlyMap<string, Checkpoint>;
  readonly scores: RecentMap<string, DemoAnswer>;
  readonly liveAhead: AnswersAhead<DemoAnswer>;
  readonly hard?: HardTasks;
  twin?: TwinLab;
  channel?: ChannelLab;
}

export function createDemoService(ctx: EngineContext): DemoService {
  const lanes = createLanes({ live: 'request', sweep: 'sweep', twin: 'Twin-Merging request', channel: 'Channel Merging request' });
  let demo: LoadedDemo | undefined;
  const needDemo = () => {
    if (!demo) throw new MergeLabError('DEMO_DATA_INVALID', 'No demo is loaded; call loadDemo first.');
    return demo;
  };
  const twinLab = () => {
    const d = needDemo();
    return (d.twin ??= createTwinLab(d.session, d.hard));
  };
  const channelLab = () => {
    const d = needDemo();
    return (d.channel ??= createChannelLab(d.session));
  };

  return {
    async loadDemo(files: DemoBlobs): Promise<DemoSummary> {
      ctx.changed('demo');
      const bytes = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
      const digitsGz = await bytes(files.digits);
      const session = await openDemoSession({
        manifest: files.manifest,
        read: async (f) => {
          const blob = files.checkpoints[f];
          if (!blob) throw new MergeLabError('DEMO_DATA_INVALID', `The demo file ${f} named in manifest.json was not given.`);
          return bytes(blob);
        },
        digitsGz,
      });
      // Hard mode: the hard tasks of manifest-hard.json, from the same data (their experts given beside).
      const hardFiles = files.hard;
      const hard = hardFiles
        ? await loadHardTasks(
            {
              manifest: hardFiles.manifest,
              read: async (f) => {
                const blob = hardFiles.checkpoints[f] ?? files.checkpoints[f];
                if (!blob) throw new MergeLabError('DEMO_DATA_INVALID', `The demo file ${f} named in manifest-hard.json was not given.`);
                return bytes(blob);
              },
              digitsGz,
            },
            parseManifest(hardFiles.manifest, 'manifest-hard.json'),
          )
        : undefined;
      await ctx.ensureBackend();
      const inputs = new Map([...session.checkpoints].map(([k, c]) => [k, memoizedCheckpoint(c)]));
      const live = createLiveSession(inputs);
      const scores = new RecentMap<string, DemoAnswer>(RECENT_ANSWERS);
      demo = {
        session,
        live,
        sweeps: createLiveSession(inputs),
        inputs,
        scores,
        liveAhead: answersAhead({
          lane: lanes.live,
          kept: scores,
          work: async (key, stale) => {
            const { split, yaml } = fromAnswerKey(key);
            const weights = await live.merge(parseRecipe(yaml, 'recipe'));
            if (stale()) throw lanes.live.superseded();
            return scoreDemo(session, weights, split);
          },
          // Whatever merge still runs is no longer wanted.
          onKept: () => live.supersede(),
        }),
        ...(hard ? { hard } : {}),
      };
      ctx.demoInputs = inputs;
      const expert = (split: ScoreSplit) => session.tasks.map((t) => 100 * session.scorer.expertAccuracies[split][t]!);
      return { tasks: session.tasks, expertAccuracy: { validation: expert('validation'), test: expert('test') }, ...(hard ? { hardTasks: hard.tasks } : {}) };
    },
    async liveDemo(recipe, options: LiveOptions = {}): Promise<LiveScore> {
      const started = Date.now();
      const d = needDemo();
      const split = options.split ?? 'validation';
      const answer = await d.liveAhead.answer(answerKey(split, textOf(recipe)));
      d.liveAhead.ahead((options.then ?? []).map((r) => answerKey(split, textOf(r))));
      return { split, perTask: [...answer.perTask], normalized: answer.normalized, milliseconds: Date.now() - started };
    },
    async sweepDemo(points: readonly SweepRequest[], options: SweepOptions = {}): Promise<SweepPoint[]> {
      const { session, sweeps, scores } = needDemo();
      const split = options.split ?? 'validation';
      const mine = lanes.sweep.ask();
      const out: SweepPoint[] = [];
      // Each point goes through the sweep session: a newer sweep cancels this one at its next
      // tensor, or before its next point.
      for (const p of points) {
        const yaml = textOf(p.recipe);
        const key = answerKey(split, yaml);
        let answer = scores.get(key);
        if (!answer) {
          // A point is a merge and 1,800 forwards: a slider's diagnostics, asked meanwhile, go first.
          await nextTask();
          if (mine.cancelled) throw lanes.sweep.superseded();
          answer = scores.set(key, await scoreDemo(session, await sweeps.merge(parseRecipe(yaml, 'recipe')), split));
        }
        out.push({ value: p.value, perTask: [...answer.perTask], normalized: answer.normalized });
      }
      return out;
    },
    twinLab(settings, options: TwinLabOptions = {}) {
      const lane = lanes.twin;
      const view = lane.latest((cancel) => twinLab().view(settings, cancel));
      const then = options.then ?? [];
      if (then.length > 0) {
        let asked = lane.generation;
        void view.then(async () => {
          // Once the view is on its way (see answers-ahead.ts: guesses started at once held it back).
          await nextTask();
          for (const next of then) {
            // A request came in meanwhile: it is the one that matters now, not a guess.
            if (lane.generation !== asked) return;
            const guess = lane.latest((cancel) => twinLab().view(next, cancel));
            asked = lane.generation;
            await guess.catch(() => undefined);
          }
        }, () => undefined);
      }
      return view;
    },
    channelLab(settings, options) {
      return lanes.channel.latest((cancel) => channelLab().view(settings, cancel, options));
    },
    async routedPackage(request: RoutedPackageRequest) {
      if (request.method === 'twin_merging') return buildTwinPackage(await twinLab().model(request.settings)).files;
      if (request.method === 'channel_merging') return (await channelLab().package(request.settings)).files;
      throw new MergeLabError('UNKNOWN_METHOD', `"${String((request as { method: unknown }).method)}" is not a routed method; use twin_merging or channel_merging.`);
    },
  };
}

/** A kept answer's key: the split, then the recipe's text (a split name holds no newline). */
const answerKey = (split: ScoreSplit, yaml: string) => `${split}\n${yaml}`;
function fromAnswerKey(key: string): { split: ScoreSplit; yaml: string } {
  const at = key.indexOf('\n');
  return { split: key.slice(0, at) as ScoreSplit, yaml: key.slice(at + 1) };
}

/** Merged weights scored on one split of the demo, as live scores and sweeps report them. */
async function scoreDemo(session: DemoSession, weights: Record<string, Float32Array>, split: ScoreSplit): Promise<DemoAnswer> {
  const score = await session.scorer.score(weights, split);
  return { perTask: session.tasks.map((t) => 100 * score.accuracies[t]!), normalized: score.normalized };
}
