/**
 * Props the charts share, as constants. recharts 3 keeps each axis', legend's and tooltip's
 * settings in a store of its own and re-registers them whenever a prop is a new object or
 * function, which recomputes every selector of the chart: inline `{ fontSize: 10 }` or
 * `(v) => …` made each redraw several times dearer than the bars it changed.
 */
import { pct } from './labels.js';
import { tidyNumber } from '../format.js';

export const MARGIN = { top: 8, right: 8, bottom: 8, left: 0 } as const;
export const TICK_10 = { fontSize: 10 } as const;
export const TICK_11 = { fontSize: 11 } as const;
export const LEGEND_STYLE = { fontSize: 12 } as const;
export const PERCENT_DOMAIN: [number, number] = [0, 100];
export const percentFormatter = (v: unknown) => pct(Number(v));
/** A tick value as people write it: sums like 0.1 + 0.2 and energy shares print as 0.3, not 0.30000000000000004. */
export const tidyTick = (v: unknown): string => tidyNumber(v);
/** Tooltip rows in the page's ink, for a chart with a series too light to read as text (the experts' grey). */
export const TOOLTIP_INK = { color: '#2d3748' } as const;
