/**
 * Fixed input transforms on square-pixel images, declared as data in the demo manifest so the
 * app, the CLI and the trainer all build a task's inputs from the same description.
 * Images are row-major, `count` of them back to back; background is 0 (the digits' ink is high).
 */

/** One transform; `permute` reads out[i] = in[permutation[i]]. */
export type Transform =
  | { readonly type: 'identity' }
  /** v -> max - v: ink becomes background and back. */
  | { readonly type: 'invert'; readonly max: number }
  | { readonly type: 'permute'; readonly permutation: readonly number[] }
  /** Moves content by dx columns (right positive) and dy rows (down positive), filling with 0. */
  | { readonly type: 'shift'; readonly dx: number; readonly dy: number }
  /** Sets a rectangle to 0. */
  | { readonly type: 'occlude'; readonly top: number; readonly left: number; readonly height: number; readonly width: number }
  /** Counter-clockwise quarter turns (square images only). */
  | { readonly type: 'rotate90'; readonly turns: number }
  | { readonly type: 'flip'; readonly axis: 'horizontal' | 'vertical' };

export type TransformType = Transform['type'];
export const TRANSFORM_TYPES: readonly TransformType[] = ['identity', 'invert', 'permute', 'shift', 'occlude', 'rotate90', 'flip'];

/** Image geometry: `height` rows of `width` pixels. */
export interface ImageShape {
  readonly height: number;
  readonly width: number;
}

/**
 * The pixel each output pixel reads from, or -1 for "fill with 0", for the geometric transforms
 * (every transform but invert is a gather, which keeps them one loop each).
 */
function sourceIndex(t: Transform, shape: ImageShape): Int32Array | undefined {
  const { height: h, width: w } = shape;
  const src = new Int32Array(h * w);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = r * w + c;
      let from: number;
      switch (t.type) {
        case 'identity':
        case 'invert':
          return undefined;
        case 'permute':
          from = t.permutation[i]!;
          break;
        case 'shift': {
          const sr = r - t.dy;
          const sc = c - t.dx;
          from = sr >= 0 && sr < h && sc >= 0 && sc < w ? sr * w + sc : -1;
          break;
        }
        case 'occlude':
          from = r >= t.top && r < t.top + t.height && c >= t.left && c < t.left + t.width ? -1 : i;
          break;
        case 'rotate90': {
          // A counter-clockwise turn takes out[r][c] from in[c][w-1-r]; repeat for more turns.
          let sr = r;
          let sc = c;
          for (let k = 0; k < (((t.turns % 4) + 4) % 4); k++) [sr, sc] = [sc, w - 1 - sr];
          from = sr * w + sc;
          break;
        }
        case 'flip':
          from = t.axis === 'horizontal' ? r * w + (w - 1 - c) : (h - 1 - r) * w + c;
          break;
      }
      src[i] = from;
    }
  }
  return src;
}

/** Applies `t` to `count` images in `pixels` (length count × height × width); returns new pixels. */
export function applyTransform(t: Transform, pixels: Float32Array, shape: ImageShape): Float32Array {
  const size = shape.height * shape.width;
  const out = new Float32Array(pixels.length);
  if (t.type === 'identity') {
    out.set(pixels);
    return out;
  }
  if (t.type === 'invert') {
    for (let i = 0; i < pixels.length; i++) out[i] = t.max - pixels[i]!;
    return out;
  }
  const src = sourceIndex(t, shape)!;
  for (let at = 0; at < pixels.length; at += size) {
    for (let i = 0; i < size; i++) {
      const from = src[i]!;
      out[at + i] = from < 0 ? 0 : pixels[at + from]!;
    }
  }
  return out;
}

/** A short human description, for the UI and --help output. */
export function describeTransform(t: Transform): string {
  switch (t.type) {
    case 'identity':
      return 'unchanged';
    case 'invert':
      return `intensities inverted (${t.max} − v)`;
    case 'permute': {
      const moved = t.permutation.filter((p, i) => p !== i).length;
      return `${moved} pixels permuted`;
    }
    case 'shift':
      return `shifted ${t.dx >= 0 ? 'right' : 'left'} ${Math.abs(t.dx)} px${t.dy !== 0 ? `, ${t.dy > 0 ? 'down' : 'up'} ${Math.abs(t.dy)} px` : ''}`;
    case 'occlude':
      return `rows ${t.top}–${t.top + t.height - 1}, columns ${t.left}–${t.left + t.width - 1} blanked`;
    case 'rotate90':
      return `rotated ${(((t.turns % 4) + 4) % 4) * 90}° counter-clockwise`;
    case 'flip':
      return `flipped ${t.axis}ly`;
  }
}
