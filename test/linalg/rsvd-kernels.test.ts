/**
 * The randomized SVD's SIMD kernels (src/engine/linalg/kernels.ts): each against the same sums in
 * plain JavaScript on zero-padded random matrices of float32 and float64 (one call per row block
 * included), and the committed module against what scripts/build-linalg-kernels.ts builds.
 */
import { describe, expect, it } from 'vitest';
import { KernelHeap, roundUp } from '../../src/engine/linalg/kernels.js';
import { createRandom } from '../../src/engine/random.js';
import { KERNELS_WASM_BASE64 } from '../../src/engine/linalg/kernels-wasm.js';
import { kernelsWasm } from '../../scripts/build-linalg-kernels.js';

function filled(view: Float32Array | Float64Array, seed: number): void {
  const random = createRandom(seed);
  for (let i = 0; i < view.length; i++) view[i] = random() * 2 - 1;
}

describe('SIMD kernels', () => {
  // 70 rows: two calls (64 + 6 rows of padding 8), columns padded to 4, sketches to 4.
  const [m, n, l] = [70, 37, 6];
  const [mp, np, lp] = [roundUp(m, 4), roundUp(n, 4), roundUp(l, 4)];
  for (const type of ['f32', 'f64'] as const) {
    it(`${type}: dots (x·Aᵀ) and axpys (x·A) are the sums over the rows and columns, to rounding`, () => {
      const heap = new KernelHeap(mp * np * 8 + 3 * lp * Math.max(mp, np) * 8 + 64);
      const a = type === 'f32' ? heap.f32(mp * np) : heap.f64(mp * np);
      const x = heap.f64(lp * np);
      const y = heap.f64(lp * mp);
      const z = heap.f64(lp * np);
      // Only the m × n block holds values; the padding is zero, as svd.ts leaves it.
      const av = new Float64Array(m * n);
      filled(av, 1);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a.view[i * np + j] = av[i * n + j]!;
      for (let c = 0; c < l; c++) filled(x.view.subarray(c * np, c * np + n), 10 + c);
      heap.dots(a, mp, np, x, lp, y);
      for (let c = 0; c < l; c++) {
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += a.view[i * np + j]! * x.view[c * np + j]!;
          expect(Math.abs(y.view[c * mp + i]! - s)).toBeLessThan(1e-13);
        }
      }
      // axpys reads x as l rows of mp and adds into z.
      const xm = heap.f64(lp * mp);
      for (let c = 0; c < l; c++) filled(xm.view.subarray(c * mp, c * mp + m), 20 + c);
      z.view.fill(0.5);
      heap.axpys(xm, lp, a, mp, np, z);
      for (let c = 0; c < l; c++) {
        for (let j = 0; j < n; j++) {
          let s = 0.5;
          for (let i = 0; i < m; i++) s += xm.view[c * mp + i]! * a.view[i * np + j]!;
          expect(Math.abs(z.view[c * np + j]! - s)).toBeLessThan(1e-13);
        }
      }
    });
  }

  it('dot and axpy over any length, and the same bits for the same inputs', () => {
    const heap = new KernelHeap(4096);
    const p = heap.f64(23);
    const q = heap.f64(23);
    filled(p.view, 3);
    filled(q.view, 4);
    for (const len of [0, 1, 2, 3, 4, 5, 22, 23]) {
      let s = 0;
      for (let i = 0; i < len; i++) s += p.view[i]! * q.view[i]!;
      expect(Math.abs(heap.dot(p.at, q.at, len) - s)).toBeLessThan(1e-14);
      expect(heap.dot(p.at, q.at, len)).toBe(heap.dot(p.at, q.at, len));
    }
    const before = Float64Array.from(q.view);
    heap.axpy(0.25, p.at, q.at, 23);
    for (let i = 0; i < 23; i++) expect(q.view[i]).toBe(before[i]! - 0.25 * p.view[i]!);
  });

  it('the committed module is the one scripts/build-linalg-kernels.ts builds', async () => {
    expect(KERNELS_WASM_BASE64).toBe(Buffer.from(await kernelsWasm()).toString('base64'));
  });
});
