/**
 * A labelled square matrix as an SVG heatmap (recharts has no heatmap): one cell per pair with its
 * value written in, a tooltip per cell, and a colour legend. Used for task-vector cosines and
 * subspace overlaps.
 */
import { divergingColor, inkOn, sequentialColor } from './palette.js';

export interface HeatmapProps {
  readonly labels: readonly string[];
  readonly values: readonly (readonly number[])[];
  /** 'diverging': [−1, 1] blue–white–red; 'sequential': [0, 1] white–blue. */
  readonly scale: 'diverging' | 'sequential';
  /** What a cell means, for its tooltip: (row, column, value) → text. */
  readonly describe: (row: string, col: string, v: number) => string;
  readonly legend: string;
  readonly cell?: number;
}

export function Heatmap({ labels, values, scale, describe, legend, cell = 44 }: HeatmapProps) {
  const left = 112;
  const top = 72;
  const n = labels.length;
  const width = left + n * cell + 16;
  const height = top + n * cell + 40;
  const color = scale === 'diverging' ? divergingColor : sequentialColor;
  const lo = scale === 'diverging' ? -1 : 0;
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => lo + t * (1 - lo));
  return (
    <svg width={width} height={height} role="img" aria-label={legend} className="heatmap">
      {labels.map((l, i) => (
        <text key={`r${i}`} x={left - 6} y={top + i * cell + cell / 2} textAnchor="end" dominantBaseline="middle" fontSize={12} fill="#1c2430">
          {l}
        </text>
      ))}
      {labels.map((l, j) => (
        <text key={`c${j}`} transform={`translate(${left + j * cell + cell / 2},${top - 6}) rotate(-40)`} fontSize={12} fill="#1c2430">
          {l}
        </text>
      ))}
      {values.map((row, i) =>
        row.map((v, j) => (
          <g key={`${i}-${j}`} data-row={labels[i]} data-col={labels[j]} data-value={v}>
            <rect x={left + j * cell} y={top + i * cell} width={cell - 1} height={cell - 1} fill={color(v)}>
              <title>{describe(labels[i]!, labels[j]!, v)}</title>
            </rect>
            <text x={left + j * cell + cell / 2} y={top + i * cell + cell / 2} textAnchor="middle" dominantBaseline="middle" fontSize={11} fill={inkOn(v, scale === 'diverging')} pointerEvents="none">
              {v.toFixed(2)}
            </text>
          </g>
        )),
      )}
      <g transform={`translate(${left},${top + n * cell + 12})`}>
        {stops.map((v, k) => (
          <g key={k} transform={`translate(${k * 44},0)`}>
            <rect width={16} height={12} fill={color(v)} stroke="#c9d1dc" />
            <text x={20} y={10} fontSize={10} fill="#4a5568">
              {v.toFixed(1)}
            </text>
          </g>
        ))}
        <text x={stops.length * 44 + 4} y={10} fontSize={10} fill="#4a5568">
          {legend}
        </text>
      </g>
    </svg>
  );
}
