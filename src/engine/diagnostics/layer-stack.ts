/**
 * The per-layer map following a layer stack (a frankenmerge's `slices:`): its rows become the
 * merged model's layers as the slices renumber them, each labelled with the model and layer it
 * comes from. A stacked layer is copied from one model's layer (or merged from its sources' layers
 * of one index offset), so its row shows the experts' numbers at that source layer: how much they
 * disagree there. The layers to outline are chosen again among the stacked rows. Pure: the chart
 * draws what this returns.
 */
import { MARKED_LAYERS, markLayers, type LayerCell, type LayerMap, type LayerRow } from './layer-map.js';
import type { LayerRanks } from './layer-ranks.js';

/** One layer of the merged model: its number, and the model and layer it comes from (every source's for a merged slice). */
export interface StackedLayer {
  readonly layer: number;
  readonly model: string;
  readonly from: number;
  readonly sources?: readonly { readonly model: string; readonly from: number }[];
}

export interface StackedMap {
  readonly map: LayerMap;
  readonly ranks?: LayerRanks;
  /** Per row of the stacked map: where the layer comes from ("ft1 L1", "a L2 + b L2"). */
  readonly sources: readonly string[];
  /** Merged layers whose source layer the diagnosed models do not have: no row for them. */
  readonly missing: readonly number[];
}

/** Where a stacked layer comes from, as a row label says it. */
export function sourceLabel(l: StackedLayer): string {
  return (l.sources ?? [l]).map((s) => `${s.model} L${s.from}`).join(' + ');
}

/** `map` (and `ranks`, when given) with the stack's layers as rows; see the file's comment. */
export function stackLayerMap(map: LayerMap, stack: readonly StackedLayer[], ranks?: LayerRanks): StackedMap {
  const rowOf = new Map(map.layers.map((r) => [r.layer, r]));
  const rows: Omit<LayerRow, 'marked'>[] = [];
  const cells: LayerCell[] = [];
  const rankCells: LayerRanks['cells'][number][] = [];
  const sources: string[] = [];
  const missing: number[] = [];
  for (const l of stack) {
    const row = rowOf.get(l.from);
    if (!row) {
      missing.push(l.layer);
      continue;
    }
    rows.push({ ...row, layer: l.layer });
    sources.push(sourceLabel(l));
    for (const c of map.cells) if (c.layer === l.from) cells.push({ ...c, layer: l.layer });
    for (const c of ranks?.cells ?? []) if (c.layer === l.from) rankCells.push({ ...c, layer: l.layer });
  }
  const marked = markLayers(rows);
  const stacked: LayerMap = {
    ...map,
    layers: rows.map((r) => ({ ...r, marked: marked.includes(r.layer) })),
    cells,
    marked,
    marking: { by: 'conflictRate', count: Math.min(MARKED_LAYERS, Math.floor(rows.length / 2)) },
  };
  return { map: stacked, ...(ranks ? { ranks: { ...ranks, cells: rankCells } } : {}), sources, missing };
}
