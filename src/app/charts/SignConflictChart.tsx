/**
 * Chart (a): where the experts' task vectors disagree. Per tensor (or per layer, when the names
 * carry layer numbers), the share of entries with two or more nonzero (trimmed) task-vector values
 * whose signs disagree, and the share of task-vector mass the TIES sign election throws away.
 */
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, YAxis, type TooltipContentProps } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import type { Diagnostics } from '../../engine/diagnostics/diagnose.js';
import { useLabStore } from '../store/index.js';
import type { LabState } from '../store/types.js';
import { PERCENT_DOMAIN, percentFormatter } from './chart-props.js';
import { useChartText } from './chart-text.js';
import { CategoryXAxis, wrappedAxisHeight } from './category-axis.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn, useStable } from './Drawn.js';
import { pct } from './labels.js';
import { FULL, LiveBar, LiveTooltip, type LiveValues } from './live-bars.js';
import { plotBox } from './plot-box.js';

interface ConflictSeries {
  readonly byLayer: boolean;
  readonly names: readonly string[];
  readonly conflict: readonly number[];
  readonly dropped: readonly number[];
}

const made = new WeakMap<Diagnostics, ConflictSeries>();

/** Per tensor (or per layer), in percent; worked out once per answer (every bar reads it). */
function seriesOf(d: Diagnostics | undefined): ConflictSeries | undefined {
  if (!d) return undefined;
  let s = made.get(d);
  if (!s) {
    const byLayer = d.layers.length > 1;
    const parts = byLayer ? d.layers.map((l) => ({ name: `layer ${l.layer}`, ...l })) : d.tensors;
    s = { byLayer, names: parts.map((p) => p.name), conflict: parts.map((p) => 100 * p.conflictRate), dropped: parts.map((p) => 100 * p.droppedMass) };
    made.set(d, s);
  }
  return s;
}

const conflict: LiveValues = (s: LabState) => seriesOf(s.diagnostics.shown?.data)?.conflict;
const dropped: LiveValues = (s: LabState) => seriesOf(s.diagnostics.shown?.data)?.dropped;
const CONFLICT_BAR = <LiveBar values={conflict} />;
const DROPPED_BAR = <LiveBar values={dropped} />;
const tooltip = (p: TooltipContentProps) => <LiveTooltip {...p} series={{ conflict, dropped }} />;
const LEGEND = ['sign conflict', 'mass dropped by election'];

/** What a chart comparing task vectors says where the method's recipe leaves one (or none) to compare. */
export const ONE_VECTOR = (what: string) =>
  `Nothing to compare: this method's recipe leaves one task vector (one model besides the one it is measured from), and ${what} need two or more. The methods that merge every expert draw them.`;

export function SignConflictChart() {
  const { chart } = useLabStore(useShallow((s) => ({ chart: s.diagnostics })));
  const t = useChartText();
  const d = chart.shown?.data;
  const series = seriesOf(d);
  const byLayer = series?.byLayer ?? false;
  const rows = series ? series.names.map((name, i) => ({ name, conflict: series.conflict[i]!, dropped: series.dropped[i]! })) : [];
  // The bars' layout: the names only (the bars read their heights themselves), redrawn when they change.
  const names = series?.names ?? [];
  const layout = useStable(
    names.map((name, index) => ({ index, name, conflict: FULL, dropped: FULL })),
    names.join('\u0000'),
  );
  const election = d?.election ?? false;
  // One task vector (SLERP's other model against its base_model, passthrough's one): nothing to disagree with.
  const single = d !== undefined && d.models.length < 2;
  const overall = single ? undefined : d?.overall;
  return (
    <ChartFrame
      id="sign-conflicts"
      title="Sign conflicts"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      empty={single ? ONE_VECTOR('sign conflicts') : undefined}
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
      {d && !single && (
        <Drawn
          deps={[layout, election, byLayer, t]}
          draw={() => (
        <BarChart responsive style={plotBox(t, 1.5, { legend: LEGEND, xHeight: wrappedAxisHeight(t) })} data={layout} margin={t.margin}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <CategoryXAxis dataKey="name" names={names} t={t} title={byLayer ? 'layer' : 'tensor'} />
          <YAxis unit="%" domain={PERCENT_DOMAIN} tick={t.tick} width={t.yWidth} label={t.yTitle('share (%)')} />
          <Tooltip content={tooltip} formatter={percentFormatter} />
          <Legend verticalAlign="top" wrapperStyle={t.legend} />
          <Bar dataKey="conflict" name="sign conflict" fill="#D55E00" isAnimationActive={false} shape={CONFLICT_BAR} />
          {election && <Bar dataKey="dropped" name="mass dropped by election" fill="#0072B2" isAnimationActive={false} shape={DROPPED_BAR} />}
        </BarChart>
          )}
        />
      )}
    </ChartFrame>
  );
}
