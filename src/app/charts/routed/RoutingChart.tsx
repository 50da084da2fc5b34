/**
 * Chart (d) for Twin-Merging: where the router sends each task's inputs. The mean routing weight
 * per true task (rows) over the routed tasks (columns) — a perfect router is the identity; the
 * weights of a few test inputs per task; the router's training curve and, in hard mode, how the
 * task that shares its inputs with another fares. Each part titled where it is drawn.
 */
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { useLabStore } from '../../store/index.js';
import { ChartFrame } from '../ChartFrame.js';
import { Drawn } from '../Drawn.js';
import { Heatmap } from '../Heatmap.js';
import { useModelLabel } from '../labels.js';
import { seriesColor } from '../palette.js';
import { useChartText } from '../chart-text.js';
import { niceTicks } from '../LmEvalChart.js';
import { legendHeight, plotBox } from '../plot-box.js';
import { SubChart } from '../SubChart.js';
import { SPLIT_NAME } from './routed-axes.js';

const WEIGHT_DOMAIN: [number, number] = [0, 1];
const WEIGHT_TICKS = [0, 0.25, 0.5, 0.75, 1];
const PERCENT: [number, number] = [0, 100];
const PERCENT_TICKS = [0, 25, 50, 75, 100];
// The training curve's legend, for its box's room (plot-box.ts).
const CURVE_LEGEND = ['loss', 'routing accuracy', 'held-out loss', 'held-out routing accuracy'];

