/**
 * Sizes the charts share, for the page's two type scales: the desk (the page's type) and
 * presentation mode (room-sized type, #present=1). Charts fill their card's width (recharts'
 * `responsive` with a CSS aspect ratio), so a chart grows with its card; the text in it, the axes'
 * room for their titles and the legend grow with the page's type. Every object here is made once
 * per scale: recharts 3 re-registers an axis or a legend whose props are new objects (see chart-props.ts).
 */
import type { CSSProperties } from 'react';
import { useLabStore } from '../store/index.js';

/** An axis title as recharts' `label` prop takes it. */
export interface AxisTitle {
  readonly value: string;
  readonly position: 'insideBottom' | 'insideLeft' | 'insideRight';
  readonly angle?: number;
  readonly offset: number;
  readonly fontSize: number;
  readonly fill: string;
  readonly style?: CSSProperties;
  /** 'axis-title': what tests and the heatmaps' own titles share. */
  readonly className: string;
}

export interface ChartText {
  /** Tick and in-chart text size, px. */
  readonly size: number;
  readonly tick: { readonly fontSize: number; readonly fill: string };
  /** Legend above the plot: never over an axis title. */
  readonly legend: CSSProperties;
  /** Height of an x axis with straight ticks and its title. */
  readonly xHeight: number;
  /** Height of an x axis whose category names are slanted, and its title. */
  readonly xHeightSlanted: number;
  /** Width of a y axis with its ticks and its (rotated) title. */
  readonly yWidth: number;
  readonly margin: { readonly top: number; readonly right: number; readonly bottom: number; readonly left: number };
  xTitle(value: string): AxisTitle;
  yTitle(value: string, side?: 'left' | 'right'): AxisTitle;
  /** The chart's box: its card's width, `aspect` wide per unit of height, never taller than most of the screen. */
  box(aspect: number): CSSProperties;
}

export const INK = '#1c2430';
const AXIS_INK = '#2d3748';

function scale(size: number): ChartText {
  const titles = new Map<string, AxisTitle>();
  const boxes = new Map<number, CSSProperties>();
  const title = (key: string, make: () => AxisTitle) => {
    let t = titles.get(key);
    if (!t) titles.set(key, (t = make()));
    return t;
  };
  return {
    size,
    tick: { fontSize: size, fill: AXIS_INK },
    // Room under the legend for labels drawn above the plot ("now", "r = 4").
    legend: { fontSize: size + 1, lineHeight: 1.3, paddingBottom: size + 6 },
    xHeight: Math.round(size * 3.4),
    xHeightSlanted: Math.round(size * 5.6),
    yWidth: Math.round(size * 5.4),
    margin: { top: Math.round(size * 1.2), right: Math.round(size * 0.8), bottom: 4, left: 4 },
    xTitle: (value) => title(`x\u0000${value}`, () => ({ value, position: 'insideBottom', offset: 0, fontSize: size + 1, fill: INK, className: 'axis-title' })),
    yTitle: (value, side = 'left') =>
      title(`${side}\u0000${value}`, () => ({
        value,
        position: side === 'left' ? 'insideLeft' : 'insideRight',
        angle: side === 'left' ? -90 : 90,
        // The rotated line is centred on its anchor: half a line in from the edge, or it is cut.
        offset: Math.ceil(size * 0.75),
        fontSize: size + 1,
        fill: INK,
        style: { textAnchor: 'middle' },
        className: 'axis-title',
      })),
    box: (aspect) => {
      let b = boxes.get(aspect);
      if (!b) boxes.set(aspect, (b = { width: '100%', aspectRatio: aspect, maxHeight: '72vh' }));
      return b;
    },
  };
}

const DESK = scale(12);
const ROOM = scale(16);

/** The chart sizes for the page's current type scale (presentation mode or not). */
export function useChartText(): ChartText {
  return useLabStore((s) => (s.present ? ROOM : DESK));
}
