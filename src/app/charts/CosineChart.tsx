/**
 * Chart (b): how alike the task vectors are. The pairwise cosine of the flattened task vectors
 * (whole model, or one tensor), and per tensor (per layer for a transformer's) the mean cosine
 * between different tasks — the interference a plain sum of task vectors runs into.
 */
import { useState } from 'react';
import { Bar, BarChart, CartesianGrid, Tooltip, YAxis } from 'recharts';
import type { Diagnostics } from '../../engine/diagnostics/diagnose.js';
import { useLabStore } from '../store/index.js';
import { CategoryXAxis, wrappedAxisHeight } from './category-axis.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn, useStable } from './Drawn.js';
import { Heatmap } from './Heatmap.js';
import { useModelLabel } from './labels.js';
import { useChartText } from './chart-text.js';
import { plotBox } from './plot-box.js';
import { ONE_VECTOR } from './SignConflictChart.js';
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

/**
 * One bar per layer when the checkpoints have a layer stack, as the sign conflicts are drawn: a
 * transformer's tensors are too many, and their names too long, for a readable bar each. A layer's
 * value is its tensors' mean cosines weighted by their sizes; tensors in no layer (embeddings,
 * head) are left out, as in the sign-conflict chart.
 */
function perPart(d: Diagnostics): { readonly byLayer: boolean; readonly rows: { readonly name: string; readonly cosine: number }[] } {
  if (d.layers.length <= 1) return { byLayer: false, rows: d.tensors.map((t) => ({ name: t.name, cosine: meanOffDiagonal(t.cosine) })) };
  const sums = new Map<number, { weighted: number; size: number }>();
  for (const t of d.tensors) {
    if (t.layer === undefined) continue;
    const s = sums.get(t.layer) ?? { weighted: 0, size: 0 };
    s.weighted += meanOffDiagonal(t.cosine) * t.size;
    s.size += t.size;
    sums.set(t.layer, s);
  }
  return { byLayer: true, rows: d.layers.map((l) => ({ name: `layer ${l.layer}`, cosine: (sums.get(l.layer)?.weighted ?? 0) / (sums.get(l.layer)?.size || 1) })) };
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
  const parts = d ? perPart(d) : { byLayer: false, rows: [] };
  const single = d !== undefined && d.models.length < 2;
  return (
    <ChartFrame
      id="task-cosines"
      title="Task-vector similarity"
      status={chart.status}
      error={chart.error}
      seq={chart.shown?.seq}
      empty={single ? ONE_VECTOR('cosines between them') : undefined}
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
      {d && !single && (
        <Drawn
          deps={[d, scope, label, t]}
          draw={() => (
        <div className="chart-pair">
          <SubChart id="cosine-matrix" title="Cosine, pair by pair" help={`Each cell: the cosine of two experts' task vectors over ${tensor ? tensor.name : 'the whole model'}.`}>
            <Heatmap labels={labels} values={matrix} scale="diverging" rows="task vector" columns="task vector" legend="cosine (−1 … 1)" describe={(a, b, v) => `cos(τ ${a}, τ ${b}) = ${v.toFixed(3)}`} />
          </SubChart>
          <SubChart
            id="cosine-per-tensor"
            title={parts.byLayer ? 'Mean cosine per layer' : 'Mean cosine per tensor'}
            help={
              parts.byLayer
                ? "Each layer's mean cosine between different experts' task vectors (its tensors', weighted by their sizes; embeddings and head are in no layer)."
                : "Each tensor's mean cosine between different experts' task vectors."
            }
          >
            <BarChart responsive style={plotBox(t, 1.2, { xHeight: wrappedAxisHeight(t) })} data={parts.rows} margin={t.margin}>
              <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
              <CategoryXAxis dataKey="name" names={parts.rows.map((r) => r.name)} t={t} title={parts.byLayer ? 'layer' : 'tensor'} />
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
