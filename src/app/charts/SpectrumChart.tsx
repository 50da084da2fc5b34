/**
 * Chart (c): how many directions each expert's change needs. For one weight matrix, the singular
 * values of every task vector (log scale) and their energy curves E(r); marked are the rank chosen
 * with the "SVD rank" slider, the rank holding 90% of the energy and the effective rank (medians
 * over the tasks). Below, how much the tasks' top-r subspaces overlap at that rank.
 */
import { CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, Tooltip, XAxis, YAxis, usePlotArea, useXAxisScale } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { useLabStore } from '../store/index.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { Heatmap } from './Heatmap.js';
import { decadeTicks } from './log-ticks.js';
import { useModelLabel } from './labels.js';
import { seriesColor } from './palette.js';
import { useChartText } from './chart-text.js';
import { tidyTick } from './chart-props.js';
import { plotBox } from './plot-box.js';
import { SubChart } from './SubChart.js';
import { textWidth } from './text-width.js';

const ENERGY_DOMAIN: [number, number] = [0, 1];
const ENERGY_TICKS = [0, 0.25, 0.5, 0.75, 1];

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
};

export function SpectrumChart() {
  const { chart, tensor, rank, setTensor, setRank } = useLabStore(
    useShallow((s) => ({ chart: s.spectrum, tensor: s.spectrumTensor, rank: s.svdRank, setTensor: s.setSpectrumTensor, setRank: s.setSvdRank })),
  );
  const label = useModelLabel();
  const t = useChartText();
  const d = chart.shown?.data;
  const count = d ? Math.max(...d.models.map((m) => m.singularValues.length)) : 0;
  const rows = Array.from({ length: count }, (_, k) => {
    const row: Record<string, number> = { k: k + 1 };
    d!.models.forEach((m, i) => {
      const s = m.singularValues[k];
      // Log axes cannot show 0: an exactly zero singular value is left out of its line.
      if (s !== undefined && s > 0) row[`s${i}`] = s;
      if (m.energy[k] !== undefined) row[`e${i}`] = m.energy[k]!;
    });
    return row;
  });
  const rank90 = d ? median(d.models.map((m) => m.rank90)) : 0;
  const effective = d ? median(d.models.map((m) => m.effectiveRank)) : 0;
  const labels = (d?.models ?? []).map((m) => label(m.model));
  const sigmas = (d?.models ?? []).flatMap((m) => m.singularValues.filter((s) => s > 0));
  const sigma = decadeTicks(Math.min(...sigmas), Math.max(...sigmas));
  const marks: Mark[] = d
    ? [
        { x: d.rank, text: `r = ${d.rank}`, color: '#1c2430' },
        { x: rank90, text: '90%', color: '#2f855a', dash: '2 2' },
        { x: Math.max(1, Math.round(effective)), text: 'eff.', color: '#975a16', dash: '2 2' },
      ]
    : [];
  return (
    <ChartFrame
      id="svd-spectrum"
      title="SVD spectrum of the task vectors"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      caption={
        d ? (
          <>
            {d.tensor} [{d.shape.join(' × ')}]{d.truncated ? `, leading ${count} singular values` : ''}: how many directions each expert's change needs, and how much the experts' top directions overlap. At rank <strong data-rank={d.rank}>{d.rank}</strong> the median task keeps{' '}
            {(100 * median(d.models.map((m) => 1 - m.relativeError ** 2))).toFixed(1)}% of its energy; 90% needs rank <span data-rank90={rank90}>{rank90}</span>, effective rank{' '}
            {effective.toFixed(1)}.
          </>
        ) : (
          'Singular values of each task vector of one weight matrix, with the energy curve and the ranks that matter.'
        )
      }
      controls={
        d && (
          <>
            <p className="field">
              <label htmlFor="spectrum-tensor">Tensor</label>{' '}
              <select id="spectrum-tensor" value={tensor ?? d.tensor} onChange={(e) => setTensor(e.target.value)}>
                {d.tensors.map((t) => (
                  <option key={t.name} value={t.name}>
                    {t.name} [{t.shape.join(' × ')}]
                  </option>
                ))}
              </select>
            </p>
            <p className="field slider">
              <label htmlFor="svd-rank">SVD rank</label>
              <input
                id="svd-rank"
                type="range"
                min={1}
                max={Math.max(1, count)}
                step={1}
                value={Math.min(rank ?? d.rank, Math.max(1, count))}
                onChange={(e) => setRank(Number(e.target.value), performance.mark('slider-input').startTime)}
              />
              <output htmlFor="svd-rank">{Math.min(rank ?? d.rank, Math.max(1, count))}</output>
            </p>
          </>
        )
      }
      csv={{
        header: ['rank', ...labels.flatMap((l) => [`sigma_${l}`, `energy_share_${l}`])],
        rows: rows.map((r) => [r['k'], ...labels.flatMap((_, i) => [r[`s${i}`], r[`e${i}`]])]),
      }}
    >
      {d && (
        <Drawn
          deps={[d, label, t, sigma.format, sigma.ticks.join()]}
          draw={() => (
        <div className="chart-pair">
          <SubChart id="singular-values" title="Singular values and energy" help="Solid: singular values σ (left axis, log scale); dashed: the energy share E(r) the first r keep (right axis)." wide>
          <ComposedChart responsive style={plotBox(t, 1.4, { legend: labels })} data={rows} margin={t.margin}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
            <XAxis dataKey="k" type="number" domain={[1, Math.max(2, count)]} tick={t.tick} height={t.xHeight} label={t.xTitle('rank r (number of directions)')} />
            <YAxis yAxisId="s" scale="log" domain={sigma.domain} ticks={sigma.ticks} allowDataOverflow tick={t.tick} tickFormatter={sigma.format} width={t.yWidth} label={t.yTitle('singular value σ (log)')} />
            <YAxis yAxisId="e" orientation="right" domain={ENERGY_DOMAIN} ticks={ENERGY_TICKS} tick={t.tick} tickFormatter={tidyTick} width={t.yWidth} label={t.yTitle('energy kept E(r), 0 … 1', 'right')} />
            <Tooltip formatter={(v) => Number(v).toPrecision(4)} labelFormatter={(k) => `rank ${k}`} />
            <Legend verticalAlign="top" wrapperStyle={t.legend} />
            {labels.map((l, i) => (
              <Line key={`s${i}`} yAxisId="s" dataKey={`s${i}`} name={l} stroke={seriesColor(i)} dot={false} isAnimationActive={false} />
            ))}
            {labels.map((l, i) => (
              <Line key={`e${i}`} yAxisId="e" dataKey={`e${i}`} name={`E(r) ${l}`} stroke={seriesColor(i)} strokeDasharray="4 3" dot={false} legendType="none" isAnimationActive={false} />
            ))}
            {marks.map((m) => (
              <ReferenceLine key={m.text} yAxisId="e" x={m.x} stroke={m.color} {...(m.dash ? { strokeDasharray: m.dash } : {})} />
            ))}
            <MarkLabels marks={marks} size={t.size} />
          </ComposedChart>
          </SubChart>
          <SubChart id="subspace-overlap" title={`Subspace overlap at r = ${d.rank}`} help="How much two experts' top-r directions coincide: 0 apart, 1 the same subspace.">
          <Heatmap
            labels={labels}
            values={d.interference}
            scale="sequential"
            cell={40}
            rows="task"
            columns="task"
            legend="overlap ‖Uᵢᵀ Uⱼ‖²/r (0 … 1)"
            describe={(a, b, v) => `‖U${a}ᵀ U${b}‖²/r at r = ${d.rank}: ${v.toFixed(3)}`}
          />
          </SubChart>
        </div>
          )}
        />
      )}
    </ChartFrame>
  );
}

