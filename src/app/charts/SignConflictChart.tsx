/**
 * Chart (a): where the experts' task vectors disagree. Per tensor (or per layer, when the names
 * carry layer numbers), the share of entries with two or more nonzero (trimmed) task-vector values
 * whose signs disagree, and the share of task-vector mass the TIES sign election throws away.
 */
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { useLabStore } from '../store/index.js';
import { LEGEND_STYLE, MARGIN, PERCENT_DOMAIN, TICK_10, TICK_11, percentFormatter } from './chart-props.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { pct } from './labels.js';

export function SignConflictChart() {
  const { chart } = useLabStore(useShallow((s) => ({ chart: s.diagnostics })));
  const d = chart.shown?.data;
  const byLayer = (d?.layers.length ?? 0) > 1;
  const rows = d
    ? byLayer
      ? d.layers.map((l) => ({ name: `layer ${l.layer}`, conflict: 100 * l.conflictRate, dropped: 100 * l.droppedMass }))
      : d.tensors.map((t) => ({ name: t.name, conflict: 100 * t.conflictRate, dropped: 100 * t.droppedMass }))
    : [];
  const overall = d?.overall;
  return (
    <ChartFrame
      id="sign-conflicts"
      title="Sign conflicts"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      caption={
        <>
          Per {byLayer ? 'layer' : 'tensor'}: of the entries where two or more {d?.election ? 'trimmed ' : ''}task vectors are nonzero, the share whose signs disagree
          {d?.election ? ', and the share of task-vector mass the sign election drops' : ''}.
          {overall && (
            <>
              {' '}
              Whole model: <strong data-overall-conflict={overall.conflictRate}>{pct(100 * overall.conflictRate)}</strong> conflicting
              {d?.election && (
                <>
                  , <strong data-overall-dropped={overall.droppedMass}>{pct(100 * overall.droppedMass)}</strong> of the mass dropped
                </>
              )}
              .
            </>
          )}
        </>
      }
      csv={{ header: [byLayer ? 'layer' : 'tensor', 'sign_conflict_percent', 'dropped_mass_percent'], rows: rows.map((r) => [r.name, r.conflict, d?.election ? r.dropped : '']) }}
    >
      {d && (
        <Drawn
          deps={[d]}
          draw={() => (
        <BarChart width={340} height={220} data={rows} margin={MARGIN}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="name" tick={TICK_10} interval={0} />
          <YAxis unit="%" domain={PERCENT_DOMAIN} tick={TICK_11} />
          <Tooltip formatter={percentFormatter} />
          <Legend wrapperStyle={LEGEND_STYLE} />
          <Bar dataKey="conflict" name="sign conflict" fill="#D55E00" isAnimationActive={false} />
          {d.election && <Bar dataKey="dropped" name="mass dropped by election" fill="#0072B2" isAnimationActive={false} />}
        </BarChart>
          )}
        />
      )}
    </ChartFrame>
  );
}
