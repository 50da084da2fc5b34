/**
 * The charts that follow the sliders, side by side so a move shows everywhere at once. A slider
 * input → both the score and the sign-conflict data for it on screen is measured as
 * 'slider-to-charts' (performance marks; the e2e run reports its percentiles).
 */
import { useLayoutEffect, useRef, type ReactElement } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { DIAGNOSTICS_SHOWN_MARK, SLIDER_TO_CHARTS_MEASURE } from '../store/charts-slice.js';
import { useLabStore } from '../store/index.js';
import { useHidden } from '../presentation.js';
import { withRolesHint } from '../models/roles-hint.js';
import { PresetStory } from '../components/Presets.js';
import { AccuracyChart } from './AccuracyChart.js';
import { CosineChart } from './CosineChart.js';
import { LayerMapChart } from './LayerMapChart.js';
import { LmEvalChart } from './LmEvalChart.js';
import { LmRoutingChart } from './LmRoutingChart.js';
import { LmSweepChart } from './LmSweepChart.js';
import { SignConflictChart } from './SignConflictChart.js';
import { SpectrumChart } from './SpectrumChart.js';
import { SweepChart } from './SweepChart.js';
import { AssignmentChart, PackageAssignmentChart } from './routed/AssignmentChart.js';
import { ChannelKChart } from './routed/ChannelKChart.js';
import { PackageReportChart } from './routed/PackageReportChart.js';
import { RoutingChart } from './routed/RoutingChart.js';
import { TwinRankChart } from './routed/TwinRankChart.js';

/**
 * Closes the 'slider-to-charts' measure once the latest input's score and diagnostics are both
 * drawn. A component of its own that draws nothing: it re-renders on every answer, the panel and
 * its charts do not (each chart follows only its own data).
 */
function SliderToChartsMeasure() {
  useSliderToCharts();
  return null;
}

function useSliderToCharts() {
  const { live, diag } = useLabStore(useShallow((s) => ({ live: s.live, diag: s.diagnostics })));
  const measured = useRef<number | undefined>(undefined);
  useLayoutEffect(() => {
    const a = live.shown;
    const b = diag.shown;
    if (!a || !b || a.inputAt === undefined || a.inputAt !== b.inputAt || measured.current === a.inputAt) return;
    if (a.seq !== live.requested || b.seq !== diag.requested) return;
    measured.current = a.inputAt;
    const end = performance.mark(DIAGNOSTICS_SHOWN_MARK).startTime;
    performance.measure(SLIDER_TO_CHARTS_MEASURE, { start: a.inputAt, end });
  }, [live, diag]);
}

/** A failed request's error, keyed by its cause, with the titles of the charts it stops. */
interface ChartError {
  readonly code: string;
  readonly message: string;
  readonly charts: string[];
}

/**
 * Each distinct error of the charts on screen, once: a recipe the demo cannot merge fails the
 * score, the sweep, the diagnostics and the spectrum alike, and one message says so, naming them.
 */
function ChartErrors({ shown }: { shown: readonly (readonly [title: string, slice: ErrorSlice])[] }) {
  const errors = useLabStore(
    useShallow((s) => shown.map(([, slice]) => {
      const d = s[slice];
      return d.status === 'error' ? d.error : undefined;
    })),
  );
  const source = useLabStore((s) => s.source);
  const distinct = new Map<string, ChartError>();
  errors.forEach((raw, i) => {
    if (!raw) return;
    const e = withRolesHint(raw, source);
    const key = `${e.code}\u0000${e.message}`;
    const entry = distinct.get(key) ?? { code: e.code, message: e.message, charts: [] };
    entry.charts.push(shown[i]![0]);
    distinct.set(key, entry);
  });
  if (distinct.size === 0) return null;
  return (
    <div className="chart-errors">
      {[...distinct.values()].map((e) => (
        <p key={`${e.code}${e.message}`} className="status error" role="alert" data-error-code={e.code}>
          <strong>{e.code}</strong> {e.message} <span className="help">(not drawn: {e.charts.join(', ')})</span>
        </p>
      ))}
    </div>
  );
}

/**
 * The chart each lesson is about: drawn first, and across the whole panel in presentation mode
 * (the one the room looks at while the lecturer moves its slider).
 */
const LESSON_CHART: Readonly<Record<string, string>> = {
  'ta-vs-ties': 'sweep',
  signs: 'sign-conflicts',
  rank: 'svd-spectrum',
  twin: 'twin-rank',
  channels: 'channel-k',
};

/**
 * The lesson's chart, kept after the lesson's note closes: following a lesson's steps changes the
 * settings it set, which closes the note, and the chart the lesson is about should stay where it was.
 */
function useLessonChart(): string | undefined {
  const preset = useLabStore((s) => s.preset);
  const kept = useRef<string | undefined>(undefined);
  if (preset && LESSON_CHART[preset]) kept.current = LESSON_CHART[preset];
  return kept.current;
}

/** Charts that take a whole row of the panel: the per-layer map's grid needs the width to be read. */
const WIDE = new Set(['layer-map', 'lm-eval']);

/** The store slices whose failures the charts show. */
type ErrorSlice = 'live' | 'sweep' | 'diagnostics' | 'spectrum' | 'layerRanks' | 'twinView' | 'channelView' | 'routedPackage' | 'lmEval' | 'lmSweep';

