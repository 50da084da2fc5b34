/**
 * Embedding rows re-ordered onto a union vocabulary (src/engine/merge/embedding-rows.ts): which
 * row each token gets in a model that lacks it (mergekit's embed.py rules), and averages rounded
 * as torch rounds them. The 16-bit numbers were computed with torch 1.13 on the CPU
 * (`e = zeros(bfloat16); e += row` for each row; `e /= 3`).
 */
import { describe, expect, it } from 'vitest';
import { applyEmbeddingRows, embeddingRows, rowsRead } from '../../src/engine/merge/embedding-rows.js';

const models = [
  { model: 'a', isBase: false },
  { model: 'b', isBase: false },
  { model: 'base', isBase: true },
];
// Output rows: 0 in every model; 1 in a only; 2 in none; 3 in a and base; 4 in a and b.
const remap = {
  size: 5,
  rows: new Map([
    ['a', Int32Array.from([0, 1, -1, 2, 3])],
    ['b', Int32Array.from([1, -1, -1, -1, 0])],
    ['base', Int32Array.from([0, -1, -1, 1, -1])],
  ]),
};

describe('embeddingRows', () => {
  it('gives a missing token one model\'s row, zeros, the base\'s row or the average of the others', () => {
    const rows = embeddingRows(remap, models);
    expect(rows.fill).toEqual([
      [[2, 0]], // every model has it: never used, the base's row
      [[0, 1]], // only a
      [], // none: zeros
      [[2, 1]], // the base has it
      [[0, 3], [1, 0]], // a and b, not the base: their average
    ]);
    expect(rowsRead(rows)).toEqual([3, 1, 1]);
  });

  it('without a base, a token several models have is averaged', () => {
    const rows = embeddingRows(remap, models.map((m) => ({ ...m, isBase: false })));
    expect(rows.fill[3]).toEqual([[0, 2], [2, 1]]);
  });
});

describe('applyEmbeddingRows', () => {
  it('builds each model\'s matrix from its own rows and the fills', () => {
    const rows = embeddingRows(remap, models);
    const a = Float32Array.from([1, 1, 2, 2, 3, 3, 4, 4]);
    const b = Float32Array.from([10, 10, 20, 20]);
    const base = Float32Array.from([100, 100, 300, 300]);
    const [ga, gb, gbase] = applyEmbeddingRows(rows, [a, b, base], 2, 'F32');
    expect([...ga!]).toEqual([1, 1, 2, 2, 0, 0, 3, 3, 4, 4]);
    expect([...gb!]).toEqual([20, 20, 2, 2, 0, 0, 300, 300, 10, 10]);
    expect([...gbase!]).toEqual([100, 100, 2, 2, 0, 0, 300, 300, 7, 7]);
  });

  it('averages in bfloat16 round every addition and the division, as torch does', () => {
    // Three models have the token, a fourth lacks it and gets their average.
    const four = [0, 1, 2, 3].map((i) => ({ model: `m${i}`, isBase: false }));
    const remap4 = { size: 1, rows: new Map(four.map((m, i) => [m.model, Int32Array.from([i < 3 ? 0 : -1])])) };
    const rows = embeddingRows(remap4, four);
    expect(rows.fill[0]).toHaveLength(3);
    const values = [Float32Array.from([1, 0.5]), Float32Array.from([2 ** -8, 2 ** -9]), Float32Array.from([2 ** -8, 3]), new Float32Array(2)];
    const out = applyEmbeddingRows(rows, values, 2, 'BF16');
    // torch 1.13 gives [0.333984375, 1.1640625]: 1 + 2^-8 rounds back to 1 at each step, where one
    // rounding of the exact mean would give 0.3359375.
    expect([...out[3]!]).toEqual([0.333984375, 1.1640625]);
    expect([...out[0]!]).toEqual([1, 0.5]);
  });
});
