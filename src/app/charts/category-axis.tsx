/**
 * An x axis of names (tensors, tasks, domains) laid out for the room each name has: straight where
 * they fit, broken after their dots, underscores or spaces where a name is wider than its bar's
 * slot ("hidden." over "weight"), slanted where a word alone is too wide ("germanic" in six slots
 * of a presentation-size card). recharts draws category names straight whatever their width, and
 * at room-sized type the tensors' names ran into one line ("hidden.weighhidden.biashead.weight").
 * The axis grows by the lines or the slant it needs, so its title stays under the names.
 */
import { useMemo, type ReactElement } from 'react';
import { XAxis, usePlotArea, type XAxisProps, type XAxisTickContentProps } from 'recharts';
import type { ChartText } from './chart-text.js';
import { textWidth } from './text-width.js';

/** Room between two neighbouring names, px. */
const GAP = 6;
const SLANT = 35;
const MAX_LINES = 3;

export type CategoryLayout =
  | { readonly kind: 'straight' }
  | { readonly kind: 'wrapped'; readonly lines: ReadonlyMap<string, readonly string[]>; readonly count: number }
  | { readonly kind: 'slanted'; readonly widest: number };

/** `name` cut after each separator, the separator kept on its part, so the parts joined are the name. */
function pieces(name: string): string[] {
  return name.match(/[^._\s/-]*[._\s/-]*/g)!.filter(Boolean);
}

/** `name`'s parts joined greedily into lines no wider than `width`; undefined if one part alone is wider. */
function wrap(name: string, width: number, size: number): string[] | undefined {
  const lines: string[] = [];
  let line = '';
  for (const p of pieces(name)) {
    const next = line + p;
    if (line && textWidth(next.trimEnd(), size) > width) {
      lines.push(line);
      line = p;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.every((l) => textWidth(l.trimEnd(), size) <= width) ? lines : undefined;
}

/** How `names` fit `plotWidth` px of axis at `size` px type. */
export function layCategories(names: readonly string[], plotWidth: number | undefined, size: number): CategoryLayout {
  if (names.length === 0 || !plotWidth) return { kind: 'straight' };
  const slot = plotWidth / names.length - GAP;
  const widths = names.map((n) => textWidth(n, size));
  const widest = Math.max(...widths);
  if (widest <= slot) return { kind: 'straight' };
  const lines = new Map<string, readonly string[]>();
  for (const n of names) {
    const l = wrap(n, slot, size);
    if (!l || l.length > MAX_LINES) return { kind: 'slanted', widest };
    lines.set(n, l);
  }
  return { kind: 'wrapped', lines, count: Math.max(...[...lines.values()].map((l) => l.length)) };
}

/** The axis' height for `layout`: the straight axis' (ticks and title) plus the extra lines or the slant. */
export function categoryAxisHeight(layout: CategoryLayout, t: ChartText): number {
  const line = Math.round(t.size * 1.15);
  if (layout.kind === 'wrapped') return t.xHeight + (layout.count - 1) * line;
  if (layout.kind === 'slanted') {
    const a = (SLANT * Math.PI) / 180;
    return Math.ceil(t.xHeight - line + layout.widest * Math.sin(a) + t.size * Math.cos(a));
  }
  return t.xHeight;
}


function tickFor(layout: CategoryLayout, t: ChartText): (p: XAxisTickContentProps) => ReactElement {
  const line = Math.round(t.size * 1.15);
  return function CategoryTick(p: XAxisTickContentProps) {
    const x = Number(p.x);
    const y = Number(p.y);
    const name = String((p.payload as { value?: unknown } | undefined)?.value ?? '');
    const common = { className: 'recharts-cartesian-axis-tick-value', fontSize: t.size, fill: t.tick.fill } as const;
    if (layout.kind === 'slanted') {
      return (
        <text {...common} x={x} y={y} dy="0.8em" textAnchor="end" transform={`rotate(${-SLANT} ${x} ${y})`}>
          {name}
        </text>
      );
    }
    const lines = layout.kind === 'wrapped' ? layout.lines.get(name) ?? [name] : [name];
    return (
      <text {...common} x={x} y={y} textAnchor="middle">
        {lines.map((l, i) => (
          <tspan key={i} x={x} dy={i === 0 ? '0.71em' : line}>
            {l}
          </tspan>
        ))}
      </text>
    );
  };
}

export interface CategoryXAxisProps extends Omit<XAxisProps, 'tick' | 'height' | 'interval' | 'label' | 'ref'> {
  readonly names: readonly string[];
  readonly title: string;
  readonly t: ChartText;
}

/** A category x axis whose names fit the chart's width (see the module's comment). Inside a recharts chart. */
export function CategoryXAxis({ names, title, t, ...rest }: CategoryXAxisProps) {
  const width = usePlotArea()?.width;
  // Whole pixels in steps of 8: a resize redraws the axis only when the room changed that much.
  const room = width === undefined ? undefined : Math.floor(width / 8) * 8;
  const key = names.join('\u0000');
  // Keyed by the names' content, not the array's identity: a redraw with the same names keeps the axis.
  const layout = useMemo(() => layCategories(names, room, t.size), [key, room, t.size]);
  const tick = useMemo(() => tickFor(layout, t), [layout, t]);
  return <XAxis {...rest} tick={tick} interval={0} height={categoryAxisHeight(layout, t)} label={t.xTitle(title)} />;
}

/** The height of an axis whose names take two lines: what a chart's box keeps room for (plot-box.ts). */
export function wrappedAxisHeight(t: ChartText): number {
  return t.xHeight + Math.round(t.size * 1.15);
}

/** The height of an axis whose names are slanted: room for the widest of `names` (plot-box.ts). */
export function slantedAxisHeight(t: ChartText, names: readonly string[]): number {
  return categoryAxisHeight({ kind: 'slanted', widest: Math.max(0, ...names.map((n) => textWidth(n, t.size))) }, t);
}
