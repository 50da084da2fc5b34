/**
 * A routed package built from the user's checkpoints (no data, so nothing to score): how far each
 * task's rebuilt weights are from its expert, tensor by tensor (left), and the package's size and
 * the mean error per task at the other ranks or K (right) — the trade the slider makes.
 */
import { Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import { useLabStore } from '../../store/index.js';
import { AUTO_BUILD_BYTES } from '../../store/routed-slice.js';
import { ChartFrame, type ChartFrameProps } from '../ChartFrame.js';
import { tidyTick } from '../chart-props.js';
import type { RoutedPackageState } from '../../store/types.js';
import { Drawn } from '../Drawn.js';
import { seriesColor } from '../palette.js';

/** A chart drawn from the package build: its frame's state follows the build's. */
export function packageChartStatus(pkg: RoutedPackageState): ChartFrameProps['status'] {
  return pkg.status === 'building' ? 'computing' : pkg.status;
}

export function PackageReportChart() {
  const { pkg, method } = useLabStore(useShallow((s) => ({ pkg: s.routedPackage, method: s.method })));
  const r = pkg.report;
  const setting = method === 'twin_merging' ? 'rank' : 'K';
  const tasks = r?.tasks ?? [];
  const perTensor = (r?.tensors ?? []).map((t) => ({ name: t.name, ...Object.fromEntries(t.errors.map((e, i) => [`e${i}`, Number.isFinite(e) ? e : null])) }));
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
            Left: per tensor and task, ‖rebuilt − expert‖ / ‖expert − {method === 'twin_merging' ? 'shared expert' : 'base'}‖ (0: rebuilt exactly) at {setting} {now}. Right: mean error
            per task (lines) and the package's size as a share of the {tasks.length} experts (grey, right axis) at each {setting}. Storage now{' '}
            <strong data-storage-ratio={r.storage.ratio}>{(100 * r.storage.ratio).toFixed(1)}%</strong>.
            {r.storageSweep.every((p) => !p.taskErrors) && (
              <> The error at other {setting} takes a build at each; it is drawn for checkpoints up to {AUTO_BUILD_BYTES / 2 ** 20} MiB together, and these are larger.</>
            )}
          </>
        ) : (
          'Per-tensor reconstruction error of each task, and storage against the setting.'
        )
      }
      csv={{ header: ['tensor', ...tasks.map((t) => `error_${t}`)], rows: (r?.tensors ?? []).map((t) => [t.name, ...t.errors]) }}
    >
      {r && (
        <Drawn
          deps={[r]}
          draw={() => (
            <div className="chart-pair">
              <BarChart width={320} height={240} data={perTensor} margin={{ top: 8, right: 8, bottom: 8, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="name" tick={{ fontSize: 10 }} interval={0} angle={-20} textAnchor="end" height={48} />
                <YAxis domain={[0, 'auto']} tick={{ fontSize: 11 }} />
                <Tooltip formatter={(x) => Number(x).toFixed(4)} />
                <Legend wrapperStyle={{ fontSize: 12 }} />
                {tasks.map((t, i) => (
                  <Bar key={t} dataKey={`e${i}`} name={t} fill={seriesColor(i)} isAnimationActive={false} />
                ))}
              </BarChart>
              <ComposedChart width={320} height={240} data={sweep} margin={{ top: 18, right: 8, bottom: 16, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="x" type="number" domain={['dataMin', 'dataMax']} ticks={sweep.map((p) => p.x)} tickFormatter={tidyTick} tick={{ fontSize: 11 }} label={{ value: setting, position: 'insideBottom', offset: -8, fontSize: 11 }} />
                <YAxis yAxisId="err" domain={[0, 'auto']} tick={{ fontSize: 11 }} />
                <YAxis yAxisId="storage" orientation="right" unit="%" domain={[0, 'auto']} tick={{ fontSize: 11 }} />
                <Tooltip formatter={(x, n) => (n === 'storage' ? `${Number(x).toFixed(1)}% of the experts` : Number(x).toFixed(4))} labelFormatter={(x) => `${setting} ${x}`} />
                {tasks.map((t, i) => (
                  <Line key={t} yAxisId="err" dataKey={`e${i}`} name={t} stroke={seriesColor(i)} isAnimationActive={false} legendType="none" />
                ))}
                <Line yAxisId="storage" dataKey="storage" name="storage" stroke="#8a94a6" strokeWidth={2} isAnimationActive={false} />
                {now !== undefined && <ReferenceLine yAxisId="err" x={now} stroke="#D55E00" strokeWidth={2} label={{ value: 'now', position: 'top', fontSize: 11 }} />}
              </ComposedChart>
            </div>
          )}
        />
      )}
    </ChartFrame>
  );
}
