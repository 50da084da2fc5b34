/**
 * Chart (d) for Twin-Merging: where the router sends each task's inputs. Left, the mean routing
 * weight per true task (rows) over the routed tasks (columns) — a perfect router is the identity;
 * right, the weights of a few test inputs per task. Below, the router's training curve and, in
 * hard mode, how the task that shares its inputs with another fares.
 */
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from 'recharts';
import { useLabStore } from '../../store/index.js';
import { ChartFrame } from '../ChartFrame.js';
import { Drawn } from '../Drawn.js';
import { Heatmap } from '../Heatmap.js';
import { useModelLabel } from '../labels.js';
import { seriesColor } from '../palette.js';

export function RoutingChart() {
  const chart = useLabStore((s) => s.twinView);
  const label = useModelLabel();
  const v = chart.shown?.data;
  const routing = v?.routing;
  const labels = (routing?.tasks ?? []).map(label);
  // Task ids (no spaces) keep the axis labels on one line each.
  const samples = (routing?.samples ?? []).map((x, i) => ({ sample: `${x.task}·${x.index}`, key: i, ...Object.fromEntries(x.weights.map((w, j) => [`w${j}`, w])) }));
  const curve = (v?.curve ?? []).map((e) => ({ epoch: e.epoch, loss: e.loss, accuracy: 100 * e.accuracy }));
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
            Row t: the router's mean weight over the test inputs of task t, per task it routes to (temperature {v.settings.temperature.toFixed(2)}, top-{v.settings.topK}). It picks the
            true task for <strong data-routing-accuracy={routing.accuracy}>{(100 * routing.accuracy).toFixed(1)}%</strong> of inputs
            {v.hard.length > 0 ? '; the hard task shares its inputs with another, so no router can tell them apart' : ''}. Right: a few inputs each; below: the router's training on the
            validation split ({v.curve.length} epochs, {Math.round(v.routerTrainingMs)} ms).
          </>
        ) : (
          'The mean routing weight per true task, a few inputs’ weights, and the router’s training curve.'
        )
      }
      csv={{ header: ['true_task', ...labels.map((l) => `mean_weight_${l}`)], rows: (routing?.meanWeights ?? []).map((r, i) => [labels[i], ...r]) }}
    >
      {v && routing && (
        <Drawn
          deps={[v.routing, v.curve, v.hard, label]}
          draw={() => (
            <div className="chart-pair">
              <Heatmap labels={labels} values={routing.meanWeights} scale="sequential" cell={labels.length > 5 ? 38 : 44} legend="mean routing weight" describe={(a, b, x) => `inputs of ${a}: mean weight on ${b} = ${x.toFixed(3)}`} />
              <BarChart width={340} height={Math.max(220, 13 * samples.length + 70)} data={samples} layout="vertical" barCategoryGap={1} margin={{ top: 8, right: 8, bottom: 8, left: 8 }}>
                <XAxis type="number" domain={[0, 1]} ticks={[0, 0.25, 0.5, 0.75, 1]} tick={{ fontSize: 10 }} />
                <YAxis type="category" dataKey="sample" width={128} tick={{ fontSize: 9 }} interval={0} />
                <Tooltip formatter={(x) => Number(x).toFixed(3)} />
                <Legend wrapperStyle={{ fontSize: 11 }} />
                {labels.map((l, j) => (
                  <Bar key={j} dataKey={`w${j}`} name={l} stackId="w" fill={seriesColor(j)} isAnimationActive={false} />
                ))}
              </BarChart>
              <LineChart width={300} height={180} data={curve} margin={{ top: 8, right: 8, bottom: 16, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="epoch" tick={{ fontSize: 11 }} label={{ value: 'epoch', position: 'insideBottom', offset: -8, fontSize: 11 }} />
                <YAxis yAxisId="loss" tick={{ fontSize: 11 }} />
                <YAxis yAxisId="acc" orientation="right" unit="%" domain={[0, 100]} tick={{ fontSize: 11 }} />
                <Tooltip formatter={(x, n) => (n === 'loss' ? Number(x).toFixed(3) : `${Number(x).toFixed(1)}%`)} />
                <Legend wrapperStyle={{ fontSize: 12 }} />
                <Line yAxisId="loss" dataKey="loss" name="loss" stroke="#1c2430" isAnimationActive={false} />
                <Line yAxisId="acc" dataKey="accuracy" name="routing accuracy" stroke="#009E73" isAnimationActive={false} />
              </LineChart>
              {v.hard.length > 0 && (
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
              )}
            </div>
          )}
        />
      )}
    </ChartFrame>
  );
}
