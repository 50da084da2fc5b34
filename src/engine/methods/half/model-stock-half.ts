/**
 * Model Stock in a 16-bit dtype, as mergekit's ModelStockMergeTask runs it under torch on the CPU:
 * norms, dots and the factor t are 16-bit tensors, each step rounded.
 */
import { halfMath, type HalfDType } from '../../half/half-math.js';
import { MergeLabError } from '../../errors.js';
import type { PrepareInput } from '../types.js';
import { HALF_BLOCK } from './gta-half.js';

export function modelStockHalf(input: PrepareInput, dtype: HalfDType, block = HALF_BLOCK): Float32Array {
  const base = input.models.find((m) => m.isBase);
  if (!base) throw new MergeLabError('BASE_MODEL_REQUIRED', `model_stock needs a base_model (tensor ${input.tensorName}).`);
  const ws = input.models.filter((m) => !m.isBase).map((m) => m.values);
  if (ws.length === 0) return base.values.slice();
  if (ws.length < 2) throw new MergeLabError('TOO_FEW_MODELS', `model_stock needs the base and at least two other models; tensor ${input.tensorName} has ${ws.length} besides the base.`);
  if (dtype === 'F16') {
    // torch 1.13's clamp(min=…) has no float16 CPU kernel: mergekit stops here with an error.
    throw new MergeLabError('DTYPE_UNSUPPORTED', `model_stock cannot run in float16 as mergekit computes it (torch has no float16 clamp on the CPU, so mergekit fails on tensor ${input.tensorName}); use dtype: bfloat16 or float32, or math: float32.`);
  }
  const h = halfMath(dtype);
  const w0 = base.values;
  const n = w0.length;
  const { shape } = input;
  const filterWise = Boolean(input.global.filter_wise ?? false);
  const rowLength = filterWise ? (shape.length === 0 ? 1 : shape[shape.length - 1]!) : n;
  const rows = rowLength === 0 ? 0 : n / rowLength;

  // The angles need whole rows (for the flat form, the whole tensor): offsets, norms and dots first.
  const t = (() => {
    const offsets = ws.map((w) => h.sub(w, w0));
    const norms = offsets.map((o) => h.rowNorms(o, rowLength));
    const floor = h.scalar(1e-6);
    const cosines: Float32Array[] = [];
    for (let i = 0; i < offsets.length; i++) {
      for (let j = i + 1; j < offsets.length; j++) {
        const product = h.mul(norms[i]!, norms[j]!);
        for (let r = 0; r < rows; r++) if (product[r]! < floor) product[r] = floor;
        cosines.push(h.div(h.rowDots(offsets[i]!, offsets[j]!, rowLength), product).map((c) => Math.min(1, Math.max(-1, c))));
      }
    }
    // torch.stack(cos).mean(0) on a 16-bit tensor rounds the sum, then the quotient.
    const cos = h.divScalar(h.sumOf(cosines), cosines.length);
    const count = ws.length;
    return h.div(h.mulScalar(cos, h.scalar(count)), h.addScalar(h.mulScalar(cos, h.scalar(count - 1)), 1));
  })();
  const oneMinusT = h.scalarSub(1, t);
  // Then elementwise, in blocks of whole rows: t·avg + (1 − t)·w0, with avg = sum(ws) / len(ws),
  // Python's sum starting from 0 and adding one tensor at a time.
  const out = new Float32Array(n);
  // Filter-wise, a block holds whole rows (each has its own t); flat, t is one number.
  const step = filterWise ? Math.max(1, Math.floor(block / Math.max(1, rowLength))) * rowLength : block;
  for (let start = 0; start < n; start += step) {
    const end = Math.min(n, start + step);
    const part = (a: Float32Array) => a.subarray(start, end);
    let acc = h.addScalar(part(ws[0]!), 0);
    for (let k = 1; k < ws.length; k++) acc = h.add(acc, part(ws[k]!));
    const avg = h.divScalar(acc, h.scalar(ws.length));
    const rowsOf = (f: Float32Array) => f.subarray(start / rowLength, end / rowLength);
    const scaled = filterWise
      ? h.add(h.mulRows(avg, rowsOf(t), rowLength), h.mulRows(part(w0), rowsOf(oneMinusT), rowLength))
      : h.add(h.mulScalar(avg, t[0]!), h.mulScalar(part(w0), oneMinusT[0]!));
    out.set(scaled, start);
  }
  return out;
}
