/**
 * A rows × columns heatmap drawn by hand (recharts has none), for the per-layer map: one cell per
 * (row, column) with its value written in and a tooltip, a blank dash where nothing sits, marked
 * rows outlined with a dot before their label, both axes titled and a colour legend with its unit;
 * rows apart from the grid (a model's embeddings above its layers, its head below) as one cell
 * across the grid's width, set off by a gap and an italic label.
 * Laid out for the width of its box (cells widen to fill it), so its text is drawn at the page's
 * chart type size rather than scaled with the card (a 30-layer map scaled to a narrow card would
 * shrink its numbers past reading); only a box narrower than the grid's least width scales it
 * down. Margins are sized from the labels, so none is cut.
 */
import { useLayoutEffect, useMemo, useRef, useState, type RefObject } from 'react';
import { INK } from './chart-text.js';
import { textWidth } from './text-width.js';

/** What one cell shows; undefined for a (row, column) where nothing sits. */
export interface GridCell {
  /** The number drawn (data-value); null: the cell holds tensors but has no value for this metric. */
  readonly value: number | null;
  readonly text: string;
  readonly color: string;
  readonly ink: string;
  readonly tooltip: string;
  /** data-* attributes for tests and tools (keys without the data- prefix). */
  readonly data: Readonly<Record<string, string | number>>;
}

export interface LegendStop {
  readonly label: string;
  readonly color: string;
}

export interface SpanRow {
  readonly label: string;
  readonly cell: GridCell;
}

export interface LayerGridProps {
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  readonly cell: (row: number, column: number) => GridCell | undefined;
  /** Rows apart, above and below the grid: one cell across its width each. */
  readonly before?: readonly SpanRow[];
  readonly after?: readonly SpanRow[];
  /** Row indices to outline (the layers where the experts disagree most). */
  readonly marked?: ReadonlySet<number>;
  /** What the outline means, written under the legend. */
  readonly markedLegend?: string;
  readonly rowsTitle: string;
  readonly columnsTitle: string;
  readonly legend: readonly LegendStop[];
  /** The colour legend's title: the metric and its unit. */
  readonly legendTitle: string;
  readonly label: string;
  /** data-grid on the SVG. */
  readonly id: string;
  /** Text size in px (the charts' type scale: larger in presentation mode). */
  readonly fontSize: number;
}

const SLANT = Math.PI / 4;
const BLANK = '#eef1f5';

/** The width of the element `ref` points at, followed as it changes (undefined before the first layout). */
function useBoxWidth(): [RefObject<HTMLDivElement | null>, number | undefined] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState<number>();
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

/** One cell: its colour, its number (or a dash) and its tooltip; data-* attributes for tests. */
function Cell({ c, x, y, w, h, font }: { c: GridCell; x: number; y: number; w: number; h: number; font: number }) {
  const data = Object.fromEntries(Object.entries(c.data).map(([k, v]) => [`data-${k}`, v]));
  return (
    <g className="grid-cell" data-value={c.value ?? ''} {...data}>
      <rect x={x} y={y} width={w - 1} height={h - 1} fill={c.value === null ? BLANK : c.color}>
        <title>{c.tooltip}</title>
      </rect>
      <text x={x + w / 2} y={y + h / 2} textAnchor="middle" dominantBaseline="middle" fontSize={font - 1} fill={c.value === null ? '#4a5568' : c.ink} pointerEvents="none">
        {c.text}
      </text>
    </g>
  );
}

