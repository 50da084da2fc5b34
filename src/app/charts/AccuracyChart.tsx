/**
 * Chart (e), left: the current merge against the experts on the demo, task by task (test split),
 * with the normalized score in the caption. Follows every slider move (the live score).
 */
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { useLabStore } from '../store/index.js';
import { LEGEND_STYLE, MARGIN, PERCENT_DOMAIN, TICK_10, TICK_11, percentFormatter } from './chart-props.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { pct, useModelLabel } from './labels.js';

export function AccuracyChart() {
  const { live, tasks, expert } = useLabStore(useShallow((s) => ({ live: s.live, tasks: s.engine.demo.tasks, expert: s.engine.demo.expertAccuracy })));
  const label = useModelLabel();
  const shown = live.shown;
  const rows = shown && tasks ? tasks.map((t, i) => ({ task: label(t), merged: shown.perTask[i] ?? 0, expert: expert?.[i] ?? 0 })) : [];
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
            Test accuracy of the merged model on each demo task, beside the expert fine-tuned for it. Normalized score{' '}
            <strong data-normalized={shown.normalized}>{pct(shown.normalized)}</strong> (mean of merged ÷ expert).
          </>
        ) : (
          'Test accuracy of the merged model on each demo task, beside the expert fine-tuned for it.'
        )
      }
      csv={{ header: ['task', 'merged_percent', 'expert_percent'], rows: rows.map((r) => [r.task, r.merged, r.expert]) }}
    >
      {rows.length > 0 && (
        <Drawn
          deps={[shown, tasks, expert, label]}
          draw={() => (
        <BarChart width={340} height={220} data={rows} margin={MARGIN}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="task" tick={TICK_10} interval={0} angle={-20} textAnchor="end" height={42} />
          <YAxis unit="%" domain={PERCENT_DOMAIN} tick={TICK_11} />
          <Tooltip formatter={percentFormatter} />
          <Legend wrapperStyle={LEGEND_STYLE} />
          <Bar dataKey="merged" name="merged" fill="#0072B2" isAnimationActive={false} />
          <Bar dataKey="expert" name="its expert" fill="#c9d1dc" isAnimationActive={false} />
        </BarChart>
          )}
        />
      )}
    </ChartFrame>
  );
}
