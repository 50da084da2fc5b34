/**
 * torch 1.13's float32 exp, log, softmax and row sums on this build's CPU path (AVX2, SLEEF), bit for
 * bit (test/fixtures/mergekit-more/torch-float32.json, from scripts/mergekit-more-fixtures.py):
 * arcee_fusion's threshold turns on their last bit. A correctly rounded exp or log, or a sum in
 * another order, differs from them in a few per cent of cases, which is what makes this worth
 * checking.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expf, fma32, logf, rowSum32, softmax32 } from '../../src/engine/methods/half/torch-float32.js';

interface Pair {
  readonly x: string;
  readonly y: string;
}
interface Rows extends Pair {
  readonly n: number;
}
const REF = JSON.parse(readFileSync(new URL('../fixtures/mergekit-more/torch-float32.json', import.meta.url), 'utf8')) as { exp: Pair; log: Pair; softmax: Rows[]; sum: Rows[] };
const floats = (b64: string) => {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
};
/** Indices where `got` and `want` are not the same float32. */
const mismatches = (got: ArrayLike<number>, want: Float32Array) => [...want.keys()].filter((i) => !Object.is(Math.fround(got[i]!), want[i]!));
const rowsOf = (c: Rows) => {
  const x = floats(c.x);
  return Array.from({ length: x.length / c.n }, (_, r) => x.subarray(r * c.n, (r + 1) * c.n));
};

describe("torch's float32 kernels, bit for bit", () => {
  it('exp is SLEEF expf_u10 (and not the correctly rounded exp)', () => {
    const x = floats(REF.exp.x);
    const want = floats(REF.exp.y);
    expect(mismatches(Array.from(x, expf), want)).toEqual([]);
    expect(mismatches(Array.from(x, (v) => Math.exp(v)), want).length).toBeGreaterThan(0);
  });

  it('log is SLEEF logf_u10 (and not the correctly rounded log)', () => {
    const x = floats(REF.log.x);
    const want = floats(REF.log.y);
    expect(mismatches(Array.from(x, logf), want)).toEqual([]);
    expect(mismatches(Array.from(x, (v) => Math.log(v)), want).length).toBeGreaterThan(0);
  });

  it('softmax over rows of 3 to 100', () => {
    for (const c of REF.softmax) expect(mismatches(rowsOf(c).flatMap((r) => [...softmax32(r)]), floats(c.y)), `rows of ${c.n}`).toEqual([]);
  });

  it('sum over rows of 3 to 2100 (torch\'s cascade, its accumulators carried up a level), not a sequential sum', () => {
    let sequentialDiffers = false;
    for (const c of REF.sum) {
      const rows = rowsOf(c);
      expect(mismatches(rows.map(rowSum32), floats(c.y)), `rows of ${c.n}`).toEqual([]);
      const sequential = rows.map((r) => r.reduce((s, v) => Math.fround(s + v), 0));
      sequentialDiffers ||= mismatches(sequential, floats(c.y)).length > 0;
    }
    expect(sequentialDiffers).toBe(true);
  });

  it('fma32 rounds a·b + c once, also where the sum in double lands on a float32 tie', () => {
    // a·b + c = 1 + 2^−24 + 2^−70 exactly: just above the tie between 1 and 1 + 2^−23. In double it
    // rounds to the tie, which float32 then rounds to even (1); once, it rounds up.
    const a = -(2 ** -24) * (1 + 2 ** -23);
    const b = 1 - 2 ** -23;
    const c = 1 + 2 ** -23;
    expect(Math.fround(a * b + c)).toBe(1);
    expect(fma32(a, b, c)).toBe(1 + 2 ** -23);
    expect(fma32(-a, b, -c)).toBe(-(1 + 2 ** -23));
    expect(fma32(3, 5, -1)).toBe(14);
  });
});
