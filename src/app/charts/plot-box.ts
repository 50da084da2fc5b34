/**
 * A chart's box that keeps room for its plot. The charts keep their card's width at an aspect
 * ratio (chart-text.ts: box); in presentation mode the type grows while a secondary card stays
 * ~420 px wide, and a legend of six domains in three lines, the axis and the margins took all but
 * ~70 px of the LM sweep's 248. The box is at least as tall as its margins, its legend (laid out
 * for the narrowest card), its x axis and a plot of ten lines of type.
 */
import type { CSSProperties } from 'react';
import type { ChartText } from './chart-text.js';
import { textWidth } from './text-width.js';

/** The narrowest a card's drawing gets in the charts' grid (minmax(380px…) less the card's padding). */
const NARROWEST = 360;
const made = new Map<string, CSSProperties>();

export interface PlotRoom {
  /** The legend's entries, drawn above the plot. */
  readonly legend?: readonly string[];
  /** The x axis' height, when not the straight axis' (names on two lines, slanted). */
  readonly xHeight?: number;
  /** The plot's least height in lines of type (10 unless said). */
  readonly lines?: number;
}

/** The legend's height laid out in `width` px: its entries' rows, their line height and the room under them. */
export function legendHeight(t: ChartText, entries: readonly string[], width = NARROWEST - t.margin.left - t.margin.right): number {
  if (entries.length === 0) return 0;
  const size = t.size + 1;
  let rows = 1;
  let used = 0;
  for (const e of entries) {
    // Icon, its gap and the entry's right margin (recharts' default legend).
    const w = 14 + 4 + textWidth(e, size) + 10;
    if (used > 0 && used + w > width) {
      rows++;
      used = 0;
    }
    used += w;
  }
  return Math.ceil(rows * size * 1.3) + Number(t.legend.paddingBottom ?? 0);
}

/** `t.box(aspect)`, at least tall enough for `room` (one object per arguments, for recharts: chart-props.ts). */
export function plotBox(t: ChartText, aspect: number, room: PlotRoom = {}): CSSProperties {
  const key = [t.size, aspect, room.xHeight ?? '', room.lines ?? '', ...(room.legend ?? [])].join('\u0000');
  let box = made.get(key);
  if (!box) {
    const width = NARROWEST - t.margin.left - t.margin.right;
    const least = t.margin.top + legendHeight(t, room.legend ?? [], width) + (room.lines ?? 10) * t.size + (room.xHeight ?? t.xHeight) + t.margin.bottom;
    made.set(key, (box = { ...t.box(aspect), minHeight: Math.ceil(least) }));
  }
  return box;
}