export function ChartsPanel() {
  const source = useLabStore((s) => s.source);
  const method = useLabStore((s) => s.method);
  const hide = useHidden();
  const lesson = useLessonChart();
  const present = useLabStore((s) => s.present);
  // Llama- or GPT-2-shaped checkpoints: their diagnostics carry a per-layer map.
  const layered = useLabStore((s) => s.diagnostics.shown?.data.layerMap !== undefined);
  // One's own checkpoints whose base is a language model the engine scores: what the merge does to text.
  const lmReady = useLabStore((s) => s.source === 'mine' && s.lmModel.status === 'ready');
  // The LM demo, once its models are open in the worker: the same card, on its domains.
  const lmDemo = useLabStore((s) => s.source === 'lm' && s.lmDemo.status === 'loaded');
  // "My checkpoints" chosen before any is dropped: nothing to describe yet, and no error about a base that no model could be.
  const noModels = useLabStore((s) => s.source === 'mine' && s.dropped.length === 0);
  if (noModels) {
    return (
      <section className="charts-panel" aria-labelledby="charts-heading">
        <h2 id="charts-heading">What the merge does</h2>
        <p className="help" data-no-models="">
          No checkpoints yet: drop them on the drop zone, or choose files or a folder there, and the charts describe their task vectors.
        </p>
      </section>
    );
  }
  const demo = source === 'demo';
  const mine = source === 'mine';
  const twin = method === 'twin_merging';
  const channel = method === 'channel_merging';
  const routed = twin || channel;
  // Routed methods keep several models: there is no one merged model to score.
  // The routed methods on the LM demo score each window with its routed merge (Twin-Merging) or its routed
  // task's looked-up rows (Channel Merging): the same card, and their routing.
  const lmRouted = lmDemo && routed;
  const lm = (lmReady || lmDemo) && (!routed || lmRouted) && !hide('lm');
  const lmSweep = lmDemo && !routed && !hide('sweep');
  // The charts drawn below, in order, with the slice each answers from (titles as their frames give them).
  const shown: (readonly [string, ErrorSlice])[] = [];
  if (demo && !routed && !hide('accuracy')) shown.push(['Accuracy per task', 'live']);
  if (demo && !routed && !hide('sweep')) shown.push(['sweep', 'sweep']);
  if (demo && twin && (!hide('storage') || !hide('routing'))) shown.push(['Twin-Merging', 'twinView']);
  if (demo && channel && (!hide('storage') || !hide('assignment'))) shown.push(['Channel Merging', 'channelView']);
  if (lm) shown.push(['Language-model evaluation', 'lmEval']);
  if (lmSweep) shown.push(['sweep', 'lmSweep']);
  if (mine && routed && !hide('storage')) shown.push(['package report', 'routedPackage']);
  if (!hide('conflicts') || !hide('cosines')) shown.push(['sign conflicts and cosines', 'diagnostics']);
  if (!hide('spectrum') && !channel) shown.push(['SVD spectrum', 'spectrum']);
  if (layered && !hide('layers')) shown.push(['per-layer map', 'layerRanks']);
  // The charts drawn, by id, in order: the lesson's chart first.
  const drawn: [string, ReactElement][] = [];
  if (demo && !routed && !hide('accuracy')) drawn.push(['accuracy', <AccuracyChart />]);
  if (demo && !routed && !hide('sweep')) drawn.push(['sweep', <SweepChart />]);
  if (demo && twin && !hide('storage')) drawn.push(['twin-rank', <TwinRankChart />]);
  if (demo && twin && !hide('routing')) drawn.push(['routing', <RoutingChart />]);
  if (demo && channel && !hide('storage')) drawn.push(['channel-k', <ChannelKChart />]);
  if (demo && channel && !hide('assignment')) drawn.push(['channel-assignment', <AssignmentChart />]);
  if (lm) drawn.push(['lm-eval', <LmEvalChart />]);
  if (lm && lmRouted && !hide('routing')) drawn.push(['lm-routing', <LmRoutingChart />]);
  if (lmSweep) drawn.push(['lm-sweep', <LmSweepChart />]);
  if (mine && routed && !hide('storage')) drawn.push(['package-report', <PackageReportChart />]);
  if (mine && channel && !hide('assignment')) drawn.push(['package-assignment', <PackageAssignmentChart />]);
  if (!hide('conflicts')) drawn.push(['sign-conflicts', <SignConflictChart />]);
  if (layered && !hide('layers')) drawn.push(['layer-map', <LayerMapChart />]);
  if (!hide('cosines')) drawn.push(['task-cosines', <CosineChart />]);
  if (!hide('spectrum') && !channel) drawn.push(['svd-spectrum', <SpectrumChart />]);
  const main = drawn.some(([id]) => id === lesson) ? lesson : undefined;
  const charts = main ? [...drawn.filter(([id]) => id === main), ...drawn.filter(([id]) => id !== main)] : drawn;
  return (
    <section className="charts-panel" aria-labelledby="charts-heading">
      <h2 id="charts-heading">What the merge does</h2>
      <SliderToChartsMeasure />
      <ChartErrors shown={shown} />
      {/* The lesson's note above the charts; in presentation mode under the lesson's chart, which comes first. */}
      {!present && <PresetStory />}
      {charts.length === 0 && (
        <>
          {present && <PresetStory />}
          <p className="help" data-no-charts="">
            The link leaves out every chart here (its <code>*_hide</code> flags); open the lab without them to see what the merge does.
          </p>
        </>
      )}
      <div className="charts">
        {charts.map(([id, chart], i) => [
          <div key={id} className={`chart-slot${id === main ? ' main' : ''}${WIDE.has(id) ? ' wide' : ''}`} data-main={id === main ? '' : undefined}>
            {chart}
          </div>,
          present && i === 0 && <PresetStory key="story" />,
        ])}
      </div>
    </section>
  );
}
