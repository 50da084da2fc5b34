/**
 * Channel Merging's assignment map for one tensor: a column per output channel, a row per task,
 * coloured by the group the task's row falls in — channels sorted by their partition (most common
 * first), so the few ways the experts split show as blocks; and how often two tasks share a group.
 */
import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useLabStore } from '../../store/index.js';
import { AUTO_BUILD_BYTES } from '../../store/routed-slice.js';
import type { AssignmentMap } from '../../../engine/api/engine-api.js';
import type { AppError } from '../../store/types.js';
import { ChartFrame } from '../ChartFrame.js';
import { Drawn } from '../Drawn.js';
import { Heatmap } from '../Heatmap.js';
import { useModelLabel } from '../labels.js';
import { seriesColor } from '../palette.js';
import { packageChartStatus } from './PackageReportChart.js';
import { INK } from '../chart-text.js';
import { SubChart } from '../SubChart.js';
import { textWidth } from '../text-width.js';

const WIDTH = 360;
const FONT = 12;

/** Channels in partition order, each partition's channels in index order. */
function channelOrder(a: AssignmentMap): number[] {
  const rank = new Map(a.partitions.map((p, i) => [p.labels.join(','), i]));
  const canonical = (g: readonly number[]) => {
    const seen = new Map<number, number>();
    return g.map((x) => (seen.has(x) ? seen.get(x)! : (seen.set(x, seen.size), seen.size - 1))).join(',');
  };
  return a.groups.map((g, c) => ({ c, r: rank.get(canonical(g)) ?? a.partitions.length })).sort((x, y) => x.r - y.r || x.c - y.c).map((x) => x.c);
}

/** The strip: a row per task, a column per channel, in an SVG that scales to its box (labels sized to fit). */
function AssignmentStrip({ a, labels }: { a: AssignmentMap; labels: readonly string[] }) {
  const left = FONT + 10 + Math.max(0, ...labels.map((l) => textWidth(l, FONT))) + 8;
  const row = 22;
  const groupWidth = textWidth('group 8', FONT) + 26;
  const perLine = Math.max(1, Math.floor(WIDTH / groupWidth));
  const legendLines = Math.ceil(a.K / perLine);
  const grid = a.tasks.length * row;
  const order = channelOrder(a);
  const w = WIDTH / Math.max(1, a.channels);
  // One rect per run of equal groups along the sorted channels: a few hundred elements, not T × C.
  const runs: { t: number; from: number; to: number; g: number }[] = [];
  for (let t = 0; t < a.tasks.length; t++) {
    let from = 0;
    for (let i = 1; i <= order.length; i++) {
      const g = a.groups[order[from]!]![t]!;
      if (i === order.length || a.groups[order[i]!]![t] !== g) {
        runs.push({ t, from, to: i, g });
        from = i;
      }
    }
  }
  return (
    <svg
      viewBox={`0 0 ${Math.ceil(left + WIDTH + 8)} ${grid + 30 + legendLines * 20 + 4}`}
      width="100%"
      role="img"
      aria-label={`group of each task's row per channel of ${a.tensor}`}
      preserveAspectRatio="xMinYMin meet"
    >
      <text x={FONT} y={grid / 2} transform={`rotate(-90 ${FONT} ${grid / 2})`} textAnchor="middle" fontSize={FONT} fill={INK} className="axis-title">
        task
      </text>
      {labels.map((l, t) => (
        <text key={t} x={left - 6} y={t * row + row / 2 + 4} textAnchor="end" fontSize={FONT} fill={INK}>
          {l}
        </text>
      ))}
      {runs.map((r, i) => (
        <rect key={i} x={left + r.from * w} y={r.t * row} width={Math.max(0.5, (r.to - r.from) * w)} height={row - 2} fill={seriesColor(r.g)} data-task={a.tasks[r.t]} data-group={r.g}>
          <title>{`${labels[r.t]}: group ${r.g + 1} on ${r.to - r.from} channels`}</title>
        </rect>
      ))}
      <text x={left + WIDTH / 2} y={grid + 16} textAnchor="middle" fontSize={FONT} fill={INK} className="axis-title">
        output channel ({a.channels}, sorted by split)
      </text>
      {Array.from({ length: a.K }, (_, g) => (
        <g key={g} transform={`translate(${left + (g % perLine) * groupWidth},${grid + 28 + Math.floor(g / perLine) * 20})`}>
          <rect width={14} height={12} fill={seriesColor(g)} />
          <text x={18} y={10} fontSize={FONT} fill={INK}>
            group {g + 1}
          </text>
        </g>
      ))}
    </svg>
  );
}

