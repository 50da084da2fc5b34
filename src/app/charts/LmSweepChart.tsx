/**
 * The LM demo's sweep: the merge's normalized gain per domain (thin) and their mean (thick) along λ
 * or density, the other settings as they are, the current value marked. Cheap on purpose: each
 * point scores the probe of the validation windows (the first bytes of each row), not all of them,
 * and the caption says so. Recomputed when anything but the swept parameter changes, once the
 * sliders rest and the card's answer is in.
 */
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis, usePlotArea, useXAxisScale } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { MIXED } from '../../engine/demo/lm-manifest.js';
import { sweepParamFor } from '../store/charts-slice.js';
import { useLabStore } from '../store/index.js';
import type { SweepParam } from '../store/types.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { tidyTick } from './chart-props.js';
import { useChartText } from './chart-text.js';
import { niceTicks } from './LmEvalChart.js';
import { seriesColor } from './palette.js';
import { plotBox } from './plot-box.js';

const NAMES: Record<SweepParam, string> = { lambda: 'λ', density: 'density' };
const TICKS: Readonly<Record<SweepParam, readonly number[]>> = { density: [0.1, 0.3, 0.5, 0.7, 0.9, 1], lambda: [0.1, 0.5, 1, 1.5] };
const AXIS: Record<SweepParam, string> = { lambda: 'λ (scale of the merged task vector, ×)', density: 'density (share of task vector kept)' };
const PERCENT_TICK = (v: unknown) => `${String(v)}%`;
const GAIN_FORMATTER = (v: unknown) => `${Number(v).toFixed(1)}%`;

export function LmSweepChart() {
  const { chart, method, wanted, setParam, domains } = useLabStore(useShallow((s) => ({ chart: s.lmSweep, method: s.method, wanted: s.sweepParam, setParam: s.setSweepParam, domains: s.lmDemo.domains })));
  const t = useChartText();
  const param = sweepParamFor(method, wanted);
  const d = chart.shown?.data;
  const current = useLabStore((s) => (d?.param === 'lambda' ? s.lambda : s.density));
  // The mixed windows have no expert, so no gain: the curves are the domains'.
  const tasks = d ? d.tasks.filter((x) => x !== MIXED) : [];
  const rows = d
    ? d.points.map((p) => ({ x: p.value, mean: p.meanGain === null ? null : 100 * p.meanGain, ...Object.fromEntries(tasks.map((task) => [task, ((g) => (g === null || g === undefined ? null : 100 * g))(p.tasks[d.tasks.indexOf(task)]?.gain)])) }))
    : [];
  const values = rows.flatMap((r) => Object.entries(r).filter(([k, v]) => k !== 'x' && typeof v === 'number').map(([, v]) => v as number));
  const ticks = niceTicks(Math.min(0, ...values), Math.max(100, ...values));
  const best = d?.points.reduce((a, b) => ((b.meanGain ?? -Infinity) > (a.meanGain ?? -Infinity) ? b : a), d.points[0]!);
  const label = (id: string) => domains.find((x) => x.id === id)?.label ?? id;
  return (
    <ChartFrame
      id="lm-sweep"
      title={`Normalized gain along ${d ? NAMES[d.param] : param ? NAMES[param] : 'a parameter'}`}
      status={param ? chart.status : 'idle'}
      error={chart.error}
      seq={chart.shown?.seq}
      {...(d ? { madeBy: { method: d.method, settings: `${d.settings}, ${NAMES[d.param]} swept, on the LM demo's validation probes` } } : {})}
      empty={param ? 'Computing the sweep once the card’s answer is in…' : 'This method has neither λ nor density to sweep.'}
      caption={
        d && best ? (
          <>
            Normalized gain per domain (thin) and its mean (thick) of {d.method} on the language-model demo as {NAMES[d.param]} varies, the other settings as they were (
            <span data-sweep-settings={d.settings}>{d.settings}</span>); the vertical line is the current value ({current.toFixed(2)}). Each point scores a probe, the first {d.probeTokens} bytes of each domain&apos;s validation windows, not all of them
            (the card scores all); the mean loss over the rows is in the CSV. Best mean gain here: {best.meanGain === null ? '—' : `${(100 * best.meanGain).toFixed(1)}%`} at{' '}
            {NAMES[d.param]} = {best.value}.
          </>
        ) : (
          'The normalized gain per domain as λ or density varies, on probe-sized validation windows, with the current value marked.'
        )
      }
      controls={
        <p className="field">
          <label htmlFor="lm-sweep-param">Sweep over</label>{' '}
          <select id="lm-sweep-param" value={param ?? wanted} onChange={(e) => setParam(e.target.value as SweepParam)} disabled={!param}>
            <option value="density">density</option>
            <option value="lambda">λ</option>
          </select>
        </p>
      }
      csv={{
        header: [d?.param ?? 'value', 'mean_gain', 'mean_loss_nats_per_token', ...(d?.tasks ?? []).flatMap((task) => [`${task}_loss`, `${task}_gain`])],
        rows: (d?.points ?? []).map((p) => [p.value, p.meanGain ?? '', p.loss, ...p.tasks.flatMap((x) => [x.loss, x.gain ?? ''])]),
      }}
    >
      {d && param && (
        <Drawn
          deps={[d, t, domains]}
          draw={() => (
            <LineChart responsive style={plotBox(t, 1.7, { legend: ['mean', ...tasks.map(label)] })} data={rows} margin={t.margin}>
              <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
              <XAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} ticks={TICKS[d.param]} tickFormatter={tidyTick} tick={t.tick} height={t.xHeight} label={t.xTitle(AXIS[d.param])} />
              <YAxis domain={[ticks[0]!, ticks.at(-1)!]} ticks={ticks} tickFormatter={PERCENT_TICK} tick={t.tick} width={t.yWidth} label={t.yTitle('normalized gain (%)')} />
              <Tooltip formatter={GAIN_FORMATTER} labelFormatter={(x) => `${NAMES[d.param]} = ${tidyTick(x)}`} />
              <Legend verticalAlign="top" wrapperStyle={t.legend} />
              <ReferenceLine y={100} stroke="#1c2430" strokeDasharray="4 2" />
              <ReferenceLine y={0} stroke="#1c2430" />
              <Line dataKey="mean" name="mean" stroke="#1c2430" strokeWidth={3} dot={{ r: 2 }} isAnimationActive={false} />
              {tasks.map((task, i) => (
                <Line key={task} dataKey={task} name={label(task)} stroke={seriesColor(i + 1)} strokeWidth={1} dot={false} isAnimationActive={false} />
              ))}
              <NowMarker param={d.param} size={t.size} />
            </LineChart>
          )}
        />
      )}
    </ChartFrame>
  );
}

/** The slider's value, drawn from the chart's x scale (as the digits sweep's marker). */
function NowMarker({ param, size }: { readonly param: SweepParam; readonly size: number }) {
  const current = useLabStore((s) => (param === 'lambda' ? s.lambda : s.density));
  const x = useXAxisScale()?.(current);
  const plot = usePlotArea();
  if (x === undefined || !Number.isFinite(x) || !plot) return null;
  return (
    <g className="recharts-reference-line now-marker" data-value={current}>
      <line x1={x} x2={x} y1={plot.y} y2={plot.y + plot.height} stroke="#D55E00" strokeWidth={2} />
      <text x={x} y={plot.y - 4} textAnchor="middle" fontSize={size} fill="#D55E00">
        now
      </text>
    </g>
  );
}
