/** The digits CSV: the shipped file parses to 1797 samples; malformed lines fail naming the line. */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeDigitsCsv, gunzip, parseDigitsCsv, selectRows, taskSet } from '../../src/engine/demo/dataset.js';
import { expectCode } from '../io/helpers.js';

const GZ = fs.readFileSync(new URL('../../data/digits/digits.csv.gz', import.meta.url));

describe('digits data', () => {
  it('the shipped file holds 1797 samples of 64 pixels in 0..16, every class present', () => {
    const d = decodeDigitsCsv(zlib.gunzipSync(GZ));
    expect([d.count, d.features, d.pixels.length]).toEqual([1797, 64, 1797 * 64]);
    expect(Math.max(...d.pixels)).toBe(16);
    expect(new Set(d.labels).size).toBe(10);
    // First row of the file, as printed by `zcat digits.csv.gz | head -1`.
    expect(Array.from(d.pixels.subarray(0, 8))).toEqual([0, 0, 5, 13, 9, 1, 0, 0]);
    expect(d.labels[0]).toBe(0);
  });

  it('gunzip (DecompressionStream) gives the same bytes as zlib', async () => {
    expect(Buffer.from(await gunzip(GZ)).equals(zlib.gunzipSync(GZ))).toBe(true);
  });

  it.each([
    ['a short line', '1,2,3\n', 'line 1: expected 65'],
    ['a pixel over 16', `${'0,'.repeat(63)}17,1\n`, 'line 1: value 64 is "17"'],
    ['a label over 9', `${'0,'.repeat(64)}10\n`, 'line 1: value 65 is "10"'],
    ['a non-number', `${'0,'.repeat(64)}1\n${'0,'.repeat(10)}x,${'0,'.repeat(53)}1\n`, 'line 2: value 11 is "x"'],
    ['an empty file', '', 'holds no samples'],
  ])('rejects %s', async (_, text, mention) => {
    await expectCode(() => parseDigitsCsv(text, { name: 'bad.csv' }), 'DEMO_DATA_INVALID', 'bad.csv', mention);
  });

  it('selects rows and builds a task set with shifted labels', () => {
    const d = parseDigitsCsv(`${'1,'.repeat(64)}8\n${'2,'.repeat(64)}9\n${'3,'.repeat(64)}0\n`);
    const rows = selectRows(d, [2, 0]);
    expect([rows.pixels[0], rows.pixels[64], Array.from(rows.labels)]).toEqual([3, 1, [0, 8]]);
    const set = taskSet(rows, { transform: { type: 'invert', max: 16 }, labelShift: 3 }, { height: 8, width: 8 }, 10);
    expect([set.inputs[0], set.inputs[64], Array.from(set.labels)]).toEqual([13, 15, [3, 1]]);
    expect(() => selectRows(d, [3])).toThrow(/outside the data set's 3 rows/);
  });
});