/** A rank marked on the spectrum: the slider's, the one holding 90% of the energy, the effective one. */
interface Mark {
  readonly x: number;
  readonly text: string;
  readonly color: string;
  readonly dash?: string;
}

/**
 * The marks' names in one row above the plot, each over its line and in its colour, pushed apart
 * where lines are close (ranks 4 and 7 of 64): recharts' own labels sat on each other, on the top
 * tick of the σ axis and on the legend.
 */
function MarkLabels({ marks, size }: { readonly marks: readonly Mark[]; readonly size: number }) {
  const scale = useXAxisScale();
  const plot = usePlotArea();
  if (!scale || !plot) return null;
  const gap = Math.round(size / 2);
  const placed = marks
    .map((m) => ({ ...m, at: scale(m.x), w: textWidth(m.text, size) }))
    .filter((m): m is typeof m & { at: number } => m.at !== undefined && Number.isFinite(m.at))
    .sort((a, b) => a.at - b.at);
  let right = -Infinity;
  const lefts = placed.map((m) => {
    const left = Math.max(plot.x, m.at - m.w / 2, right + gap);
    right = left + m.w;
    return left;
  });
  // Pushed past the plot's right edge: back from there, as far as the neighbours let.
  let limit = plot.x + plot.width;
  for (let i = placed.length - 1; i >= 0; i--) {
    lefts[i] = Math.min(lefts[i]!, limit - placed[i]!.w);
    limit = lefts[i]! - gap;
  }
  return (
    <g className="rank-marks">
      {placed.map((m, i) => (
        <text key={m.text} className="recharts-label" x={lefts[i]} y={plot.y - 5} fontSize={size} fill={m.color}>
          {m.text}
        </text>
      ))}
    </g>
  );
}
