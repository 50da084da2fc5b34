/**
 * Embedding rows re-ordered onto a new vocabulary before the merge method sees them, as mergekit's
 * `PermutedEmbeddings` (tokenizer/embed.py) does for `tokenizer_source: union`: each model's
 * matrix gets one row per token of the output vocabulary — its own row where its tokenizer has the
 * token, else a row chosen for that token once for all models:
 * - a token only one model has: that model's row;
 * - a token no model has: zeros (mergekit means zeros, but its code then fails; a union token
 *   always comes from some model);
 * - a token the base model has: the base's row;
 * - else the average of the rows of the models that have it, computed in the merge's dtype as
 *   torch does it (zeros, add each row, divide by the count; every step rounded);
 * - a token the `tokenizer:` section's `tokens` names: the row given there (with `force`, in
 *   every model, those that have the token too).
 * The plan records the choice (`EmbeddingRows`); readInputs in run-merge.ts applies it.
 */
import type { DType } from '../io/types.js';
import { isHalf, roundNumber } from '../half/half-math.js';

/** The output vocabulary and, per model, where each of its tokens is in that model's embeddings. */
export interface VocabularyRemap {
  /** Rows of the output embeddings: the output vocabulary's size. */
  readonly size: number;
  /** By the recipe's model name: for each output row, that model's row, or −1 where its tokenizer lacks the token. */
  readonly rows: ReadonlyMap<string, Int32Array>;
  /**
   * `tokenizer.tokens`: by output row, the model and row that a model lacking the token gets
   * instead of mergekit's default (every model with `force`).
   */
  readonly chosen?: ReadonlyMap<number, { readonly model: string; readonly row: number; readonly force: boolean }>;
}

/** One embedding tensor's re-ordering, for the models of a planned tensor (in their order). */
export interface EmbeddingRows {
  readonly size: number;
  /** Per planned model: its row for each output row, −1 where it takes `fill`. */
  readonly own: readonly Int32Array[];
  /** Per output row: the (model index, row) pairs averaged for a model that lacks it; one pair is a copy, none is zeros. */
  readonly fill: readonly (readonly (readonly [number, number])[])[];
}

/** mergekit's choice of a row for each token, for the planned models (`isBase` marks the recipe's base_model). */
export function embeddingRows(remap: VocabularyRemap, models: readonly { model: string; isBase: boolean }[]): EmbeddingRows {
  const own = models.map((m) => Int32Array.from(remap.rows.get(m.model) ?? new Int32Array(remap.size).fill(-1)));
  const base = models.findIndex((m) => m.isBase);
  const fill: (readonly (readonly [number, number])[])[] = [];
  for (let r = 0; r < remap.size; r++) {
    const present: [number, number][] = [];
    own.forEach((rows, j) => rows[r]! >= 0 && present.push([j, rows[r]!]));
    if (present.length <= 1) fill.push(present);
    else if (base >= 0 && own[base]![r]! >= 0) fill.push([[base, own[base]![r]!]]);
    // mergekit averages over its models in a Python set's order; ours is the plan's (listed models,
    // then the base). With two rows the order cannot change the sum.
    else fill.push(present);
  }
  // tokenizer.tokens: the row named for the token, which `force` gives every model.
  for (const [r, c] of remap.chosen ?? []) {
    const j = models.findIndex((m) => m.model === c.model);
    fill[r] = j >= 0 ? [[j, c.row]] : [];
    if (c.force) for (const o of own) o[r] = -1;
  }
  return { size: remap.size, own, fill };
}

/** The largest row each planned model's matrix must have (−1: none read). */
export function rowsRead(rows: EmbeddingRows): number[] {
  const most = rows.own.map((o) => o.reduce((a, b) => Math.max(a, b), -1));
  for (const pairs of rows.fill) for (const [j, r] of pairs) most[j] = Math.max(most[j]!, r);
  return most;
}

/**
 * Every model's matrix (`values`, `cols` wide, already in the work dtype) re-ordered onto the
 * output vocabulary. Averages are computed in `dtype` with torch's rounding: each addition and the
 * division round to it (float32 when it is no 16-bit dtype; float64 stays exact in double).
 */
export function applyEmbeddingRows(rows: EmbeddingRows, values: readonly Float32Array[], cols: number, dtype: DType | undefined): Float32Array[] {
  const round = isHalf(dtype) ? (x: number) => roundNumber(dtype, x) : dtype === 'F64' ? (x: number) => x : Math.fround;
  const fills = rows.fill.map((pairs) => {
    if (pairs.length === 0) return new Float32Array(cols);
    if (pairs.length === 1) {
      const [j, r] = pairs[0]!;
      return values[j]!.subarray(r * cols, (r + 1) * cols);
    }
    const acc = new Float32Array(cols);
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (const [j, r] of pairs) s = round(s + values[j]![r * cols + c]!);
      acc[c] = round(s / pairs.length);
    }
    return acc;
  });
  return rows.own.map((own, j) => {
    const out = new Float32Array(rows.size * cols);
    for (let r = 0; r < rows.size; r++) {
      const from = own[r]!;
      out.set(from >= 0 ? values[j]!.subarray(from * cols, (from + 1) * cols) : fills[r]!, r * cols);
    }
    return out;
  });
}
