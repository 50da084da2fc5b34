/**
 * Bar series that follow every slider move without redrawing their chart. recharts 3 answers new
 * `data` by recomputing every selector of the chart and remounting every bar (the bars' animation
 * is keyed by the data): ~8 ms of main thread per chart per move on this 2-core machine, for the
 * two bar charts that follow each move, while both workers also wanted those cores. Here a chart's
 * data holds only its categories, with each live series at the top of the fixed 0–100 % axis, so
 * recharts lays the full-height bars out once; each bar's shape reads its own value from the store
 * and draws that share of the height. A move then redraws one path per bar, and the tooltip reads
 * the same values. The axis domain must stay PERCENT_DOMAIN for the heights to be right.
 */
import { DefaultTooltipContent, type TooltipContentProps } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { useLabStore } from '../store/index.js';
import type { LabState } from '../store/types.js';
import { PERCENT_DOMAIN } from './chart-props.js';

/** A live series: its values in percent, by category index, from the store (undefined: none yet). */
export type LiveValues = (s: LabState) => readonly number[] | undefined;

/** The value every live series has in a chart's data: the top of the axis, the full bar. */
export const FULL = PERCENT_DOMAIN[1];

interface LiveBarProps {
  readonly values: LiveValues;
  // Set by recharts for each bar (its full-height rectangle).
  readonly x?: number;
  readonly y?: number;
  readonly width?: number;
  readonly height?: number;
  readonly index?: number;
  readonly fill?: string;
}

/** One bar of a live series; pass `<LiveBar values={…} />` as a Bar's `shape`. */
export function LiveBar({ values, x, y, width, height, index, fill }: LiveBarProps) {
  const value = useLabStore((s) => (index === undefined ? undefined : values(s)?.[index]));
  if (value === undefined || !Number.isFinite(value) || ![x, y, width, height].every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
  const full = height!;
  const base = y! + full;
  const h = (full * Math.min(Math.max(value, 0), FULL)) / FULL;
  return <path className="recharts-rectangle live-bar" data-value={value} d={`M${x},${base - h}h${width}v${h}h${-width!}Z`} fill={fill} />;
}

/**
 * The default tooltip with each live series' value in place of the placeholder, kept current
 * while the pointer rests on a bar and the slider moves. `series` maps a Bar's dataKey to its values.
 */
export function LiveTooltip(props: TooltipContentProps & { readonly series: Readonly<Record<string, LiveValues>> }) {
  const { series, payload, ...rest } = props;
  // The hovered category: recharts hands each payload item the data row it came from.
  const index = (payload?.[0]?.payload as { readonly index?: number } | undefined)?.index;
  const keys = Object.keys(series);
  const values = useLabStore(useShallow((s) => keys.map((k) => (index === undefined ? undefined : series[k]!(s)?.[index]))));
  const shown = (payload ?? []).flatMap((p) => {
    const k = keys.indexOf(String(p.dataKey));
    if (k < 0) return [p];
    const v = values[k];
    return v === undefined ? [] : [{ ...p, value: v }];
  });
  return <DefaultTooltipContent {...rest} payload={shown} />;
}
