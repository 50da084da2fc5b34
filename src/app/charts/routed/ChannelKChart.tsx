/**
 * Channel Merging against K: the normalized score with the router and with oracle lookup and the
 * package's size as a share of the experts, and the sign-conflict rate between two tasks' rows
 * that share a group against rows put in different groups — the clustering puts the
 * rows that disagree apart, which is why merging only within a group loses less.
 */
import { CartesianGrid, ComposedChart, Legend, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { useLabStore } from '../../store/index.js';
import { ChartFrame } from '../ChartFrame.js';
import { Drawn } from '../Drawn.js';
import { pct } from '../labels.js';
import { useChartText } from '../chart-text.js';
import { SubChart } from '../SubChart.js';
import { SCORE_DOMAIN, SCORE_TICKS, SPLIT_NAME } from './routed-axes.js';


const rate = (x: number | null) => (x === null ? undefined : 100 * x);

export function ChannelKChart() {
  const chart = useLabStore((s) => s.channelView);
  const t = useChartText();
  const v = chart.shown?.data;
  const rows = (v?.sweep ?? []).map((p) => ({
    K: p.K,
    routed: p.routed.normalized,
    oracle: p.oracle.normalized,
    storage: 100 * p.storage.ratio,
    within: rate(p.conflicts.within),
    across: rate(p.conflicts.across),
    all: rate(p.conflicts.all),
    random: rate(p.conflicts.random.within),
  }));
  const K = v?.settings.K;
  const c = v?.conflicts;
  // Every K on the axis, also while only some are worked out (a λ or density move answers its K first).
  const T = v?.tasks.length ?? 1;
  const ticks = Array.from({ length: T }, (_, i) => i + 1);
  return (
    <ChartFrame
      id="channel-k"
      title="Accuracy, storage and sign conflicts against K"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      caption={
        v && c ? (
          <>
            What each K buys and costs over the {v.tasks.length} experts, and why merging only within a group loses less: rows that share a group disagree in sign less often
            ({v.settings.method.id} view). At K = {K}:
            within <strong data-within={c.within ?? ''}>{c.within === null ? '—' : pct(100 * c.within)}</strong>, across <strong data-across={c.across ?? ''}>{c.across === null ? '—' : pct(100 * c.across)}</strong>
            {c.all !== null ? `, all pairs ${pct(100 * c.all)}` : ''}; within random groups of the same sizes{' '}
            <strong data-random-within={c.random.within ?? ''}>{c.random.within === null ? '—' : pct(100 * c.random.within)}</strong> (the baseline: grouping by similarity helps only below it).
            {!v.sweepComplete && <span data-sweep-pending=""> The other K are being worked out.</span>}
          </>
        ) : (
          'Score, storage and within- vs across-group sign conflicts for K = 1 … T.'
        )
      }
      csv={{
        header: ['K', 'router_normalized_percent', 'oracle_normalized_percent', 'storage_percent_of_experts', 'within_conflict_percent', 'across_conflict_percent', 'all_pairs_conflict_percent', 'random_groups_within_percent'],
        rows: rows.map((r) => [r.K, r.routed, r.oracle, r.storage, r.within ?? '', r.across ?? '', r.all ?? '', r.random ?? '']),
      }}
    >
      {v && rows.length > 0 && (
        <Drawn
          deps={[v.sweep, K, T, t]}
          draw={() => (
            <div className="chart-pair">
              <SubChart id="channel-score" title="Score and storage against K" help={`Normalized score on the demo's ${SPLIT_NAME[v.settings.split]} split with the router (solid) and with oracle lookup (dashed); the package's size (grey, right axis).`}>
              <ComposedChart responsive style={t.box(1.4)} data={rows} margin={t.margin}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="K" type="number" domain={[1, T]} ticks={ticks} tick={t.tick} height={t.xHeight} label={t.xTitle('groups per channel K')} />
                <YAxis yAxisId="score" unit="%" domain={SCORE_DOMAIN} ticks={SCORE_TICKS} tick={t.tick} width={t.yWidth} label={t.yTitle('normalized score (%)')} />
                <YAxis yAxisId="storage" orientation="right" unit="%" domain={[0, 'auto']} tick={t.tick} width={t.yWidth} label={t.yTitle('storage (% of the experts)', 'right')} />
                <Tooltip formatter={(x, name) => (name === 'storage' ? `${Number(x).toFixed(1)}% of the experts` : pct(Number(x)))} labelFormatter={(k) => `K = ${k}`} />
                <Legend verticalAlign="top" wrapperStyle={t.legend} />
                <Line yAxisId="score" dataKey="routed" name="router" stroke="#0072B2" strokeWidth={2} isAnimationActive={false} />
                <Line yAxisId="score" dataKey="oracle" name="oracle" stroke="#0072B2" strokeDasharray="5 3" isAnimationActive={false} />
                <Line yAxisId="storage" dataKey="storage" name="storage" stroke="#8a94a6" isAnimationActive={false} />
                {K !== undefined && <ReferenceLine yAxisId="score" x={K} stroke="#D55E00" strokeWidth={2} label={{ value: 'now', position: 'top', fontSize: t.size }} />}
              </ComposedChart>
              </SubChart>
              <SubChart id="channel-conflicts" title="Sign conflicts within and across groups" help="How often two tasks' weights disagree in sign when their rows share a group (within) and when they were put apart (across).">
              <LineChart responsive style={t.box(1.4)} data={rows} margin={t.margin}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="K" type="number" domain={[1, T]} ticks={ticks} tick={t.tick} height={t.xHeight} label={t.xTitle('groups per channel K')} />
                <YAxis unit="%" domain={[0, 'auto']} tick={t.tick} width={t.yWidth} label={t.yTitle('sign-conflict rate (%)')} />
                <Tooltip formatter={(x) => pct(Number(x))} labelFormatter={(k) => `K = ${k}`} />
                <Legend verticalAlign="top" wrapperStyle={t.legend} />
                <Line dataKey="within" name="within a group" stroke="#009E73" strokeWidth={2} connectNulls={false} isAnimationActive={false} />
                <Line dataKey="across" name="across groups" stroke="#D55E00" strokeWidth={2} connectNulls={false} isAnimationActive={false} />
                <Line dataKey="all" name="all pairs" stroke="#8a94a6" strokeDasharray="4 3" dot={false} isAnimationActive={false} />
                <Line dataKey="random" name="within random groups" stroke="#CC79A7" strokeDasharray="2 2" connectNulls={false} isAnimationActive={false} />
                {K !== undefined && <ReferenceLine x={K} stroke="#1c2430" />}
              </LineChart>
              </SubChart>
            </div>
          )}
        />
      )}
    </ChartFrame>
  );
}
