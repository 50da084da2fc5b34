/** Task transforms on hand-made images: every pixel checked against where it must come from. */
import { describe, expect, it } from 'vitest';
import { applyTransform, describeTransform, type Transform } from '../../src/engine/demo/transforms.js';

const shape = { height: 3, width: 3 };
// 1 2 3 / 4 5 6 / 7 8 9, then a second image 10x that, to check images are handled one by one.
const img = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
const run = (t: Transform) => Array.from(applyTransform(t, img, shape));

describe('applyTransform', () => {
  it('identity copies', () => {
    const out = applyTransform({ type: 'identity' }, img, shape);
    expect(out).not.toBe(img);
    expect(Array.from(out)).toEqual(Array.from(img));
  });

  it('invert maps v to max - v', () => {
    expect(run({ type: 'invert', max: 16 }).slice(0, 9)).toEqual([15, 14, 13, 12, 11, 10, 9, 8, 7]);
  });

  it('permute reads out[i] = in[perm[i]] in every image', () => {
    expect(run({ type: 'permute', permutation: [8, 1, 2, 3, 4, 5, 6, 7, 0] })).toEqual([9, 2, 3, 4, 5, 6, 7, 8, 1, 90, 20, 30, 40, 50, 60, 70, 80, 10]);
  });

  it('shift moves content and fills with 0', () => {
    expect(run({ type: 'shift', dx: -1, dy: 0 }).slice(0, 9)).toEqual([2, 3, 0, 5, 6, 0, 8, 9, 0]);
    expect(run({ type: 'shift', dx: 2, dy: 0 }).slice(0, 9)).toEqual([0, 0, 1, 0, 0, 4, 0, 0, 7]);
    expect(run({ type: 'shift', dx: 1, dy: 1 }).slice(9)).toEqual([0, 0, 0, 0, 10, 20, 0, 40, 50]);
  });

  it('occlude blanks the rectangle only', () => {
    expect(run({ type: 'occlude', top: 0, left: 0, height: 1, width: 3 }).slice(0, 9)).toEqual([0, 0, 0, 4, 5, 6, 7, 8, 9]);
    expect(run({ type: 'occlude', top: 1, left: 1, height: 2, width: 1 }).slice(0, 9)).toEqual([1, 2, 3, 4, 0, 6, 7, 0, 9]);
  });

  it('rotate90 turns counter-clockwise; four turns and negative turns agree', () => {
    expect(run({ type: 'rotate90', turns: 1 }).slice(0, 9)).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    expect(run({ type: 'rotate90', turns: 2 }).slice(0, 9)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(run({ type: 'rotate90', turns: -1 })).toEqual(run({ type: 'rotate90', turns: 3 }));
    expect(run({ type: 'rotate90', turns: 4 })).toEqual(Array.from(img));
  });

  it('flip mirrors columns or rows', () => {
    expect(run({ type: 'flip', axis: 'horizontal' }).slice(0, 9)).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7]);
    expect(run({ type: 'flip', axis: 'vertical' }).slice(0, 9)).toEqual([7, 8, 9, 4, 5, 6, 1, 2, 3]);
  });

  it('describes transforms for the UI', () => {
    expect(describeTransform({ type: 'shift', dx: -2, dy: 0 })).toBe('shifted left 2 px');
    expect(describeTransform({ type: 'permute', permutation: [1, 0, 2] })).toBe('2 pixels permuted');
    expect(describeTransform({ type: 'occlude', top: 0, left: 0, height: 3, width: 8 })).toBe('rows 0–2, columns 0–7 blanked');
  });
});
