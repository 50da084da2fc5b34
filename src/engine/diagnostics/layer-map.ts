/**
 * The per-layer map of a transformer merge: for each decoder layer and module (q, k, v, o, gate,
 * up, down, the two norms), and apart for the embeddings, positions, final norm, LM head and any
 * other tensor, the sign-conflict rate, the mean pairwise task-vector cosine and (layer-ranks.ts)
 * the effective rank, from the per-tensor diagnostics (diagnose.ts, spectrum.ts). A cell holds
 * every tensor of its module (weight and bias); its value is the mean of theirs weighted by their
 * element counts. The layers where the experts disagree most are marked: the highest sign-conflict
 * rates (see markLayers). Pure functions over plain numbers: what the charts draw.
 */
import { APART_PARTS, LAYER_MODULES, tensorPlace, type ApartPart, type LayerFamily, type LayerModule } from './layer-names.js';

/** One tensor's numbers, as diagnose reports them (TensorDiagnostics is one). */
export interface TensorStats {
  readonly name: string;
  /** Number of elements. */
  readonly size: number;
  readonly conflictRate: number;
  /** Cosines of the experts' task vectors; a model whose task vector is zero has 0 on its diagonal. */
  readonly cosine: readonly (readonly number[])[];
  /** A fused q/k/v tensor's numbers per module (GPT-2's c_attn), worked out on its column thirds. */
  readonly parts?: readonly PartStats[];
}

export interface PartStats {
  readonly module: LayerModule;
  readonly size: number;
  readonly conflictRate: number;
  readonly cosine: readonly (readonly number[])[];
}

/** Where a cell is: a layer's module, or a part outside the stack. */
export type Slot = { readonly layer: number; readonly module: LayerModule } | { readonly part: ApartPart };

export interface CellValues {
  /** Elements of the cell's tensors together (the weights of its means). */
  readonly size: number;
  /** Sign-conflict rate, 0 … 1: its tensors' rates weighted by their element counts. */
  readonly conflictRate: number;
  /**
   * Mean cosine between different experts' task vectors, −1 … 1, weighted by element count over
   * the tensors where at least two experts changed something; null where none did.
   */
  readonly cosine: number | null;
  /** The tensors it holds (a fused tensor's part as `name [q]`). */
  readonly tensors: readonly string[];
}

export interface LayerCell extends CellValues {
  readonly layer: number;
  readonly module: LayerModule;
}

export interface ApartCell extends CellValues {
  readonly part: ApartPart;
}

/** A whole layer: every tensor of it, weighted as in a cell. */
export interface LayerRow extends CellValues {
  readonly layer: number;
  readonly marked: boolean;
}

export interface LayerMap {
  /** Which naming the layers follow (the first layer tensor's). */
  readonly family: LayerFamily;
  /** The modules that occur, in LAYER_MODULES order: the map's columns. */
  readonly modules: LayerModule[];
  /** Every layer that occurs, ascending: the map's rows. */
  readonly layers: LayerRow[];
  readonly cells: LayerCell[];
  /** Outside the stack, in APART_PARTS order; only parts that occur. */
  readonly apart: ApartCell[];
  /** The marked layers, most conflicting first, and the rule that chose them. */
  readonly marked: number[];
  readonly marking: { readonly by: 'conflictRate'; readonly count: number };
}

/** At most this many layers are marked (and never more than half of them). */
export const MARKED_LAYERS = 3;

/**
 * Each tensor, or each part of a fused one, with its slot. A fused tensor reported without its
 * three parts (its columns do not split in three) and any name neither family has go to "other".
 */
export function placed<T extends { readonly name: string; readonly parts?: readonly P[] }, P extends { readonly module: LayerModule }>(tensors: readonly T[]): { slot: Slot; label: string; item: T | P }[] {
  const out: { slot: Slot; label: string; item: T | P }[] = [];
  for (const t of tensors) {
    const place = tensorPlace(t.name);
    if (place.kind === 'layer') out.push({ slot: { layer: place.layer, module: place.module }, label: t.name, item: t });
    else if (place.kind === 'apart') out.push({ slot: { part: place.part }, label: t.name, item: t });
    else if (place.kind === 'fused' && t.parts?.length === 3) {
      for (const p of t.parts) out.push({ slot: { layer: place.layer, module: p.module }, label: `${t.name} [${p.module}]`, item: p });
    } else out.push({ slot: { part: 'other' }, label: t.name, item: t });
  }
  return out;
}

