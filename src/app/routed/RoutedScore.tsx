/**
 * The routed method's score on the demo, as the Merge panel's live score shows a merge's: the
 * normalized score with the router and with oracle routing (the headline is the one the Oracle
 * box picks), per task beside its expert, the router's accuracy and the storage against keeping
 * every expert. A control's input → these numbers drawn is measured as 'slider-to-routed'.
 */
import { useShallow } from 'zustand/react/shallow';
import { ErrorLine, useShownMeasure, useSlow } from '../components/fields.js';
import { TaskScores } from '../components/TaskScores.js';
import { formatBytes, formatMs } from '../format.js';
import { useLabStore } from '../store/index.js';
import { SLIDER_TO_ROUTED_MEASURE } from '../store/routed-slice.js';
import type { ChartData } from '../store/types.js';

export const ROUTED_SHOWN_MARK = 'routed-shown';

/** What both views have in common, for the table. */
interface Scores {
  readonly tasks: readonly string[];
  readonly expert: readonly number[];
  readonly router: { readonly perTask: readonly number[]; readonly normalized: number };
  readonly oracle: { readonly perTask: readonly number[]; readonly normalized: number };
  readonly oracleHeadline: boolean;
  readonly routingAccuracy: number;
  readonly storage: { readonly ratio: number; readonly bytes: number; readonly expertBytes: number };
  readonly setting: string;
  readonly milliseconds: number;
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
              storage: { ratio: v.storage.ratio, bytes: v.storage.bytes.total, expertBytes: v.storage.bytes.experts },
              setting: `${v.settings.energy !== undefined ? `energy ${(100 * v.settings.energy).toFixed(0)}%` : `rank ${v.settings.rank}`}, λ ${v.settings.lambda.toFixed(2)}, temperature ${v.settings.temperature.toFixed(2)}, top-${v.settings.topK}`,
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
            routingAccuracy: v.router.routingAccuracy.test,
            storage: { ratio: v.storage.ratio, bytes: v.storage.packageBytes, expertBytes: v.storage.expertBytes },
            setting: `K ${v.settings.K}, ${v.settings.method.id}${Object.entries(v.settings.method.params)
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
  const shown = chart.shown;
  useShownMeasure(shown, chart.requested, ROUTED_SHOWN_MARK, SLIDER_TO_ROUTED_MEASURE);
  const slow = useSlow(chart.status === 'computing');

  const label = (id: string) => labels.find((t) => t.id === id)?.label ?? id;
  if (source === 'mine') {
    return (
      <div className="live" aria-label="Routed score" role="group" data-live-state="idle">
        <h3>Your checkpoints</h3>
        <p className="help">
          Without data there is no router to train and nothing to score: build the package below for the shared part and the per-task parts, and read each tensor's reconstruction
          error and the storage in the charts.
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
            with {scores.oracleHeadline ? 'oracle routing' : 'the router'} ({scores.oracleHeadline ? `router: ${scores.router.normalized.toFixed(1)}%` : `oracle: ${scores.oracle.normalized.toFixed(1)}%`}) · router
            picks the right task for <span data-routing-accuracy={scores.routingAccuracy}>{(100 * scores.routingAccuracy).toFixed(1)}%</span> of test inputs · storage{' '}
            <span data-storage-ratio={scores.storage.ratio}>{(100 * scores.storage.ratio).toFixed(1)}%</span> of the experts ({formatBytes(scores.storage.bytes)} of {formatBytes(scores.storage.expertBytes)}) · {scores.setting} ·{' '}
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
        </>
      )}
      {chart.status === 'error' && chart.error && <ErrorLine error={chart.error} />}
    </div>
  );
}
