/**
 * Chart: the per-layer map of a transformer merge (Llama family or GPT-2), as people who merge
 * language models think of it — which layers conflict, attention or MLP. Rows are decoder layers,
 * columns modules; one metric at a time (sign conflict, task-vector cosine, effective rank), the
 * layers where the experts disagree most outlined; embeddings, positions, final norm and head drawn
 * apart. The numbers come from the engine (diagnose's layerMap, layerRanks); this only draws them.
 * With the layer stack on (one's own checkpoints), the rows are the merged model's layers as the
 * slices renumber them, each labelled with its source (engine/diagnostics/layer-stack.ts).
 */
import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { ApartCell, CellValues, LayerMap, LayerRanks, RankCell } from '../../engine/api/engine-api.js';
import { stackLayerMap, type StackedMap } from '../../engine/diagnostics/layer-stack.js';
import { stackProblems, stackStrip } from '../recipe/slice-stack.js';
import type { LabState, LayerMetric } from '../store/types.js';
import { useLabStore } from '../store/index.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { LayerGrid, type GridCell, type LegendStop } from './LayerGrid.js';
import { divergingColor, inkOn, sequentialColor } from './palette.js';
import { useChartText } from './chart-text.js';


const METRICS: readonly { readonly id: LayerMetric; readonly label: string }[] = [
  { id: 'conflict', label: 'sign conflict' },
  { id: 'cosine', label: 'task-vector cosine' },
  { id: 'rank', label: 'effective rank' },
];

/** Column labels as people say them. */
const MODULE_LABEL: Readonly<Record<string, string>> = {
  q: 'q',
  k: 'k',
  v: 'v',
  o: 'o',
  gate: 'gate',
  up: 'up',
  down: 'down',
  attn_norm: 'attn norm',
  mlp_norm: 'MLP norm',
};
/** Parts drawn above the layers (what the input goes through first); the rest below them. */
const BEFORE = new Set(['embeddings', 'positions']);
const PART_LABEL: Readonly<Record<string, string>> = {
  embeddings: 'embeddings',
  positions: 'positions',
  final_norm: 'final norm',
  lm_head: 'LM head',
  other: 'other',
};

/** The ranks answer belongs to these diagnostics' experts (a newer model set's may still be on its way). */
function ranksFor(map: { readonly models: readonly string[] } | undefined, ranks: LayerRanks | undefined): LayerRanks | undefined {
  return map && ranks && ranks.models.length === map.models.length && ranks.models.every((m, i) => m === map.models[i]) ? ranks : undefined;
}

interface Scale {
  readonly value: (c: CellValues | undefined, r: RankCell | undefined) => number | null;
  readonly text: (v: number) => string;
  readonly color: (v: number) => string;
  readonly ink: (v: number) => string;
  readonly legend: readonly LegendStop[];
  readonly legendTitle: string;
  readonly describe: (v: number | null) => string;
}

function scaleOf(metric: LayerMetric, rankMax: number): Scale {
  if (metric === 'conflict') {
    return {
      value: (c) => (c ? c.conflictRate : null),
      text: (v) => (100 * v).toFixed(0),
      color: sequentialColor,
      ink: (v) => inkOn(v, false),
      legend: [0, 0.25, 0.5, 0.75, 1].map((v) => ({ label: `${100 * v}%`, color: sequentialColor(v) })),
      legendTitle: 'sign conflict (% of contested entries)',
      describe: (v) => (v === null ? 'no value' : `sign conflict ${(100 * v).toFixed(1)}%`),
    };
  }
  if (metric === 'cosine') {
    return {
      value: (c) => c?.cosine ?? null,
      text: (v) => v.toFixed(2),
      color: divergingColor,
      ink: (v) => inkOn(v, true),
      legend: [-1, -0.5, 0, 0.5, 1].map((v) => ({ label: String(v).replace('-', '−'), color: divergingColor(v) })),
      legendTitle: 'mean cosine between experts (−1 … 1)',
      describe: (v) => (v === null ? 'no cosine (fewer than two experts changed it)' : `mean cosine ${v.toFixed(3)}`),
    };
  }
  const top = Math.max(1, rankMax);
  return {
    value: (_c, r) => r?.effectiveRank ?? null,
    text: (v) => v.toFixed(1),
    color: (v) => sequentialColor(v / top),
    ink: (v) => inkOn(v / top, false),
    legend: [0, 0.25, 0.5, 0.75, 1].map((t) => ({ label: Number((t * top).toFixed(1)).toString(), color: sequentialColor(t) })),
    legendTitle: 'effective rank (mean over experts)',
    describe: (v) => (v === null ? 'no effective rank (a vector, or no expert changed it)' : `effective rank ${v.toFixed(2)}`),
  };
}

const billions = (n: number) => `${Number((n / 1e9).toPrecision(2))} × 10⁹`;

