/**
 * Chart (e), the sweep: the demo's normalized score along λ or density with the other settings as
 * they are, and the current value marked — where the slider sits on the curve. Recomputed when
 * anything but the swept parameter changes, once the sliders rest.
 */
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis, usePlotArea, useXAxisScale } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { useRef } from 'react';
import { ownSweptValues, sweepSettings } from '../recipe/chart-recipes.js';
import { sweepParamFor } from '../store/charts-slice.js';
import { useLabStore } from '../store/index.js';
import type { SweepParam } from '../store/types.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { pct, useModelLabel } from './labels.js';
import { tidyTick } from './chart-props.js';
import { plotBox } from './plot-box.js';
import { useChartText } from './chart-text.js';
import { seriesColor } from './palette.js';

const NAMES: Record<SweepParam, string> = { lambda: 'λ', density: 'density' };
/** The x axis' title: the parameter and what its value measures. */
/** Round ticks at the ends of the swept range and between (recharts' own picks read 0.45, 1.15). */
const TICKS: Readonly<Record<SweepParam, readonly number[]>> = {
  density: [0.1, 0.3, 0.5, 0.7, 0.9, 1],
  lambda: [0.1, 0.5, 1, 1.5],
};

// Short enough for a half-width card in presentation mode at 1280 px ("each" made it one word too long there).
const AXIS: Record<SweepParam, string> = { lambda: 'λ (scale of the merged task vector, ×)', density: 'density (share of task vector kept)' };

export function SweepChart() {
  const { chart, method, wanted, tasks, setParam, source } = useLabStore(
    useShallow((s) => ({ chart: s.sweep, method: s.method, wanted: s.sweepParam, tasks: s.engine.demo.tasks, setParam: s.setSweepParam, source: s.source })),
  );
  const label = useModelLabel();
  const t = useChartText();
  const param = sweepParamFor(method, wanted);
  const d = chart.shown?.data;
  const current = useCurrent(d?.param);
  const made = useSweepMadeBy(chart.status, d?.param);
  // A value per layer or per expert of the swept parameter is not on the curve (each point sets one for all): no "now" line then.
  const own = useLabStore((s) => (d ? ownSweptValues(s, d.param) : false));
  const rows = d ? d.points.map((p) => ({ x: p.value, normalized: p.normalized, ...Object.fromEntries(p.perTask.map((v, i) => [`t${i}`, v])) })) : [];
  const best = d?.points.reduce((a, b) => (b.normalized > a.normalized ? b : a), d.points[0]!);
  const empty = source === 'mine' ? 'Sweeps score the demo; they are not available for your own checkpoints (there is no data to score them on).' : param ? 'Computing the sweep…' : 'This method has neither λ nor density to sweep.';
  return (
    <ChartFrame
      id="sweep"
      title={`Score along ${d ? NAMES[d.param] : param ? NAMES[param] : 'a parameter'}`}
      status={param && source === 'demo' ? chart.status : 'idle'}
      error={chart.error}
      seq={chart.shown?.seq}
      empty={empty}
      caption={
        d && best ? (
          <>
            Normalized score (thick) and per-task accuracy (thin) of {d.method} on the demo's <span data-split={d.split}>{d.split === 'test' ? 'held-out test' : 'validation'} split</span> as {NAMES[d.param]} varies
            {own ? (
              <span data-own-values={d.param}>
                , one value for every layer and expert at each point: the {NAMES[d.param]} set per layer or per expert now is not on this curve, so no current value is marked.
              </span>
            ) : (
              <>; the vertical line is the current value ({current.toFixed(2)}).</>
            )}{' '}
            Best here: {pct(best.normalized)} at {NAMES[d.param]} = {best.value}.
          </>
        ) : (
          'The normalized score as λ or density varies, the other settings as they are, with the current value marked.'
        )
      }
      controls={
        <p className="field">
          <label htmlFor="sweep-param">Sweep over</label>{' '}
          <select id="sweep-param" value={param ?? wanted} onChange={(e) => setParam(e.target.value as SweepParam)} disabled={!param}>
            <option value="density">density</option>
            <option value="lambda">λ</option>
          </select>
        </p>
      }
      madeBy={made}
      csv={{
        header: [d?.param ?? 'value', 'split', 'normalized_percent', ...(tasks ?? []).map((task) => `${task}_percent`)],
        rows: (d?.points ?? []).map((p) => [p.value, d!.split, p.normalized, ...p.perTask]),
      }}
    >
      {d && param && source === 'demo' && (
        <Drawn
          deps={[d, tasks, label, t]}
          draw={() => (
        <LineChart responsive style={plotBox(t, 1.7, { legend: ['normalized', ...(tasks ?? []).map(label)] })} data={rows} margin={t.margin}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} ticks={TICKS[d.param]} tickFormatter={tidyTick} tick={t.tick} height={t.xHeight} label={t.xTitle(AXIS[d.param])} />
          <YAxis unit="%" domain={[0, 100]} tick={t.tick} width={t.yWidth} label={t.yTitle('score or accuracy (%)')} />
          <Tooltip formatter={(v) => pct(Number(v))} labelFormatter={(x) => `${NAMES[d.param]} = ${tidyTick(x)}`} />
          <Legend verticalAlign="top" wrapperStyle={t.legend} />
          <Line dataKey="normalized" name="normalized" stroke="#1c2430" strokeWidth={3} dot={{ r: 2 }} isAnimationActive={false} />
          {(tasks ?? []).map((task, i) => (
            <Line key={task} dataKey={`t${i}`} name={label(task)} stroke={seriesColor(i)} strokeWidth={1} dot={false} isAnimationActive={false} />
          ))}
          {!own && <NowMarker param={d.param} size={t.size} />}
        </LineChart>
          )}
        />
      )}
    </ChartFrame>
  );
}

/**
 * What made the sweep, for its exports: the demo's settings with the swept parameter named as
 * swept, kept from the last answer while a newer one is computed (as ChartFrame's useMadeBy).
 */
function useSweepMadeBy(status: 'idle' | 'computing' | 'ready' | 'error', param: SweepParam | undefined): { method: string; settings: string } | undefined {
  const method = useLabStore((s) => s.method);
  const settings = useLabStore((s) => {
    if (!param) return undefined;
    try {
      return `${sweepSettings(s, param)}, on the demo`;
    } catch {
      return undefined;
    }
  });
  const kept = useRef<{ method: string; settings: string } | undefined>(undefined);
  if (status !== 'computing' || !kept.current) kept.current = settings === undefined ? undefined : { method, settings };
  return kept.current;
}

/**
 * The slider's value of `param`. Drawn in the same render as the slider itself: the marker is one
 * line, and a deferred render of its own cost a layout and a paint more per move than it saved.
 */
function useCurrent(param: SweepParam | undefined): number {
  return useLabStore((s) => (param === 'lambda' ? s.lambda : s.density));
}

/**
 * The current value's vertical line, drawn inside the chart from its x scale. It reads the slider
 * itself, so a move redraws this line only: redrawing the whole line chart for it cost ~25 ms of
 * main thread per move, more than drawing the new score.
 */
function NowMarker({ param, size }: { readonly param: SweepParam; readonly size: number }) {
  const current = useCurrent(param);
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
