/**
 * Header checks of a dropped model against the base, on tensor names and shapes only (metadata
 * from the safetensors headers; no tensor is read): what the base has that the model lacks, and
 * tensors whose shape differs. Shown on the model's row before any merge.
 */
import type { TensorHeader } from '../store/types.js';

export interface HeaderCheck {
  /** Base tensors the model does not have. */
  readonly missing: readonly string[];
  /** Tensors in both with another shape: name, the model's shape, the base's shape. */
  readonly shape: readonly { readonly name: string; readonly shape: readonly number[]; readonly base: readonly number[] }[];
}

export function checkAgainstBase(model: readonly TensorHeader[], base: readonly TensorHeader[]): HeaderCheck {
  const mine = new Map(model.map((t) => [t.name, t.shape]));
  const missing: string[] = [];
  const shape: { name: string; shape: readonly number[]; base: readonly number[] }[] = [];
  for (const b of base) {
    const s = mine.get(b.name);
    if (!s) missing.push(b.name);
    else if (s.length !== b.shape.length || s.some((d, i) => d !== b.shape[i])) shape.push({ name: b.name, shape: s, base: b.shape });
  }
  return { missing, shape };
}

/** One line for a row: "2 tensors missing: a, b; 1 of another shape: c [4, 3] (base [3, 4])". */
export function describeCheck(c: HeaderCheck, show = 3): string {
  const list = (xs: readonly string[]) => xs.slice(0, show).join(', ') + (xs.length > show ? `, … (${xs.length - show} more)` : '');
  const parts: string[] = [];
  if (c.missing.length > 0) parts.push(`${c.missing.length} tensor${c.missing.length > 1 ? 's' : ''} of the base missing: ${list(c.missing)}`);
  if (c.shape.length > 0) {
    parts.push(`${c.shape.length} of another shape: ${list(c.shape.map((s) => `${s.name} [${s.shape.join(', ')}] (base [${s.base.join(', ')}])`))}`);
  }
  return parts.join('; ');
}