/** Why no rank is drawn for a model this large, with the numbers the engine gave. */
function tooLargeText(t: NonNullable<LayerRanks['tooLarge']>): string {
  return `Not worked out for models this large: one SVD per matrix and expert would take about ${billions(t.multiplyAdds)} multiply-adds (the largest matrix ${billions(t.largest)}), and the page allows ${billions(t.budget)} (${billions(t.matrixBudget)} for one matrix), a few nanoseconds each. The SVD spectrum chart factors one matrix at a time.`;
}

const entries = (n: number) => `${n.toLocaleString('en-US')} entries`;

function gridCell(scale: Scale, metric: LayerMetric, where: string, c: CellValues | undefined, r: RankCell | undefined, data: Record<string, string | number>): GridCell | undefined {
  if (!c && !r) return undefined;
  const v = scale.value(c, r);
  const tensors = (c ?? r)!.tensors;
  return {
    value: v,
    text: v === null ? '–' : scale.text(v),
    color: v === null ? '#ffffff' : scale.color(v),
    ink: v === null ? '#4a5568' : scale.ink(v),
    tooltip: `${where}: ${scale.describe(v)} (${tensors.join(', ')}; ${entries((c ?? r)!.size)})`,
    data: { ...data, metric },
  };
}

const CSV_HEADER = ['layer', 'module', 'tensors', 'entries', 'sign_conflict_percent', 'mean_cosine', 'effective_rank', 'marked'];

/** The CSV: every cell and part with all three metrics, whichever is drawn (effective ranks once that colouring asked for them); with the stack on, each layer's source last. */
function csvRows(map: LayerMap, ranks: LayerRanks | undefined, sourceOf?: (layer: number) => string) {
  const rankOf = (layer: number, module: string) => ranks?.cells.find((x) => x.layer === layer && x.module === module)?.effectiveRank;
  const marked = new Set(map.marked);
  const row = (layer: number | '', where: string, c: CellValues, rank: number | null | undefined, isMarked: boolean | '') => [
    layer,
    where,
    c.tensors.join(' '),
    c.size,
    100 * c.conflictRate,
    c.cosine ?? '',
    rank ?? '',
    isMarked,
    ...(sourceOf ? [layer === '' ? '' : sourceOf(layer)] : []),
  ];
  return [
    ...map.cells.map((c) => row(c.layer, c.module, c, rankOf(c.layer, c.module), marked.has(c.layer))),
    ...map.apart.map((a: ApartCell) => row('', a.part, a, ranks?.apart.find((x) => x.part === a.part)?.effectiveRank, '')),
  ];
}

/** The layer stack the map follows: on, for one's own checkpoints, and without problems (else the map shows the models' own layers). */
function stackToFollow(s: LabState) {
  return s.source === 'mine' && s.stack.enabled && stackProblems(s.stack.slices, s.dropped).length === 0 ? s.stack.slices : undefined;
}