/** Mean cosine over pairs of different experts whose task vectors are both nonzero; null without such a pair. */
export function meanPairwiseCosine(c: readonly (readonly number[])[]): number | null {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < c.length; i++) {
    if (c[i]![i] !== 1) continue;
    for (let j = i + 1; j < c.length; j++) {
      if (c[j]![j] !== 1) continue;
      sum += c[i]![j]!;
      n++;
    }
  }
  return n > 0 ? sum / n : null;
}

/** Element-count-weighted means of conflict rate and cosine over `items`. */
export function cellValues(items: readonly { readonly label: string; readonly size: number; readonly conflictRate: number; readonly cosine: readonly (readonly number[])[] }[]): CellValues {
  let size = 0;
  let conflict = 0;
  let cosSize = 0;
  let cos = 0;
  for (const t of items) {
    size += t.size;
    conflict += t.size * t.conflictRate;
    const c = meanPairwiseCosine(t.cosine);
    if (c !== null) {
      cosSize += t.size;
      cos += t.size * c;
    }
  }
  return { size, conflictRate: size > 0 ? conflict / size : 0, cosine: cosSize > 0 ? cos / cosSize : null, tensors: items.map((t) => t.label) };
}

/**
 * The layers where the experts disagree most: the highest sign-conflict rates, ties going to the
 * lower cosine, then to the lower layer; MARKED_LAYERS of them, never more than half the layers
 * (one of two, two of four), and none whose rate is 0 (nothing there disagrees).
 */
export function markLayers(rows: readonly { readonly layer: number; readonly conflictRate: number; readonly cosine: number | null }[]): number[] {
  const count = Math.min(MARKED_LAYERS, Math.floor(rows.length / 2));
  return rows
    .filter((r) => r.conflictRate > 0)
    .sort((a, b) => b.conflictRate - a.conflictRate || (a.cosine ?? Infinity) - (b.cosine ?? Infinity) || a.layer - b.layer)
    .slice(0, count)
    .map((r) => r.layer);
}

/** The layer map of a diagnosis; undefined when no tensor is a Llama- or GPT-2-named layer's. */
export function layerMap(tensors: readonly TensorStats[]): LayerMap | undefined {
  const family = tensors.map((t) => tensorPlace(t.name)).find((p) => p.kind === 'layer' || p.kind === 'fused')?.family;
  if (!family) return undefined;
  const items = placed<TensorStats, PartStats>(tensors).map(({ slot, label, item }) => ({ slot, label, size: item.size, conflictRate: item.conflictRate, cosine: item.cosine }));
  const cells = new Map<string, { layer: number; module: LayerModule; items: typeof items }>();
  const rows = new Map<number, typeof items>();
  const apart = new Map<ApartPart, typeof items>();
  for (const it of items) {
    if ('part' in it.slot) {
      apart.set(it.slot.part, [...(apart.get(it.slot.part) ?? []), it]);
      continue;
    }
    const { layer, module } = it.slot;
    const key = `${layer}\u0000${module}`;
    const cell = cells.get(key) ?? { layer, module, items: [] };
    cell.items.push(it);
    cells.set(key, cell);
    rows.set(layer, [...(rows.get(layer) ?? []), it]);
  }
  const layerRows = [...rows].sort((a, b) => a[0] - b[0]).map(([layer, its]) => ({ layer, ...cellValues(its) }));
  const marked = markLayers(layerRows);
  const present = new Set([...cells.values()].map((c) => c.module));
  const order = (m: LayerModule) => LAYER_MODULES.indexOf(m);
  return {
    family,
    modules: LAYER_MODULES.filter((m) => present.has(m)),
    layers: layerRows.map((r) => ({ ...r, marked: marked.includes(r.layer) })),
    cells: [...cells.values()].sort((a, b) => a.layer - b.layer || order(a.module) - order(b.module)).map((c) => ({ layer: c.layer, module: c.module, ...cellValues(c.items) })),
    apart: APART_PARTS.filter((p) => apart.has(p)).map((part) => ({ part, ...cellValues(apart.get(part)!) })),
    marked,
    marking: { by: 'conflictRate', count: Math.min(MARKED_LAYERS, Math.floor(layerRows.length / 2)) },
  };
}
