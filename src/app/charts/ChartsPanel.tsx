/**
 * The charts that follow the sliders, side by side so a move shows everywhere at once. A slider
 * input → both the score and the sign-conflict data for it on screen is measured as
 * 'slider-to-charts' (performance marks; the e2e run reports its percentiles).
 */
import { useLayoutEffect, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { DIAGNOSTICS_SHOWN_MARK, SLIDER_TO_CHARTS_MEASURE } from '../store/charts-slice.js';
import { useLabStore } from '../store/index.js';
import { useHidden } from '../presentation.js';
import { AccuracyChart } from './AccuracyChart.js';
import { CosineChart } from './CosineChart.js';
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

export function ChartsPanel() {
  const source = useLabStore((s) => s.source);
  const method = useLabStore((s) => s.method);
  const hide = useHidden();
  const demo = source === 'demo';
  const twin = method === 'twin_merging';
  const channel = method === 'channel_merging';
  const routed = twin || channel;
  return (
    <section className="charts-panel" aria-labelledby="charts-heading">
      <h2 id="charts-heading">What the merge does</h2>
      <SliderToChartsMeasure />
      <div className="charts">
        {demo && !routed && !hide('accuracy') && <AccuracyChart />}
        {demo && !routed && !hide('sweep') && <SweepChart />}
        {demo && twin && !hide('storage') && <TwinRankChart />}
        {demo && twin && !hide('routing') && <RoutingChart />}
        {demo && channel && !hide('storage') && <ChannelKChart />}
        {demo && channel && !hide('assignment') && <AssignmentChart />}
        {!demo && routed && !hide('storage') && <PackageReportChart />}
        {!demo && channel && !hide('assignment') && <PackageAssignmentChart />}
        {!hide('conflicts') && <SignConflictChart />}
        {!hide('cosines') && <CosineChart />}
        {!hide('spectrum') && !channel && <SpectrumChart />}
      </div>
    </section>
  );
}