export function RoutingChart() {
  const chart = useLabStore((s) => s.twinView);
  const label = useModelLabel();
  const t = useChartText();
  const v = chart.shown?.data;
  const routing = v?.routing;
  const labels = (routing?.tasks ?? []).map(label);
  // Task ids (no spaces) keep the axis labels on one line each.
  const samples = (routing?.samples ?? []).map((x, i) => ({ sample: `${x.task}·${x.index}`, key: i, ...Object.fromEntries(x.weights.map((w, j) => [`w${j}`, w])) }));
  const curve = (v?.curve ?? []).map((e) => ({
    epoch: e.epoch,
    loss: e.loss,
    accuracy: 100 * e.accuracy,
    ...(e.validationLoss !== undefined ? { heldLoss: e.validationLoss } : {}),
    ...(e.validationAccuracy !== undefined ? { heldAccuracy: 100 * e.validationAccuracy } : {}),
  }));
  // Round loss ticks (recharts' own read 0.105, 0.035), four at most in a card-sized plot.
  const lossTicks = niceTicks(0, Math.max(0, ...curve.flatMap((e) => [e.loss, e.heldLoss ?? 0]).filter(Number.isFinite)), 4);
  return (
    <ChartFrame
      id="routing"
      title="Routing weights"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      caption={
        v && routing ? (
          <>
            Where the router sends each task's {SPLIT_NAME[v.settings.split]} inputs (temperature {v.settings.temperature.toFixed(2)}, top-{v.settings.topK}). It picks the true task for{' '}
            <strong data-routing-accuracy={routing.accuracy}>{(100 * routing.accuracy).toFixed(1)}%</strong> of inputs
            {v.hard.length > 0 ? '; the hard task shares its inputs with another, so no router can tell them apart' : ''}. The {v.settings.router.architecture} router trained on three quarters of the
            validation split ({v.routerSamples.training} inputs) for {v.curve.length} epochs ({Math.round(v.routerTrainingMs)} ms); the other quarter ({v.routerSamples.heldOut}) drew its
            held-out curve and chose epoch <strong data-router-best-epoch={v.routerBestEpoch}>{v.routerBestEpoch}</strong>, the lowest held-out loss.
          </>
        ) : (
          'The mean routing weight per true task, a few inputs’ weights, and the router’s training curve.'
        )
      }
      csv={{ header: ['true_task', ...labels.map((l) => `mean_weight_${l}`)], rows: (routing?.meanWeights ?? []).map((r, i) => [labels[i], ...r]) }}
    >
      {v && routing && (
        <Drawn
          deps={[v.routing, v.curve, v.hard, label, t, lossTicks.join()]}
          draw={() => (
            <div className="chart-pair">
              <SubChart id="mean-routing" title="Mean routing weight per true task" help="Row: the inputs of one task; column: the task the router weighs. A perfect router is the diagonal.">
                <Heatmap labels={labels} values={routing.meanWeights} scale="sequential" cell={labels.length > 5 ? 38 : 44} rows="true task of the input" columns="routed to" legend="mean routing weight (0 … 1)" describe={(a, b, x) => `inputs of ${a}: mean weight on ${b} = ${x.toFixed(3)}`} />
              </SubChart>
              <SubChart id="sample-routing" title="A few inputs, one bar each" help={`The routing weights of single ${SPLIT_NAME[v.settings.split]} inputs (task · index), stacked to 1.`}>
                <BarChart responsive style={{ width: '100%', height: Math.max(260, Math.ceil(t.size * 1.3) * samples.length + t.margin.top + legendHeight(t, labels) + t.xHeight + t.margin.bottom) }} data={samples} layout="vertical" barCategoryGap={1} margin={t.margin}>
                  <XAxis type="number" domain={WEIGHT_DOMAIN} ticks={WEIGHT_TICKS} tick={t.tick} height={t.xHeight} label={t.xTitle('routing weight (0 … 1)')} />
                  <YAxis type="category" dataKey="sample" width={Math.round(t.size * 9)} tick={t.tick} interval={0} label={t.yTitle(`${SPLIT_NAME[v.settings.split]} input`)} />
                  <Tooltip formatter={(x) => Number(x).toFixed(3)} />
                  <Legend verticalAlign="top" wrapperStyle={t.legend} />
                  {labels.map((l, j) => (
                    <Bar key={j} dataKey={`w${j}`} name={l} stackId="w" fill={seriesColor(j)} isAnimationActive={false} />
                  ))}
                </BarChart>
              </SubChart>
              <SubChart
                id="router-training"
                title="The router's training"
                help="Loss (left axis) and routing accuracy (right axis), epoch by epoch: on the training quarters of the validation split (solid) and on its held-out quarter (dashed)."
              >
                <LineChart responsive style={plotBox(t, 1.8, { legend: CURVE_LEGEND, lines: 12 })} data={curve} margin={t.margin}>
                  <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                  <XAxis dataKey="epoch" tick={t.tick} height={t.xHeight} label={t.xTitle('epoch')} />
                  <YAxis yAxisId="loss" domain={[0, lossTicks.at(-1)!]} ticks={lossTicks} tick={t.tick} width={t.yWidth} label={t.yTitle('loss (cross-entropy)')} />
                  <YAxis yAxisId="acc" orientation="right" unit="%" domain={PERCENT} ticks={PERCENT_TICKS} tick={t.tick} width={t.yWidth} label={t.yTitle('routing accuracy (%)', 'right')} />
                  <Tooltip formatter={(x, n) => (n === 'loss' || n === 'held-out loss' ? Number(x).toFixed(3) : `${Number(x).toFixed(1)}%`)} />
                  <Legend verticalAlign="top" wrapperStyle={t.legend} />
                  <Line yAxisId="loss" dataKey="loss" name="loss" stroke="#1c2430" isAnimationActive={false} />
                  <Line yAxisId="acc" dataKey="accuracy" name="routing accuracy" stroke="#009E73" isAnimationActive={false} />
                  <Line yAxisId="loss" dataKey="heldLoss" name="held-out loss" stroke="#1c2430" strokeDasharray="5 3" isAnimationActive={false} />
                  <Line yAxisId="acc" dataKey="heldAccuracy" name="held-out routing accuracy" stroke="#009E73" strokeDasharray="5 3" isAnimationActive={false} />
                </LineChart>
              </SubChart>
              {v.hard.length > 0 && (
                <SubChart id="hard-task" title="The hard task" help="Its inputs are another task's: how many the router sends to it, and its accuracy with the router, with oracle routing and its own expert.">
                <table className="grid hard-tasks" aria-label="Hard tasks">
                  <thead>
                    <tr>
                      <th scope="col">hard task</th>
                      <th scope="col" title="share of its inputs routed to it">routed here</th>
                      <th scope="col" title="accuracy with the router">router</th>
                      <th scope="col" title="accuracy with oracle routing">oracle</th>
                      <th scope="col" title="its own expert's accuracy">expert</th>
                    </tr>
                  </thead>
                  <tbody>
                    {v.hard.map((h) => (
                      <tr key={h.task} data-task={h.task} data-routing={h.routing}>
                        <th scope="row">{label(h.task)}</th>
                        <td className="num">{(100 * h.routing).toFixed(1)}%</td>
                        <td className="num">{(100 * h.router).toFixed(1)}%</td>
                        <td className="num">{(100 * h.oracle).toFixed(1)}%</td>
                        <td className="num">{(100 * h.expert).toFixed(1)}%</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                </SubChart>
              )}
            </div>
          )}
        />
      )}
    </ChartFrame>
  );
}
