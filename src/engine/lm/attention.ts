/**
 * Causal multi-head attention with grouped-query heads, over queries, keys and values already
 * projected (and rotated, for RoPE models). Queries may be taken in blocks of rows so that the
 * scores [batch, heads, rows, keys] of a long window stay within a GPU buffer's limit; each block
 * sees the keys up to its last row, which is all a causal mask lets it see.
 */
import * as tf from '@tensorflow/tfjs-core';
import { transposeFirst } from './mlp.js';

/**
 * Added to a score where a query may not look: far enough below any real score that softmax gives
 * it exactly 0, yet finite, so gradients through the masked entries stay 0 rather than NaN.
 */
const MASKED = -1e9;

/** The causal mask's rows [from, to) over keys [0, to): 0 where key ≤ query, MASKED after. */
function causalMask(from: number, to: number, repeat: number): tf.Tensor2D {
  const rows = to - from;
  const mask = new Float32Array(repeat * rows * to);
  for (let r = 0; r < repeat; r++) {
    for (let i = 0; i < rows; i++) {
      const row = (r * rows + i) * to;
      for (let j = from + i + 1; j < to; j++) mask[row + j] = MASKED;
    }
  }
  return tf.tensor2d(mask, [repeat * rows, to]);
}

/**
 * a·b (or a·bᵀ) over the two leading axes. On wasm as separate 2-D products with b laid out
 * [k, n]: tfjs-wasm's batched kernel and its bᵀ path miss XNNPACK (measured here: three heads'
 * scores 70 ms batched, 29 ms as 2-D products). `readOnce` (no gradient will be taken): the
 * operands are read out once and each product's pieces made from them, because tfjs-wasm's slice
 * copies its whole input out of the heap on every call — per head, that cost a batch of eight
 * 128-token windows of a 4-layer model 250 of its 400 ms (bench: 79 ms → 18 ms per layer).
 */
function batchedMatMul(a: tf.Tensor4D, b: tf.Tensor4D, transposeB: boolean, readOnce = false): tf.Tensor4D {
  if (!transposeFirst()) return tf.matMul(a, b, false, transposeB);
  const [n0, n1, m, k] = a.shape;
  const [, , b2, b3] = b.shape;
  const products: tf.Tensor2D[] = [];
  const aValues = readOnce ? a.dataSync() : undefined;
  const bValues = readOnce ? b.dataSync() : undefined;
  // With gradients: one unstack per operand, not a slice per product. A slice's gradient is a
  // zero-padded tensor of the whole operand, so slicing made the backward's memory and time grow
  // with the square of the batch; unstack's gradient is one stack.
  const lefts = aValues ? undefined : (tf.unstack(tf.reshape(a, [n0 * n1, m, k])) as tf.Tensor2D[]);
  const rights = bValues ? undefined : (tf.unstack(tf.reshape(b, [n0 * n1, b2, b3])) as tf.Tensor2D[]);
  for (let at = 0; at < n0 * n1; at++) {
    const left = aValues ? tf.tensor2d(aValues.subarray(at * m * k, (at + 1) * m * k), [m, k]) : lefts![at]!;
    // Read out, bᵀ is laid out here as it is copied in: one kernel less per product.
    const right = bValues ? (transposeB ? transposed(bValues, at * b2 * b3, b2, b3) : tf.tensor2d(bValues.subarray(at * b2 * b3, (at + 1) * b2 * b3), [b2, b3])) : rights![at]!;
    products.push(tf.matMul(left, transposeB && !bValues ? tf.transpose(right) : right));
  }
  const n = products[0]!.shape[1];
  return tf.reshape(tf.stack(products), [n0, n1, m, n]);
}

/** The [rows, cols] matrix at `offset` of `values`, transposed, as a tensor [cols, rows]. */
function transposed(values: Float32Array | Int32Array | Uint8Array, offset: number, rows: number, cols: number): tf.Tensor2D {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[offset + r * cols + c]!;
  return tf.tensor2d(out, [cols, rows]);
}

/**
 * The causal masks of one forward pass, made once and shared by its layers (a long window's mask
 * is millions of entries; every layer needs the same). dispose() when the pass is done.
 */
export class CausalMasks {
  private readonly masks = new Map<string, tf.Tensor2D>();

  get(from: number, to: number, repeat: number): tf.Tensor2D {
    const key = `${from}:${to}:${repeat}`;
    let mask = this.masks.get(key);
    if (!mask) {
      // Kept out of the layer's tidy that first asks for it: the next layers need it too.
      mask = tf.keep(causalMask(from, to, repeat));
      this.masks.set(key, mask);
    }
    return mask;
  }

  dispose(): void {
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }
}

export interface AttentionOptions {
  /** Multiplies q·k before the softmax (1/√head_dim, GPT-2's extra 1/(layer + 1)). */
  readonly scale: number;
  /** At most this many query rows per block (default: all at once). */
  readonly queryBlock?: number;
  /** Masks shared with the other layers of the pass (default: made for this call alone). */
  readonly masks?: CausalMasks;
  /** No gradient is taken through this call (scoring): on wasm the products read their operands once (batchedMatMul). */
  readonly inference?: boolean;
}

/**
 * softmax(q kᵀ · scale + causal mask) v. q is [batch, heads, length, headDim]; k and v are
 * [batch, kvHeads, length, headDim] with kvHeads dividing heads, query head h reading key head
 * ⌊h / (heads / kvHeads)⌋ as transformers' repeat_kv does. Answers [batch · length, heads · headDim],
 * the rows the output projection takes.
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: AttentionOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, heads, length, headDim] = q.shape;
    const kvHeads = k.shape[1];
    const repeat = heads / kvHeads;
    const block = Math.max(1, Math.min(length, options.queryBlock ?? length));
    const outs: tf.Tensor[] = [];
    for (let from = 0; from < length; from += block) {
      const to = Math.min(length, from + block);
      const rows = to - from;
      // Query heads sharing a key head become one matrix of repeat · rows rows: no copy of k or v.
      const qBlock = tf.reshape(rows === length ? q : tf.slice(q, [0, 0, from, 0], [batch, heads, rows, headDim]), [batch, kvHeads, repeat * rows, headDim]);
      const kBlock = to === length ? k : tf.slice(k, [0, 0, 0, 0], [batch, kvHeads, to, headDim]);
      const vBlock = to === length ? v : tf.slice(v, [0, 0, 0, 0], [batch, kvHeads, to, headDim]);
      const mask = options.masks ? options.masks.get(from, to, repeat) : causalMask(from, to, repeat);
      const readOnce = options.inference === true;
      const scores = tf.add(tf.mul(batchedMatMul(qBlock as tf.Tensor4D, kBlock, true, readOnce), options.scale), mask);
      const mixed = batchedMatMul(tf.softmax(scores) as tf.Tensor4D, vBlock, false, readOnce); // [batch, kvHeads, repeat · rows, headDim]
      outs.push(tf.reshape(mixed, [batch, heads, rows, headDim]));
    }
    const all = outs.length === 1 ? outs[0]! : tf.concat(outs, 2);
    return tf.reshape(tf.transpose(all, [0, 2, 1, 3]), [batch * length, heads * headDim]);
  });
}

/** Rows [batch · length, heads · headDim] as [batch, heads, length, headDim]. */
export function splitHeads(x: tf.Tensor2D, batch: number, length: number, heads: number, headDim: number): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.reshape(x, [batch, length, heads, headDim]), [0, 2, 1, 3]));
}