interface FigureProps {
  readonly a?: AssignmentMap;
  readonly status: 'idle' | 'computing' | 'ready' | 'error';
  readonly error?: AppError;
  readonly seq?: number;
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly tensor: string | undefined;
  readonly onTensor: (name: string) => void;
  readonly empty?: string;
}

function AssignmentFigure({ a, status, error, seq, tensors, tensor, onTensor, empty }: FigureProps) {
  const label = useModelLabel();
  const labels = (a?.tasks ?? []).map(label);
  return (
    <ChartFrame
      id="channel-assignment"
      title="Which group each task's channels use"
      status={status}
      error={error}
      seq={seq}
      empty={empty}
      caption={
        a ? (
          <>
            {a.tensor}, K = {a.K}: each column is an output channel, each row a task, the colour the group its row was merged in. The most common split covers{' '}
            {a.partitions[0] ? `${((100 * a.partitions[0].channels) / a.channels).toFixed(0)}%` : '—'} of the channels ({a.partitions.length} distinct splits).
          </>
        ) : (
          "Per output channel of one tensor, the group each task's row falls in."
        )
      }
      controls={
        tensors.length > 0 && (
          <p className="field">
            <label htmlFor="channel-tensor">Tensor</label>{' '}
            <select id="channel-tensor" value={tensor ?? a?.tensor} onChange={(e) => onTensor(e.target.value)}>
              {tensors.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name} [{t.shape.join(' × ')}]
                </option>
              ))}
            </select>
          </p>
        )
      }
      csv={{ header: ['channel', ...labels.map((l) => `group_${l}`)], rows: (a?.groups ?? []).map((g, c) => [c, ...g.map((x) => x + 1)]) }}
    >
      {a && (
        <Drawn
          deps={[a, label]}
          draw={() => (
            <div className="chart-pair">
              <SubChart id="assignment-strip" title="Group per channel and task" help="Each column an output channel, each row a task, coloured by the group its row was merged in.">
                <AssignmentStrip a={a} labels={labels} />
              </SubChart>
              <SubChart id="shared-groups" title="How often two tasks share a group" help="The share of channels where the two tasks' rows fall in one group.">
                <Heatmap labels={labels} values={a.together} scale="sequential" cell={40} rows="task" columns="task" legend="share of channels in one group (0 … 1)" describe={(x, y, v) => `${x} and ${y} share a group on ${(100 * v).toFixed(1)}% of channels`} />
              </SubChart>
            </div>
          )}
        />
      )}
    </ChartFrame>
  );
}

/** On the demo: the map the lab session cut for the chosen tensor at the current K. */
export function AssignmentChart() {
  const { chart, tensor, setChannel } = useLabStore(useShallow((s) => ({ chart: s.channelView, tensor: s.channel.tensor, setChannel: s.setChannel })));
  const v = chart.shown?.data;
  return <AssignmentFigure a={v?.assignment} status={chart.status} error={chart.error} seq={chart.shown?.seq} tensors={v?.tensors ?? []} tensor={tensor} onTensor={(name) => setChannel({ tensor: name })} />;
}

/** On the user's checkpoints: every tensor's map came with the package build; the select only picks one. */
export function PackageAssignmentChart() {
  const pkg = useLabStore((s) => s.routedPackage);
  const [tensor, setTensor] = useState<string>();
  const maps = pkg.report?.assignments ?? [];
  const a = maps.find((m) => m.tensor === tensor) ?? maps.find((m) => m.channels > 1) ?? maps[0];
  const shapes = (pkg.report?.tensors ?? []).filter((t) => maps.some((m) => m.tensor === t.name));
  const status = packageChartStatus(pkg);
  return (
    <AssignmentFigure
      a={a}
      status={status}
      error={pkg.error}
      seq={pkg.seq}
      tensors={shapes}
      tensor={a?.tensor}
      onTensor={setTensor}
      empty={
        pkg.report && maps.length === 0
          ? `Assignment maps are drawn for checkpoints up to ${AUTO_BUILD_BYTES / 2 ** 20} MiB together; these are larger, so the package was built without them.`
          : 'Build the package (in the Merge panel) to see how the channels were clustered.'
      }
    />
  );
}