export function LayerMapChart() {
  const { diag, ranksData, slices, metric, setMetric } = useLabStore(
    useShallow((s) => ({ diag: s.diagnostics, ranksData: s.layerRanks, slices: stackToFollow(s), metric: s.layerMetric, setMetric: s.setLayerMetric })),
  );
  const t = useChartText();
  const d = diag.shown?.data;
  const modelRanks = ranksFor(d, ranksData.shown?.data);
  const stacked: StackedMap | undefined = useMemo(() => (d?.layerMap && slices ? stackLayerMap(d.layerMap, stackStrip(slices), modelRanks) : undefined), [d, slices, modelRanks]);
  const map = stacked?.map ?? d?.layerMap;
  const ranks = stacked ? stacked.ranks : modelRanks;
  const sourceOf = stacked ? (layer: number) => stacked.sources[stacked.map.layers.findIndex((l) => l.layer === layer)] ?? '' : undefined;
  const rankMax = Math.max(0, ...(ranks ? [...ranks.cells, ...ranks.apart].map((c) => c.effectiveRank ?? 0) : []));
  const scale = scaleOf(metric, rankMax);
  const onRank = metric === 'rank';
  const status = !onRank ? diag.status : ranks ? (ranksData.status === 'error' ? 'error' : diag.status === 'computing' || ranksData.status === 'computing' ? 'computing' : 'ready') : ranksData.status === 'error' ? 'error' : 'computing';
  const tooLarge = onRank ? ranks?.tooLarge : undefined;
  const marked = map?.marked ?? [];
  const markRule = map ? `the ${map.marking.count === 1 ? 'layer' : `${map.marking.count} layers`} with the highest sign-conflict rate` : '';
  const drawable = map && (!onRank || (ranks && !ranks.tooLarge));
  return (
    <ChartFrame
      id="layer-map"
      title="Per layer: where the experts disagree"
      status={status}
      error={onRank ? ranksData.error : diag.error}
      seq={onRank ? ranksData.shown?.seq : diag.shown?.seq}
      empty={tooLarge ? tooLargeText(tooLarge) : onRank && map ? 'Working out the effective ranks (one SVD per matrix and expert)…' : undefined}
      caption={
        <>
          {stacked ? (
            <span data-stacked-layers={stacked.map.layers.length}>
              The layer stack is on: rows are the merged model&apos;s {stacked.map.layers.length} layers as the slices renumber them, each labelled with the model and layer it comes from
              (&quot;{`${stacked.map.layers.at(-1)?.layer ?? 0} ← ${stacked.sources.at(-1) ?? ''}`}&quot;); its numbers are the experts&apos; at that source layer, since the stacked layer is {stacked.sources.some((x) => x.includes(' + ')) ? 'copied or merged from it' : 'a copy of it'}
              {stacked.missing.length > 0 ? ` (layers ${stacked.missing.join(', ')} come from layers the experts do not have, and are left out)` : ''}. Columns are its modules.
            </span>
          ) : (
            <>Rows are the model&apos;s decoder layers, columns its modules.</>
          )}{' '}
          {metric === 'conflict' && <>Each cell: of the entries where two or more {d?.election ? 'trimmed ' : ''}task vectors are nonzero, the share whose signs disagree (%).</>}
          {metric === 'cosine' && <>Each cell: the mean cosine between different experts&apos; task vectors (expert − base); blank where fewer than two experts changed the module.</>}
          {metric === 'rank' && (
            <>
              Each cell: the effective rank of each expert&apos;s task vector (exp of the entropy of its normalised singular values{ranks ? `, the leading ${ranks.maxRank} for larger matrices` : ''}), averaged over the experts; the norms are vectors and have none.
            </>
          )}{' '}
          A cell pools its module&apos;s tensors (weight and bias), each weighted by its number of entries{map?.family === 'gpt2' ? "; GPT-2's fused c_attn is split into q, k and v by its column thirds" : ''}.{' '}
          {map && (
            <>
              Outlined with a dot: {markRule}
              {marked.length > 0 ? (
                <>
                  {' '}(<strong data-marked-layers={marked.join(',')}>{marked.length === 1 ? 'layer' : 'layers'} {marked.join(', ')}</strong>).
                </>
              ) : (
                ' (none: no layer has conflicting signs).'
              )}{' '}
              Embeddings and positions are drawn apart above the layers, the final norm, the LM head and any tensor neither Llama nor GPT-2 names below them.
            </>
          )}
        </>
      }
      controls={
        <p className="field">
          <label htmlFor="layer-metric">Colour by</label>{' '}
          <select id="layer-metric" value={metric} onChange={(e) => setMetric(e.target.value as LayerMetric)}>
            {METRICS.map((m) => (
              <option key={m.id} value={m.id}>
                {m.label}
              </option>
            ))}
          </select>
        </p>
      }
      csv={map ? { header: sourceOf ? [...CSV_HEADER, 'source'] : CSV_HEADER, rows: csvRows(map, ranks, sourceOf) } : undefined}
    >
      {drawable && (
        <Drawn
          deps={[map, ranks, metric, t, stacked]}
          draw={() => {
            const markedSet = new Set(map.layers.flatMap((l, i) => (l.marked ? [i] : [])));
            const cellAt = new Map(map.cells.map((c) => [`${c.layer}\u0000${c.module}`, c]));
            const rankAt = new Map((ranks?.cells ?? []).map((c) => [`${c.layer}\u0000${c.module}`, c]));
            const apartRanks = new Map((ranks?.apart ?? []).map((a) => [a.part, a]));
            const spans = (parts: readonly ApartCell[]) =>
              parts.flatMap((a) => {
                const where = PART_LABEL[a.part] ?? a.part;
                const c = gridCell(scale, metric, where, a, apartRanks.get(a.part), { part: a.part });
                return c ? [{ label: where, cell: c }] : [];
              });
            return (
              <LayerGrid
                id="layers"
                rows={map.layers.map((l, i) => (stacked ? `${l.layer} ← ${stacked.sources[i]}` : String(l.layer)))}
                columns={map.modules.map((m) => MODULE_LABEL[m] ?? m)}
                cell={(i, j) => {
                  const layer = map.layers[i]!.layer;
                  const module = map.modules[j]!;
                  const key = `${layer}\u0000${module}`;
                  const c = cellAt.get(key);
                  const where = stacked ? `layer ${layer} (${stacked.sources[i]}), ${MODULE_LABEL[module] ?? module}` : `layer ${layer}, ${MODULE_LABEL[module] ?? module}`;
                  return c ? gridCell(scale, metric, where, c, rankAt.get(key), { layer, module, ...(stacked ? { source: stacked.sources[i]! } : {}) }) : undefined;
                }}
                before={spans(map.apart.filter((x) => BEFORE.has(x.part)))}
                after={spans(map.apart.filter((x) => !BEFORE.has(x.part)))}
                marked={markedSet}
                markedLegend={`outlined: ${markRule}`}
                rowsTitle={stacked ? "merged layer ← source" : "layer"}
                columnsTitle="module"
                legend={scale.legend}
                legendTitle={scale.legendTitle}
                label={`decoder layer by module: ${scale.legendTitle}`}
                fontSize={t.size}
              />
            );
          }}
        />
      )}
    </ChartFrame>
  );
}
