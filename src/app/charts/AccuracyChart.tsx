/**
 * Chart (e): the current merge against the experts on the demo, task by task (validation split, or test on request),
 * with the normalized score in the caption. Follows every slider move (the live score).
 */
import { useMemo } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, YAxis, type TooltipContentProps } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { findMethod } from '../../engine/methods/catalog.js';
import { useLabStore } from '../store/index.js';
import type { LabState } from '../store/types.js';
import { PERCENT_DOMAIN, TOOLTIP_INK, percentFormatter } from './chart-props.js';
import { useChartText } from './chart-text.js';
import { CategoryXAxis, slantedAxisHeight } from './category-axis.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { pct, useModelLabel } from './labels.js';
import { FULL, LiveBar, LiveTooltip } from './live-bars.js';
import { plotBox } from './plot-box.js';

/** The recipe an answer is for, in words: the method and every setting of the recipe it scored (the live score's words too). */
function settingsOf(a: { method: string; settings: string }): string {
  return `${findMethod(a.method)?.label ?? a.method}: ${a.settings}`;
}

/** The merged model's accuracy per task, the bars that follow the sliders. */
const merged = (s: LabState) => s.live.shown?.perTask;
const MERGED_BAR = <LiveBar values={merged} />;
const tooltip = (p: TooltipContentProps) => <LiveTooltip {...p} series={{ merged }} />;
const LEGEND = ['merged', 'its expert'];

export function AccuracyChart() {
  const { live, tasks, expert } = useLabStore(useShallow((s) => ({ live: s.live, tasks: s.engine.demo.tasks, expert: s.engine.demo.expertAccuracy })));
  const label = useModelLabel();
  const t = useChartText();
  const shown = live.shown;
  // The bars' layout: tasks and experts only (the merged bars read the live score themselves).
  const split = shown?.split ?? 'validation';
  const splitName = split === 'test' ? 'held-out test' : 'validation';
  const layout = useMemo(() => (tasks ? tasks.map((t, i) => ({ index: i, task: label(t), merged: FULL, expert: expert?.[split][i] ?? 0 })) : []), [tasks, expert, split, label]);
  const rows = shown ? layout.map((r, i) => ({ task: r.task, merged: shown.perTask[i] ?? 0, expert: r.expert })) : [];
  return (
    <ChartFrame
      id="accuracy"
      title="Accuracy per task"
      status={live.status}
      error={live.error}
      seq={shown?.seq}
      empty="The demo's accuracy appears once the demo is loaded in the engine."
      caption={
        shown ? (
          <>
            Accuracy of the merged model on each demo task&apos;s <span data-split={split}>{splitName} split</span>, beside the expert fine-tuned for it (the box under
            the live score switches to the held-out test split). Normalized score{' '}
            <strong data-normalized={shown.normalized}>{pct(shown.normalized)}</strong> (mean of merged ÷ expert), for{' '}
            <span data-answer-for={shown.method}>{settingsOf(shown)}</span>.
          </>
        ) : (
          "Accuracy of the merged model on each demo task's validation split (test on request), beside the expert fine-tuned for it."
        )
      }
      csv={{ header: ['task', 'split', 'merged_percent', 'expert_percent'], rows: rows.map((r) => [r.task, split, r.merged, r.expert]) }}
    >
      {rows.length > 0 && (
        <Drawn
          deps={[layout, t]}
          draw={() => (
        <BarChart responsive style={plotBox(t, 1.5, { legend: LEGEND, xHeight: slantedAxisHeight(t, layout.map((r) => r.task)) })} data={layout} margin={t.margin}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <CategoryXAxis dataKey="task" names={layout.map((r) => r.task)} t={t} title="demo task" />
          <YAxis unit="%" domain={PERCENT_DOMAIN} tick={t.tick} width={t.yWidth} label={t.yTitle(`${split} accuracy (%)`)} />
          <Tooltip content={tooltip} formatter={percentFormatter} itemStyle={TOOLTIP_INK} />
          <Legend verticalAlign="top" wrapperStyle={t.legend} />
          <Bar dataKey="merged" name="merged" fill="#0072B2" isAnimationActive={false} shape={MERGED_BAR} />
          <Bar dataKey="expert" name="its expert" fill="#c9d1dc" isAnimationActive={false} />
        </BarChart>
          )}
        />
      )}
    </ChartFrame>
  );
}
