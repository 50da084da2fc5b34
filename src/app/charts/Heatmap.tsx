/**
 * A labelled square matrix as an SVG heatmap (recharts has no heatmap): one cell per pair with its
 * value written in, a tooltip per cell, both axes titled and a colour legend with its title. Used
 * for task-vector cosines, subspace overlaps, routing weights and shared groups. The SVG scales to
 * its box (viewBox), so it fills its card like the recharts charts; its margins are sized from its
 * labels, so none is cut.
 */
import { useMemo } from 'react';
import { INK } from './chart-text.js';
import { divergingColor, inkOn, sequentialColor } from './palette.js';
import { textWidth } from './text-width.js';

export interface HeatmapProps {
  readonly labels: readonly string[];
  readonly values: readonly (readonly number[])[];
  /** 'diverging': [−1, 1] blue–white–red; 'sequential': [0, 1] white–blue. */
  readonly scale: 'diverging' | 'sequential';
  /** What a cell means, for its tooltip: (row, column, value) → text. */
  readonly describe: (row: string, col: string, v: number) => string;
  /** The colour legend's title: what a cell's value is, with its unit or range. */
  readonly legend: string;
  /** The rows' and the columns' axis titles. */
  readonly rows: string;
  readonly columns: string;
  readonly cell?: number;
}

const FONT = 12;
const SLANT = Math.PI / 4;

export function Heatmap({ labels, values, scale, describe, legend, rows, columns, cell = 44 }: HeatmapProps) {
  const layout = useMemo(() => {
    const longest = Math.max(0, ...labels.map((l) => textWidth(l, FONT)));
    const n = labels.length;
    // Row labels right-aligned left of the cells, after the rows' title (rotated, one line).
    const left = FONT + 10 + longest + 8;
    // Column labels slanted up and right from each column's centre: they need this much room above.
    const top = Math.ceil(longest * Math.sin(SLANT) + FONT + 6) + FONT + 8;
    const reach = longest * Math.cos(SLANT) + FONT;
    const grid = n * cell;
    const right = Math.max(8, Math.ceil(reach - cell / 2) + 4);
    const stops = [0, 0.25, 0.5, 0.75, 1];
    const stopWidth = 16 + 4 + textWidth('−0.75', FONT - 1) + 8;
    const legendTitle = textWidth(legend, FONT);
    const width = Math.ceil(Math.max(left + grid + right, left + stops.length * stopWidth, left + legendTitle) + 4);
    const height = top + grid + 12 + 14 + 8 + FONT + 6;
    return { left, top, grid, width, height, stopWidth, stops };
  }, [labels, legend, cell]);
  const { left, top, grid, width, height, stopWidth, stops } = layout;
  const color = scale === 'diverging' ? divergingColor : sequentialColor;
  const lo = scale === 'diverging' ? -1 : 0;
  const mid = top + grid / 2;
  return (
    <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={`${rows} by ${columns}: ${legend}`} className="heatmap" preserveAspectRatio="xMinYMin meet">
      <text x={FONT} y={mid} transform={`rotate(-90 ${FONT} ${mid})`} textAnchor="middle" fontSize={FONT} fill={INK} className="axis-title">
        {rows}
      </text>
      <text x={left + grid / 2} y={FONT} textAnchor="middle" fontSize={FONT} fill={INK} className="axis-title">
        {columns}
      </text>
      {labels.map((l, i) => (
        <text key={`r${i}`} x={left - 6} y={top + i * cell + cell / 2} textAnchor="end" dominantBaseline="middle" fontSize={FONT} fill={INK}>
          {l}
        </text>
      ))}
      {labels.map((l, j) => (
        <text key={`c${j}`} transform={`translate(${left + j * cell + cell / 2},${top - 6}) rotate(-45)`} fontSize={FONT} fill={INK}>
          {l}
        </text>
      ))}
      {values.map((row, i) =>
        row.map((v, j) => (
          <g key={`${i}-${j}`} data-row={labels[i]} data-col={labels[j]} data-value={v}>
            <rect x={left + j * cell} y={top + i * cell} width={cell - 1} height={cell - 1} fill={color(v)}>
              <title>{describe(labels[i]!, labels[j]!, v)}</title>
            </rect>
            <text x={left + j * cell + cell / 2} y={top + i * cell + cell / 2} textAnchor="middle" dominantBaseline="middle" fontSize={FONT - 1} fill={inkOn(v, scale === 'diverging')} pointerEvents="none">
              {v.toFixed(2)}
            </text>
          </g>
        )),
      )}
      <g transform={`translate(${left},${top + grid + 12})`} className="color-legend">
        {stops.map((t, k) => {
          const v = lo + t * (1 - lo);
          return (
            <g key={k} transform={`translate(${k * stopWidth},0)`}>
              <rect width={16} height={12} fill={color(v)} stroke="#c9d1dc" />
              <text x={20} y={10} fontSize={FONT - 1} fill={INK}>
                {/* 0.25 as 0.25, not 0.3: the swatch is that value's colour. */}
                {String(Number(v.toFixed(2)))}
              </text>
            </g>
          );
        })}
        <text x={0} y={14 + 8 + FONT} fontSize={FONT} fill={INK}>
          {legend}
        </text>
      </g>
    </svg>
  );
}
