/**
 * Twin-Merging, accuracy and storage against rank: the normalized score with the router and with
 * oracle routing at ranks 1, 2, 4, 8, 16 (λ and routing as set), and the package's size as a share
 * of keeping every expert — what each extra direction of exclusive knowledge buys and costs.
 */
import { CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { useLabStore } from '../../store/index.js';
import { ChartFrame } from '../ChartFrame.js';
import { Drawn } from '../Drawn.js';
import { pct } from '../labels.js';
import { TWIN_RANK_MAX } from '../../routed/ranks-ahead.js';
import { useChartText } from '../chart-text.js';
import { plotBox } from '../plot-box.js';
import { SCORE_DOMAIN, SCORE_TICKS, SPLIT_NAME } from './routed-axes.js';


export function TwinRankChart() {
  const chart = useLabStore((s) => s.twinView);
  const t = useChartText();
  const v = chart.shown?.data;
  const rank = v?.settings.rank;
  const sweptRows = (v?.sweep ?? []).map((p) => ({ rank: p.rank, router: p.router, oracle: p.oracle, storage: 100 * p.storage.ratio }));
  // A rank between or past the swept ones (6, 32) is a point of its own: the view scored it, so the
  // lines pass through the current rank instead of the "now" line standing where nothing is drawn.
  const extra = v && rank !== undefined && !sweptRows.some((r) => r.rank === rank) ? { rank, router: v.router.normalized, oracle: v.oracle.normalized, storage: 100 * v.storage.ratio } : undefined;
  const rows = extra ? [...sweptRows, extra].sort((a, b) => a.rank - b.rank) : sweptRows;
  // The axis reaches as far as the rank slider (or the current rank), beyond the swept ranks, so the
  // "now" line is on the chart at every rank the slider offers.
  const axisMax = Math.max(TWIN_RANK_MAX, rank ?? 1, ...rows.map((r) => r.rank));
  const ticks = [...new Set([...rows.map((r) => r.rank), axisMax])];
  const swept = `${sweptRows.map((r) => r.rank).join(', ')}${extra ? ` and the current ${extra.rank}` : ''}`;
  return (
    <ChartFrame
      id="twin-rank"
      title="Accuracy and storage against rank"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      caption={
        v ? (
          <>
            Normalized score of Twin-Merging on the demo's {SPLIT_NAME[v.settings.split]} split with the trained router (solid) and with oracle routing (dashed), and the package's size as a share of the{' '}
            {v.tasks.length + v.hardTasks.length} experts (grey, right axis), at ranks {swept} of the exclusive knowledge. {rank !== undefined ? `The vertical line is the current rank (${rank}).` : `Cut by energy share ${(100 * (v.settings.energy ?? 0)).toFixed(0)}% now.`}
          </>
        ) : (
          'The score with the router and with oracle routing, and the storage, at each rank of the exclusive knowledge.'
        )
      }
      csv={{ header: ['rank', 'router_normalized_percent', 'oracle_normalized_percent', 'storage_percent_of_experts'], rows: rows.map((r) => [r.rank, r.router, r.oracle, r.storage]) }}
    >
      {v && rows.length > 0 && (
        <Drawn
          deps={[v.sweep, rank, t]}
          draw={() => (
            <ComposedChart responsive style={plotBox(t, 1.7, { legend: ['router', 'oracle', 'storage'] })} data={rows} margin={t.margin}>
              <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
              <XAxis dataKey="rank" type="number" scale="log" domain={[1, axisMax]} ticks={ticks} tick={t.tick} height={t.xHeight} label={t.xTitle('rank r of each expert’s own part (log scale)')} />
              <YAxis yAxisId="score" unit="%" domain={SCORE_DOMAIN} ticks={SCORE_TICKS} tick={t.tick} width={t.yWidth} label={t.yTitle('normalized score (%)')} />
              <YAxis yAxisId="storage" orientation="right" unit="%" domain={[0, 'auto']} tick={t.tick} width={t.yWidth} label={t.yTitle('storage (% of the experts)', 'right')} />
              <Tooltip formatter={(x, name) => (name === 'storage' ? `${Number(x).toFixed(1)}% of the experts` : pct(Number(x)))} labelFormatter={(r) => `rank ${r}`} />
              <Legend verticalAlign="top" wrapperStyle={t.legend} />
              <Line yAxisId="score" dataKey="router" name="router" stroke="#0072B2" strokeWidth={2} isAnimationActive={false} />
              <Line yAxisId="score" dataKey="oracle" name="oracle" stroke="#0072B2" strokeDasharray="5 3" isAnimationActive={false} />
              <Line yAxisId="storage" dataKey="storage" name="storage" stroke="#8a94a6" isAnimationActive={false} />
              {rank !== undefined && <ReferenceLine yAxisId="score" x={rank} stroke="#D55E00" strokeWidth={2} label={{ value: 'now', position: 'top', fontSize: t.size }} />}
            </ComposedChart>
          )}
        />
      )}
    </ChartFrame>
  );
}