export function LayerGrid({ rows, columns, cell, before = [], after = [], marked, markedLegend, rowsTitle, columnsTitle, legend, legendTitle, label, id, fontSize: FONT }: LayerGridProps) {
  const [box, boxWidth] = useBoxWidth();
  const layout = useMemo(() => {
    const cellH = Math.round(FONT * 1.85);
    const dot = FONT;
    const rowLabel = Math.max(0, ...rows.map((r) => textWidth(r, FONT, true)), ...[...before, ...after].map((r) => textWidth(r.label, FONT, true)));
    const colLabel = Math.max(0, ...columns.map((c) => textWidth(c, FONT)));
    const left = FONT + 10 + dot + rowLabel + 8;
    // Column labels slanted up and right from each column's centre, under the columns' title.
    const top = Math.ceil(colLabel * Math.sin(SLANT) + FONT + 6) + FONT + 8;
    // Cells share the box's width, between a least width that holds "100" or "−0.25" and a most
    // beyond which a number floats in its cell; the slanted labels' reach past the grid is kept free.
    const reach = colLabel * Math.cos(SLANT) + FONT;
    const least = Math.ceil(FONT * 3);
    const most = FONT * 7;
    const avail = (boxWidth ?? 0) - left - 8;
    const cellW = Math.floor(Math.max(least, Math.min(most, (avail - Math.max(0, reach - least / 2)) / columns.length)));
    const gap = Math.round(cellH / 2);
    const gridW = columns.length * cellW;
    // The layers' first row, below the rows apart above them.
    const layersTop = top + (before.length ? before.length * cellH + gap : 0);
    const afterTop = layersTop + rows.length * cellH + gap;
    const bottom = after.length ? afterTop + after.length * cellH : layersTop + rows.length * cellH;
    const right = Math.max(8, Math.ceil(reach - cellW / 2) + 4);
    const swatch = Math.round(FONT * 1.3);
    const stopW = swatch + 4 + Math.max(...legend.map((s) => textWidth(s.label, FONT - 1))) + 10;
    const legendX = FONT + 10;
    const legendLines = [legendTitle, ...(markedLegend && marked && marked.size > 0 ? [markedLegend] : [])];
    const drawn = Math.ceil(Math.max(left + gridW + right, legendX + legend.length * stopW, ...legendLines.map((l, i) => legendX + (i === 1 ? dot + 4 : 0) + textWidth(l, FONT))) + 4);
    // As wide as the box (drawn at 1:1), or wider when the grid needs it (then scaled down to fit).
    const width = Math.max(drawn, Math.floor(boxWidth ?? 0));
    const legendTop = bottom + 12;
    const lineH = FONT + 8;
    const height = legendTop + FONT + 4 + legendLines.length * lineH + 4;
    return { left, top, gridW, width, height, stopW, swatch, legendX, legendTop, legendLines, lineH, cellW, cellH, dot, layersTop, afterTop };
  }, [rows, columns, before, after, legend, legendTitle, markedLegend, marked, FONT, boxWidth]);
  const { left, top, gridW, width, height, stopW, swatch, legendX, legendTop, legendLines, lineH, cellW, cellH, dot, layersTop, afterTop } = layout;
  const mid = layersTop + (rows.length * cellH) / 2;
  const rowLabel = (key: string, text: string, y: number, on: boolean, apart: boolean) => (
    <g key={key} data-row-label={text} data-marked={on ? 'true' : 'false'}>
      {on && <circle cx={FONT + 10 + dot / 2} cy={y} r={dot / 2 - 1} fill={INK} />}
      <text x={left - 6} y={y} textAnchor="end" dominantBaseline="middle" fontSize={FONT} fontWeight={on ? 'bold' : 'normal'} fontStyle={apart ? 'italic' : 'normal'} fill={INK}>
        {text}
      </text>
    </g>
  );
  return (
    <div ref={box}>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={label} className="heatmap layer-grid" data-grid={id} preserveAspectRatio="xMinYMin meet">
        <text x={FONT} y={mid} transform={`rotate(-90 ${FONT} ${mid})`} textAnchor="middle" fontSize={FONT} fill={INK} className="axis-title">
          {rowsTitle}
        </text>
        <text x={left + gridW / 2} y={FONT} textAnchor="middle" fontSize={FONT} fill={INK} className="axis-title">
          {columnsTitle}
        </text>
        {columns.map((c, j) => (
          <text key={`c${j}`} transform={`translate(${left + j * cellW + cellW / 2},${top - 6}) rotate(-45)`} fontSize={FONT} fill={INK}>
            {c}
          </text>
        ))}
        {before.map((r, i) => [rowLabel(`b${i}`, r.label, top + i * cellH + cellH / 2, false, true), <Cell key={`bc${i}`} c={r.cell} x={left} y={top + i * cellH} w={gridW} h={cellH} font={FONT} />])}
        {rows.map((r, i) => rowLabel(`r${i}`, r, layersTop + i * cellH + cellH / 2, marked?.has(i) ?? false, false))}
        {rows.map((_, i) =>
          columns.map((__, j) => {
            const c = cell(i, j);
            const x = left + j * cellW;
            const y = layersTop + i * cellH;
            return c ? <Cell key={`${i}-${j}`} c={c} x={x} y={y} w={cellW} h={cellH} font={FONT} /> : <rect key={`${i}-${j}`} x={x} y={y} width={cellW - 1} height={cellH - 1} fill="#ffffff" stroke={BLANK} />;
          }),
        )}
        {after.map((r, i) => [rowLabel(`a${i}`, r.label, afterTop + i * cellH + cellH / 2, false, true), <Cell key={`ac${i}`} c={r.cell} x={left} y={afterTop + i * cellH} w={gridW} h={cellH} font={FONT} />])}
        {marked &&
          [...marked].map((i) => <rect key={`m${i}`} x={left - 1} y={layersTop + i * cellH - 1} width={gridW + 1} height={cellH + 1} fill="none" stroke={INK} strokeWidth={2} pointerEvents="none" className="marked-row" />)}
        <g transform={`translate(${legendX},${legendTop})`} className="color-legend">
          {legend.map((s, k) => (
            <g key={k} transform={`translate(${k * stopW},0)`}>
              <rect width={swatch} height={FONT} fill={s.color} stroke="#c9d1dc" />
              <text x={swatch + 4} y={FONT - 2} fontSize={FONT - 1} fill={INK}>
                {s.label}
              </text>
            </g>
          ))}
          {legendLines.map((line, i) => (
            <g key={`l${i}`} transform={`translate(0,${FONT + 4 + (i + 1) * lineH - 6})`}>
              {i === 1 && <circle cx={dot / 2} cy={-FONT / 2 + 2} r={dot / 2 - 1} fill={INK} />}
              <text x={i === 1 ? dot + 4 : 0} y={0} fontSize={FONT} fill={INK}>
                {line}
              </text>
            </g>
          ))}
        </g>
      </svg>
    </div>
  );
}
