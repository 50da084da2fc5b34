/**
 * Ticks for a log axis: powers of ten, in one notation. recharts' own log ticks printed
 * toPrecision(2) of whatever the scale offered — "0.0090", "0.00050" beside "9.0e-5" on one axis.
 */

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };

/** 0.001 … 1000 written out; beyond, every tick as a power of ten (10⁻⁵), so one axis never mixes the two. */
const DECIMAL = (v: unknown) => {
  const k = Math.round(Math.log10(Number(v)));
  return k < 0 ? (10 ** k).toFixed(-k) : String(10 ** k);
};
const POWER = (v: unknown) => `10${[...String(Math.round(Math.log10(Number(v))))].map((c) => SUPERSCRIPT[c] ?? c).join('')}`;

export interface DecadeTicks {
  readonly domain: [number, number];
  readonly ticks: number[];
  readonly format: (v: unknown) => string;
}

/** Powers of ten from below `min` to above `max` (both > 0), every decade or every few so there are at most `most`. */
export function decadeTicks(min: number, max: number, most = 7): DecadeTicks {
  if (!(min > 0) || !(max >= min) || !Number.isFinite(max)) return { domain: [0.1, 1], ticks: [0.1, 1], format: DECIMAL };
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const top = Math.max(lo + 1, Math.ceil(Math.log10(max) - 1e-9));
  const step = Math.ceil((top - lo) / (most - 1));
  const hi = lo + step * Math.ceil((top - lo) / step);
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k += step) ticks.push(Number((10 ** k).toPrecision(12)));
  return { domain: [ticks[0]!, ticks.at(-1)!], ticks, format: lo >= -3 && hi <= 3 ? DECIMAL : POWER };
}
