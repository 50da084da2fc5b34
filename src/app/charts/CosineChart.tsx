/**
 * Chart (b): how alike the task vectors are. The pairwise cosine of the flattened task vectors
 * (whole model, or one tensor), and per tensor the mean cosine between different tasks — the
 * interference a plain sum of task vectors runs into.
 */
import { useState } from 'react';
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from 'recharts';
import { useLabStore } from '../store/index.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn, useStable } from './Drawn.js';
import { Heatmap } from './Heatmap.js';
import { useModelLabel } from './labels.js';
import { useChartText } from './chart-text.js';
import { SubChart } from './SubChart.js';

const COSINE_DOMAIN: [number, number] = [-1, 1];
const cosineFormatter = (v: unknown) => Number(v).toFixed(3);

function meanOffDiagonal(c: readonly (readonly number[])[]): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < c.length; i++) for (let j = 0; j < c.length; j++) if (i !== j) {
        sum += c[i]![j]!;
        n++;
      }
  return n ? sum / n : 0;
}

export function CosineChart() {
  const chart = useLabStore((s) => s.diagnostics);
  const label = useModelLabel();
  const t = useChartText();
  const [scope, setScope] = useState('');
  const answer = chart.shown?.data;
  // A density or λ move re-asks the diagnostics, but cosines of the untrimmed task vectors stay.
  const d = useStable(answer, answer ? JSON.stringify([answer.models, answer.overall.cosine, answer.tensors.map((t) => [t.name, t.cosine])]) : '');
  const tensor = d?.tensors.find((t) => t.name === scope);
  const matrix = tensor?.cosine ?? d?.overall.cosine ?? [];
  const labels = (d?.models ?? []).map(label);
  const perTensor = (d?.tensors ?? []).map((t) => ({ name: t.name, cosine: meanOffDiagonal(t.cosine) }));
  return (
    <ChartFrame
      id="task-cosines"
      title="Task-vector similarity"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      caption="How alike the experts' changes are: the cosine of their task vectors (expert − base), pair by pair and per tensor. Near 0 the experts changed unrelated directions; negative, they pull against each other."
      controls={
        <p className="field">
          <label htmlFor="cosine-scope">Cosines of</label>{' '}
          <select id="cosine-scope" value={tensor ? scope : ''} onChange={(e) => setScope(e.target.value)}>
            <option value="">the whole model</option>
            {d?.tensors.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </p>
      }
      csv={{ header: ['model', ...labels.map((l) => `cosine_with_${l}`), 'scope'], rows: matrix.map((r, i) => [labels[i], ...r, tensor ? tensor.name : 'whole model']) }}
    >
      {d && (
        <Drawn
          deps={[d, scope, label, t]}
          draw={() => (
        <div className="chart-pair">
          <SubChart id="cosine-matrix" title="Cosine, pair by pair" help={`Each cell: the cosine of two experts' task vectors over ${tensor ? tensor.name : 'the whole model'}.`}>
            <Heatmap labels={labels} values={matrix} scale="diverging" rows="task vector" columns="task vector" legend="cosine (−1 … 1)" describe={(a, b, v) => `cos(τ ${a}, τ ${b}) = ${v.toFixed(3)}`} />
          </SubChart>
          <SubChart id="cosine-per-tensor" title="Mean cosine per tensor" help="Each tensor's mean cosine between different experts' task vectors.">
            <BarChart responsive style={t.box(1.2)} data={perTensor} margin={t.margin}>
              <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
              <XAxis dataKey="name" tick={t.tick} interval={0} height={t.xHeight} label={t.xTitle('tensor')} />
              <YAxis domain={COSINE_DOMAIN} tick={t.tick} width={t.yWidth} label={t.yTitle('mean cosine (−1 … 1)')} />
              <Tooltip formatter={cosineFormatter} />
              <Bar dataKey="cosine" name="mean cosine between tasks" fill="#009E73" isAnimationActive={false} />
            </BarChart>
          </SubChart>
        </div>
          )}
        />
      )}
    </ChartFrame>
  );
}
