/**
 * A routed package built from the user's checkpoints (no data, so nothing to score): how far each
 * task's rebuilt weights are from its expert, tensor by tensor, and the package's size and the
 * mean error per task at the other ranks or K — the trade the slider makes.
 */
import { Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { CategoryXAxis, wrappedAxisHeight } from '../category-axis.js';
import { plotBox } from '../plot-box.js';
import { useShallow } from 'zustand/react/shallow';
import { useLabStore } from '../../store/index.js';
import { AUTO_BUILD_BYTES } from '../../store/routed-slice.js';
import { ChartFrame, type ChartFrameProps } from '../ChartFrame.js';
import { tidyTick } from '../chart-props.js';
import type { RoutedPackageState } from '../../store/types.js';
import { Drawn } from '../Drawn.js';
import { seriesColor } from '../palette.js';
import { useChartText } from '../chart-text.js';
import { SubChart } from '../SubChart.js';

/** A chart drawn from the package build: its frame's state follows the build's. */
/** Tensors named under their bars up to this many; more are numbered (names in the tooltip and the CSV). */
const NAMED_AT_MOST = 8;

export function packageChartStatus(pkg: RoutedPackageState): ChartFrameProps['status'] {
  return pkg.status === 'building' ? 'computing' : pkg.status;
}

export function PackageReportChart() {
  const { pkg, method } = useLabStore(useShallow((s) => ({ pkg: s.routedPackage, method: s.method })));
  const t = useChartText();
  const r = pkg.report;
  const setting = method === 'twin_merging' ? 'rank' : 'K';
  const tasks = r?.tasks ?? [];
  const perTensor = (r?.tensors ?? []).map((t, i) => ({ name: t.name, n: i + 1, ...Object.fromEntries(t.errors.map((e, i) => [`e${i}`, Number.isFinite(e) ? e : null])) }));
  // A transformer's dozens of long names cannot stand under their bars (39 ran together): numbered then, named in the tooltip and the CSV.
  const numbered = perTensor.length > NAMED_AT_MOST;
  const sweep = (r?.storageSweep ?? []).map((p) => ({ x: p.setting, storage: 100 * p.ratio, ...Object.fromEntries((p.taskErrors ?? []).map((e, i) => [`e${i}`, e])) }));
  const now = r ? (r.setting.rank ?? r.setting.K) : undefined;
  const status = packageChartStatus(pkg);
  return (
    <ChartFrame
      id="package-report"
      title={`Reconstruction error and storage against ${setting}`}
      status={status}
      error={pkg.error}
      seq={pkg.seq}
      empty="Build the package (in the Merge panel) to see how far each task's rebuilt weights are from its expert, per tensor, and what other settings would store."
      caption={
        r ? (
          <>
            How far each task's rebuilt weights are from its expert, ‖rebuilt − expert‖ / ‖expert − {method === 'twin_merging' ? 'shared expert' : 'base'}‖ (0: rebuilt exactly), at{' '}
            {setting} {now} and at the other {setting}, beside the package's size as a share of the {tasks.length} experts. Storage now{' '}
            <strong data-storage-ratio={r.storage.ratio}>{(100 * r.storage.ratio).toFixed(1)}%</strong>.
            {numbered && <> Its {perTensor.length} tensors are numbered in the file&apos;s order: a bar&apos;s tooltip and the CSV name each.</>}
            {r.storageSweep.every((p) => !p.taskErrors) && (
              <> The error at other {setting} takes a build at each; it is drawn for checkpoints up to {AUTO_BUILD_BYTES / 2 ** 20} MiB together, and these are larger.</>
            )}
          </>
        ) : (
          'Per-tensor reconstruction error of each task, and storage against the setting.'
        )
      }
      csv={{ header: ['tensor', ...tasks.map((task) => `relative_error_${task}`)], rows: (r?.tensors ?? []).map((x) => [x.name, ...x.errors]) }}
    >
      {r && (
        <Drawn
          deps={[r, t]}
          draw={() => (
            <div className="chart-pair">
              <SubChart id="reconstruction-error" title={`Error per tensor at ${setting} ${now}`} help="Each task's relative reconstruction error, tensor by tensor (0: rebuilt exactly).">
              <BarChart responsive style={numbered ? t.box(1.3) : plotBox(t, 1.3, { legend: tasks, xHeight: wrappedAxisHeight(t) })} data={perTensor} margin={t.margin}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                {numbered ? (
                  <XAxis dataKey="n" tick={t.tick} height={t.xHeight} label={t.xTitle('tensor (number in file order)')} />
                ) : (
                  <CategoryXAxis dataKey="name" names={perTensor.map((x) => x.name)} t={t} title="tensor" />
                )}
                <YAxis domain={[0, 'auto']} tick={t.tick} width={t.yWidth} label={t.yTitle('relative error (ratio)')} />
                <Tooltip formatter={(x) => Number(x).toFixed(4)} labelFormatter={(n, items) => String((items?.[0]?.payload as { name?: string } | undefined)?.name ?? n)} />
                <Legend verticalAlign="top" wrapperStyle={t.legend} />
                {tasks.map((task, i) => (
                  <Bar key={task} dataKey={`e${i}`} name={task} fill={seriesColor(i)} isAnimationActive={false} />
                ))}
              </BarChart>
              </SubChart>
              <SubChart id="error-storage" title={`Error and storage against ${setting}`} help={`Mean error per task (coloured lines, left axis) and the package's size (grey, right axis) at each ${setting}.`}>
              <ComposedChart responsive style={t.box(1.3)} data={sweep} margin={t.margin}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} ticks={sweep.map((p) => p.x)} tickFormatter={tidyTick} tick={t.tick} height={t.xHeight} label={t.xTitle(setting === 'rank' ? 'rank r' : 'groups per channel K')} />
                <YAxis yAxisId="err" domain={[0, 'auto']} tick={t.tick} width={t.yWidth} label={t.yTitle('mean relative error (ratio)')} />
                <YAxis yAxisId="storage" orientation="right" unit="%" domain={[0, 'auto']} tick={t.tick} width={t.yWidth} label={t.yTitle('storage (% of the experts)', 'right')} />
                <Tooltip formatter={(x, n) => (n === 'storage' ? `${Number(x).toFixed(1)}% of the experts` : Number(x).toFixed(4))} labelFormatter={(x) => `${setting} ${x}`} />
                <Legend verticalAlign="top" wrapperStyle={t.legend} />
                {tasks.map((task, i) => (
                  <Line key={task} yAxisId="err" dataKey={`e${i}`} name={task} stroke={seriesColor(i)} isAnimationActive={false} />
                ))}
                <Line yAxisId="storage" dataKey="storage" name="storage" stroke="#8a94a6" strokeWidth={2} isAnimationActive={false} />
                {now !== undefined && <ReferenceLine yAxisId="err" x={now} stroke="#D55E00" strokeWidth={2} label={{ value: 'now', position: 'top', fontSize: t.size }} />}
              </ComposedChart>
              </SubChart>
            </div>
          )}
        />
      )}
    </ChartFrame>
  );
}
