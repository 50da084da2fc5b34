/**
 * The routed method's score on the demo, as the Merge panel's live score shows a merge's: the
 * normalized score with the router and with oracle routing (the headline is the one the Oracle
 * box picks) on the split scored — validation while sliders move, the held-out test split on
 * request, and labelled so — per task beside its expert, the router's accuracy, the storage
 * against keeping every expert (the router apart, as merge-lab merge counts it) and, when asked,
 * routing on mixed inputs. A control's input → these numbers drawn is measured as 'slider-to-routed'.
 */
import { useShallow } from 'zustand/react/shallow';
import { ErrorLine, useShownMeasure, useSlow } from '../components/fields.js';
import { TaskScores } from '../components/TaskScores.js';
import { formatBytes, formatMs } from '../format.js';
import { useLabStore } from '../store/index.js';
import { SLIDER_TO_ROUTED_MEASURE } from '../store/routed-slice.js';
import type { ChartData } from '../store/types.js';
import type { MixedReport } from '../../engine/methods/twin/mixed.js';

export const ROUTED_SHOWN_MARK = 'routed-shown';

/** What both views have in common, for the table. */
interface Scores {
  readonly tasks: readonly string[];
  readonly expert: readonly number[];
  readonly router: { readonly perTask: readonly number[]; readonly normalized: number };
  readonly oracle: { readonly perTask: readonly number[]; readonly normalized: number };
  readonly oracleHeadline: boolean;
  readonly routingAccuracy: number;
  /** The split scored: validation while sliders move, test on request. */
  readonly split: 'validation' | 'test';
  readonly storage: { readonly ratio: number; readonly bytes: number; readonly expertBytes: number; readonly routerBytes: number };
  readonly setting: string;
  readonly milliseconds: number;
  readonly mixed?: MixedReport;
}

function useScores(): { chart: ChartData<unknown>; scores?: Scores } {
  const { method, twinView, channelView } = useLabStore(useShallow((s) => ({ method: s.method, twinView: s.twinView, channelView: s.channelView })));
  if (method === 'twin_merging') {
    const v = twinView.shown?.data;
    return {
      chart: twinView,
      ...(v
        ? {
            scores: {
              tasks: v.tasks,
              expert: v.expert,
              router: v.router,
              oracle: v.oracle,
              oracleHeadline: v.settings.oracle,
              routingAccuracy: v.routing.accuracy,
              split: v.settings.split,
              storage: { ratio: v.storage.ratio, bytes: v.storage.bytes.total, expertBytes: v.storage.bytes.experts, routerBytes: v.storage.withRouter.bytes - v.storage.bytes.total },
              setting: `${v.settings.energy !== undefined ? `energy ${(100 * v.settings.energy).toFixed(0)}%` : v.settings.rankRatio !== undefined ? `rank_ratio ${v.settings.rankRatio}` : `rank ${v.settings.rank}`}${v.settings.exclude.length ? `, exclude ${v.settings.exclude.join(', ')}` : ''}, λ ${v.settings.lambda.toFixed(2)}, temperature ${v.settings.temperature.toFixed(2)}, top-${v.settings.topK}, ${v.settings.router.architecture} router`,
              ...(v.mixed ? { mixed: v.mixed } : {}),
              milliseconds: v.milliseconds,
            },
          }
        : {}),
    };
  }
  const v = channelView.shown?.data;
  return {
    chart: channelView,
    ...(v
      ? {
          scores: {
            tasks: v.tasks,
            expert: v.expert,
            router: v.routed,
            oracle: v.oracle,
            oracleHeadline: v.settings.oracle,
            routingAccuracy: v.router.routingAccuracy[v.settings.split],
            split: v.settings.split,
            storage: { ratio: v.storage.ratio, bytes: v.storage.packageBytes, expertBytes: v.storage.expertBytes, routerBytes: v.storage.routerBytes },
            setting: `K ${v.settings.K}, ${v.settings.clustering}, ${v.settings.method.id}${Object.entries(v.settings.method.params)
              .map(([k, x]) => ` ${k === 'lambda' ? 'λ' : k} ${x}`)
              .join(',')}`,
            milliseconds: v.milliseconds,
          },
        }
      : {}),
  };
}

