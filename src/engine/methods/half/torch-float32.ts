/**
 * float32 arithmetic as torch 1.13 does it on this build's CPU path (AVX2, SLEEF 3.5), where the
 * last bit decides a result: arcee_fusion's KL divergence of two nearly equal softmaxes is nothing
 * but rounding, and which entries pass its threshold follows from it.
 * - exp and log are SLEEF's u10 float functions (Sleef_expf8_u10, Sleef_logf8_u10): a Cody–Waite
 *   reduction and a polynomial evaluated with fused multiply-adds (log in double-float arithmetic),
 *   which round differently from a correctly rounded result in a few per cent of cases;
 * - softmax over a row: max, exp(x − max), the sum folded across eight lanes (then a butterfly over
 *   the lanes), the reciprocal, and x · (1/sum);
 * - a sum over a contiguous row: eight-lane vectors accumulated four at a time (torch's cascade_sum),
 *   the elements past the last whole vector first, then the lanes in order.
 * Checked against torch in test/methods/torch-float32.test.ts.
 */

const f = Math.fround;

/** a·b + c rounded once to float32 (an FMA): the double product is exact; the sum's tie is settled from its exact error. */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = f(s);
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  if (err === 0 || r === s) return r;
  // s lies exactly half-way between r and its neighbour towards s only when s − r is half a float32 step.
  const other = nextFloat32(r, s > r ? 1 : -1);
  if (s - r !== other - s) return r;
  // The exact sum is beyond s in err's direction: round towards that side.
  return (err > 0) === other > r ? other : r;
}

const nextBuf = new Float32Array(1);
const nextBits = new Int32Array(nextBuf.buffer);

function nextFloat32(x: number, dir: 1 | -1): number {
  if (x === 0) return dir * 2 ** -149;
  nextBuf[0] = x;
  nextBits[0]! += (x > 0) === (dir > 0) ? 1 : -1;
  return nextBuf[0]!;
}

const R_LN2 = f(1.4426950408889634);
const L2U = f(0.693145751953125);
const L2L = f(1.428606765330187045e-6);
const EXP_POLY = [0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156, 0.166666671633720397949219, 0.5].map(f);

/** Round half to even, as the vector convert to integers does. */
function rintEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** 2^q split in two factors, as SLEEF's ldexp2 scales (so an extreme q cannot overflow one factor). */
function ldexp2(u: number, q: number): number {
  const h = q >> 1;
  return f(f(u * 2 ** h) * 2 ** (q - h));
}

/** SLEEF's expf (u10), float32 in and out. */
export function expf(d: number): number {
  if (Number.isNaN(d)) return NaN;
  const q = rintEven(f(d * R_LN2));
  let s = fma32(q, -L2U, d);
  s = fma32(q, -L2L, s);
  let u = EXP_POLY[0]!;
  for (let i = 1; i < EXP_POLY.length; i++) u = fma32(u, s, EXP_POLY[i]!);
  u = f(1 + fma32(f(s * s), u, s));
  u = ldexp2(u, q);
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  return u;
}

/** A float32 value as head + tail (SLEEF's double-float). */
interface DF {
  readonly x: number;
  readonly y: number;
}

function add2(x: number, y: number): DF {
  const s = f(x + y);
  const v = f(s - x);
  return { x: s, y: f(f(x - f(s - v)) + f(y - v)) };
}

function divDF(n: DF, d: DF): DF {
  const t = f(1 / d.x);
  const s = f(n.x * t);
  const u = fma32(t, n.x, -s);
  const v = fma32(-d.y, t, fma32(-d.x, t, 1));
  return { x: s, y: fma32(s, v, fma32(n.y, t, u)) };
}

function mulDF(x: DF, y: number): DF {
  const s = f(x.x * y);
  return { x: s, y: fma32(x.y, y, fma32(x.x, y, -s)) };
}

function addDF(x: DF, y: DF): DF {
  const s = f(x.x + y.x);
  return { x: s, y: f(f(f(f(x.x - s) + y.x) + x.y) + y.y) };
}

function addDFf(x: DF, y: number): DF {
  const s = f(x.x + y);
  return { x: s, y: f(f(f(x.x - s) + y) + x.y) };
}

