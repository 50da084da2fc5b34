/**
 * Colours the charts share: one per task/model, in list order (colour-blind-safe Okabe–Ito
 * order), and a diverging scale for values in [−1, 1] (cosines) or a sequential one for [0, 1].
 */
const SERIES = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442', '#000000'];

export function seriesColor(i: number): string {
  return SERIES[i % SERIES.length]!;
}

const mix = (a: readonly number[], b: readonly number[], t: number) => a.map((x, i) => Math.round(x + (b[i]! - x) * t));
const hex = (c: readonly number[]) => `#${c.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
const BLUE = [33, 102, 172];
const WHITE = [247, 247, 247];
const RED = [178, 24, 43];

/** −1 blue, 0 white, +1 red. */
export function divergingColor(v: number): string {
  const t = Math.max(-1, Math.min(1, Number.isFinite(v) ? v : 0));
  return hex(t < 0 ? mix(WHITE, BLUE, -t) : mix(WHITE, RED, t));
}

/** 0 white, 1 dark blue. */
export function sequentialColor(v: number): string {
  const t = Math.max(0, Math.min(1, Number.isFinite(v) ? v : 0));
  return hex(mix(WHITE, [8, 48, 107], t));
}

/** Text that stays readable on a cell of colour `v`. */
export function inkOn(v: number, diverging: boolean): string {
  return Math.abs(v) > (diverging ? 0.6 : 0.55) ? '#ffffff' : '#1c2430';
}