export function RoutedScore() {
  const { chart, scores } = useScores();
  const labels = useLabStore((s) => s.tasks);
  const demoStatus = useLabStore((s) => s.engine.demo.status);
  const source = useLabStore((s) => s.source);
  const texts = useLabStore((s) => s.lmTexts.filter((t) => t.status === 'ready').length);
  const shown = chart.shown;
  useShownMeasure(shown, chart.requested, ROUTED_SHOWN_MARK, SLIDER_TO_ROUTED_MEASURE);
  const slow = useSlow(chart.status === 'computing');

  const label = (id: string) => labels.find((t) => t.id === id)?.label ?? id;
  if (source === 'mine') {
    return (
      <div className="live" aria-label="Routed score" role="group" data-live-state="idle" data-texts={texts}>
        <h3>Your checkpoints</h3>
        <p className="help">
          {texts > 0
            ? 'The lab routes and scores per input on its two demos only: it trains no router on the text files you dropped, so there is no score here (the language-model card scores them for the static methods). Build'
            : 'Without data there is no router to train and nothing to score: build'}{' '}
          the package below for the shared part and the per-task parts, and read each tensor&apos;s reconstruction error and the storage in the charts.
        </p>
      </div>
    );
  }
  const headline = scores ? (scores.oracleHeadline ? scores.oracle : scores.router) : undefined;
  return (
    <div className="live" aria-label="Routed score" role="group" data-live-state={chart.status} data-seq={shown?.seq ?? 0}>
      <h3>Score on the demo</h3>
      {!scores && chart.status !== 'error' && <p className="help">{demoStatus === 'error' || demoStatus === 'unavailable' ? 'The demo is not loaded in the engine, so there is no score.' : 'Computing the first score (the router trains once, about a second)…'}</p>}
      {scores && headline && (
        <>
          <p className="score">
            Normalized score{' '}
            <strong data-normalized={headline.normalized} data-routing={scores.oracleHeadline ? 'oracle' : 'router'}>
              {headline.normalized.toFixed(1)}%
            </strong>{' '}
            on the <span data-split={scores.split}>{scores.split === 'test' ? 'held-out test split' : 'validation split'}</span> with {scores.oracleHeadline ? 'oracle routing' : 'the router'} (
            {scores.oracleHeadline ? `router: ${scores.router.normalized.toFixed(1)}%` : `oracle: ${scores.oracle.normalized.toFixed(1)}%`}) · router picks the right task for{' '}
            <span data-routing-accuracy={scores.routingAccuracy}>{(100 * scores.routingAccuracy).toFixed(1)}%</span> of {scores.split === 'test' ? 'test' : 'validation'} inputs
            {scores.split === 'validation' ? ' (three quarters of which it was trained on)' : ''} · storage <span data-storage-ratio={scores.storage.ratio}>{(100 * scores.storage.ratio).toFixed(1)}%</span> of the experts (
            {formatBytes(scores.storage.bytes)} of {formatBytes(scores.storage.expertBytes)}; the router {formatBytes(scores.storage.routerBytes)} apart) · {scores.setting} ·{' '}
            {formatMs(scores.milliseconds)} in the engine
            {slow && <span className="help"> · updating…</span>}
          </p>
          <TaskScores
            tasks={scores.tasks}
            label={label}
            columns={[
              { name: 'router', values: scores.router.perTask },
              { name: 'oracle', values: scores.oracle.perTask },
              { name: 'its expert', values: scores.expert },
            ]}
          />
          {scores.mixed && (
            <p className="help" data-mixed-largest={scores.mixed.meanLargestWeight}>
              Mixed inputs (blends of two tasks' views of a digit): the router's largest weight is {scores.mixed.meanLargestWeight.toFixed(2)} on average; accuracy with soft routing{' '}
              {(100 * scores.mixed.soft).toFixed(1)}%, hard routing {(100 * scores.mixed.hard).toFixed(1)}%, half on each of the two tasks {(100 * scores.mixed.even).toFixed(1)}%, the better expert alone{' '}
              {(100 * scores.mixed.bestExpert).toFixed(1)}%.
            </p>
          )}
        </>
      )}
      {chart.status === 'error' && chart.error && <ErrorLine error={chart.error} />}
    </div>
  );
}