const LN2_DF: DF = { x: f(0.69314718246459960938), y: f(-1.904654323148236017e-9) };
const LOG_POLY = [0.3027294874, 0.3996108174, 0.666669488].map(f);
const FLT_MIN = 2 ** -126;
const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** SLEEF's logf (u10), float32 in and out. */
export function logf(value: number): number {
  let d = f(value);
  if (Number.isNaN(d) || d < 0) return NaN;
  if (d === 0) return -Infinity;
  if (d === Infinity) return Infinity;
  const tiny = d < FLT_MIN;
  if (tiny) d = f(d * 2 ** 64);
  f32[0] = f(d * f(1 / 0.75));
  let e = ((i32[0]! >>> 23) & 0xff) - 0x7f;
  // m = d · 2^−e by adding to its exponent bits.
  f32[0] = d;
  i32[0] = i32[0]! - (e << 23);
  const m = f32[0]!;
  if (tiny) e -= 64;
  let s = mulDF(LN2_DF, e);
  const x = divDF(add2(-1, m), add2(1, m));
  const x2 = f(x.x * x.x);
  let t = LOG_POLY[0]!;
  t = fma32(t, x2, LOG_POLY[1]!);
  t = fma32(t, x2, LOG_POLY[2]!);
  s = addDF(s, { x: f(x.x * 2), y: f(x.y * 2) });
  s = addDFf(s, f(f(x2 * x.x) * t));
  return f(s.x + s.y);
}

/** torch's vec::reduce_all with + over eight lanes: lanes folded, then the butterfly (±4, ±2, ±1). */
function reduceAll(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 8) {
    let s = values[0]!;
    for (let i = 1; i < n; i++) s = f(s + values[i]!);
    return s;
  }
  const acc = Array.from({ length: 8 }, (_, j) => values[j]!);
  let d = 8;
  for (; d + 8 <= n; d += 8) for (let j = 0; j < 8; j++) acc[j] = f(acc[j]! + values[d + j]!);
  for (let j = 0; d + j < n; j++) acc[j] = f(acc[j]! + values[d + j]!);
  const v = acc.map((a, j) => f(a + acc[j ^ 4]!));
  const w = v.map((a, j) => f(a + v[j ^ 2]!));
  return f(w[0]! + w[1]!);
}

/** torch.softmax(x, dim=-1) of one float32 row. */
export function softmax32(row: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let j = 0; j < row.length; j++) if (row[j]! > max) max = row[j]!;
  const e = Float32Array.from({ length: row.length }, (_, j) => expf(f(row[j]! - max)));
  const inv = f(1 / reduceAll(e));
  return e.map((x) => x * inv);
}

/** torch.sum(row) of a contiguous float32 row (cascade_sum's inner sum). */
export function rowSum32(row: ArrayLike<number>): number {
  const n = row.length;
  const vectors = Math.floor(n / 8);
  const lane = (k: number, j: number) => row[k * 8 + j]!;
  // row_sum over the vectors: four accumulators of vectors 4i + k, in levels for long rows.
  const groups = Math.floor(vectors / 4);
  const partial = [0, 1, 2, 3].map(() => new Float64Array(8));
  multiRowSum(groups, (g, k, j) => lane(g * 4 + k, j), partial);
  for (let k = groups * 4; k < vectors; k++) for (let j = 0; j < 8; j++) partial[0]![j] = f(partial[0]![j]! + lane(k, j));
  for (let k = 1; k < 4; k++) for (let j = 0; j < 8; j++) partial[0]![j] = f(partial[0]![j]! + partial[k]![j]!);
  let acc = 0;
  for (let i = vectors * 8; i < n; i++) acc = f(acc + row[i]!);
  for (let j = 0; j < 8; j++) acc = f(acc + partial[0]![j]!);
  return acc;
}

/** torch's multi_row_sum: four levels of accumulators, each carried up every 2^power steps. */
function multiRowSum(size: number, load: (i: number, k: number, j: number) => number, out: Float64Array[]): void {
  const levels = 4;
  const ceilLog2 = size <= 2 ? 1 : 32 - Math.clz32(size - 1);
  const power = Math.max(4, Math.floor(ceilLog2 / levels));
  const step = 2 ** power;
  const mask = step - 1;
  const acc = Array.from({ length: levels }, () => Array.from({ length: 4 }, () => new Float64Array(8)));
  const addInto = (to: Float64Array, from: ArrayLike<number>) => {
    for (let j = 0; j < 8; j++) to[j] = f(to[j]! + from[j]!);
  };
  let i = 0;
  for (; i + step <= size; ) {
    for (let s = 0; s < step; s++) for (let k = 0; k < 4; k++) for (let j = 0; j < 8; j++) acc[0]![k]![j] = f(acc[0]![k]![j]! + load(i + s, k, j));
    for (let l = 1; l < levels; l++) {
      for (let k = 0; k < 4; k++) {
        addInto(acc[l]![k]!, acc[l - 1]![k]!);
        acc[l - 1]![k]!.fill(0);
      }
      // Carried one level further only when the step count just completed is a multiple of 2^(power·l).
      if (((i + step) & (mask << (l * power))) !== 0) break;
    }
    i += step;
  }
  for (; i < size; i++) for (let k = 0; k < 4; k++) for (let j = 0; j < 8; j++) acc[0]![k]![j] = f(acc[0]![k]![j]! + load(i, k, j));
  for (let l = 1; l < levels; l++) for (let k = 0; k < 4; k++) addInto(acc[0]![k]!, acc[l]![k]!);
  for (let k = 0; k < 4; k++) out[k]!.set(acc[0]![k]!);
}
