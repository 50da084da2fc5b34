/**
 * Card: how the routed method's router (Twin-Merging's, or Channel Merging's) weighs the domains on
 * the LM demo's mixed windows (half of one domain's text, then the next's), where no single expert
 * is right — one stacked bar per window, its routing weights over the five experts, and the same
 * numbers as a table. The answer is the language-model card's (lmLab.evaluate with `twin` or
 * `channel`), so it names the same settings and is marked stale by the same rule while newer
 * settings are computed.
 */
import { Bar, BarChart, CartesianGrid, Legend, Tooltip, XAxis, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import type { LmLabTwinAnswer } from '../../engine/api/lm-lab-twin-api.js';
import { useLabStore } from '../store/index.js';
import { useChartText } from './chart-text.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { seriesColor } from './palette.js';

const WEIGHT_FORMATTER = (v: unknown) => Number(v).toFixed(3);
const TICKS = [0, 0.25, 0.5, 0.75, 1];
/** Five experts' columns may be wider than a narrow card: the table scrolls, the page does not. */
const TABLE_BOX = { overflowX: 'auto' } as const;

/** The windows of the tasks without an expert (the mixed ones), each with its weights. */
export function mixedRouting(a: LmLabTwinAnswer): { task: string; window: number; weights: readonly number[] }[] {
  const routing = a.routing;
  if (!routing) return [];
  return a.tasks.flatMap((t, i) => (t.expert === undefined ? routing.tasks[i]!.weights.map((weights, window) => ({ task: t.name, window, weights })) : []));
}

export function LmRoutingChart() {
  const { lm } = useLabStore(useShallow((s) => ({ lm: s.lmEval })));
  const t = useChartText();
  const shown = lm.shown?.data;
  const a = shown?.answer as LmLabTwinAnswer | undefined;
  const fresh = lm.status === 'ready' || (lm.status === 'computing' && shown !== undefined && shown.key === lm.key);
  const status = lm.status === 'computing' ? 'computing' : lm.status === 'error' ? 'error' : a?.routing ? 'ready' : 'idle';
  const routing = a?.routing;
  const rows = a ? mixedRouting(a) : [];
  const experts = routing?.experts ?? [];
  const data = rows.map((r) => ({ window: `${r.task} ${r.window + 1}`, ...Object.fromEntries(experts.map((e, i) => [e, r.weights[i]!])) }));
  const largest = rows.length ? rows.reduce((n, r) => n + Math.max(...r.weights), 0) / rows.length : null;
  // The domain windows sent mostly to their own domain's expert (under oracle routing: all of them).
  const domain = a && routing ? a.tasks.flatMap((task, i) => (task.expert === undefined ? [] : routing.tasks[i]!.weights.map((w) => w.indexOf(Math.max(...w)) === routing.experts.indexOf(task.expert!)))) : [];
  const own = domain.length ? domain.filter(Boolean).length / domain.length : null;
  return (
    <ChartFrame
      id="lm-routing"
      title="Routing on mixed windows"
      status={status}
      {...(lm.error ? { error: lm.error } : {})}
      {...(lm.shown ? { seq: lm.shown.seq } : {})}
      {...(shown ? { madeBy: { method: shown.method, settings: shown.settings } } : {})}
      empty="Routing the windows: the router is trained on the domains' validation text first…"
      caption={
        <>
          {shown?.method === 'channel_merging' ? (
            <>
              Channel Merging runs each window with the rows its router&apos;s largest weight picks (one domain&apos;s looked-up rows). The router reads the mean of the base&apos;s last
              hidden states over the window.
            </>
          ) : (
            <>
              Twin-Merging scores each window with the shared expert plus each expert&apos;s own part, weighted by the router. The router reads the mean of the shared expert&apos;s
              last hidden states over the window.
            </>
          )}{' '}
          Each bar is one mixed window (half of one domain&apos;s text, then the next&apos;s): how much weight each domain&apos;s expert gets,
          summing to 1.{' '}
          {shown?.method === 'channel_merging'
            ? 'The lookup takes the largest: a split bar shows how unsure the router is, and the window still runs with one domain’s rows.'
            : 'One colour filling a bar means the window is sent to one expert; a split bar blends them.'}{' '}
          {routing && (
            <span data-routing-summary data-fresh={fresh ? 'true' : 'false'}>
              {fresh ? '' : 'Not the current settings: '}
              Mean largest weight on the mixed windows <strong data-mean-largest={largest ?? ''}>{largest === null ? '—' : largest.toFixed(3)}</strong>
              {own !== null && <>; {(100 * own).toFixed(0)}% of the domain windows get their own domain&apos;s expert as the largest weight</>}. Router: {routing.router.architecture},
              trained on {routing.router.samples.training} validation windows ({routing.router.samples.heldOut} held out), kept at epoch {routing.router.bestEpoch} of {routing.router.epochs}.
            </span>
          )}
        </>
      }
      csv={routing ? { header: ['window', ...experts], rows: data.map((d) => [d.window, ...experts.map((e) => (d as Record<string, number | string>)[e]!)]) } : undefined}
    >
      {routing && rows.length > 0 && (
        <div className={fresh ? 'lm-routing' : 'lm-routing stale'} data-stale={fresh ? undefined : 'true'}>
          <Drawn
            deps={[a, t]}
            draw={() => (
              <BarChart responsive style={t.box(1.8)} data={data} margin={t.margin}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                <XAxis dataKey="window" tick={t.tick} interval={0} height={t.xHeight} label={t.xTitle('mixed window')} />
                <YAxis tick={t.tick} width={t.yWidth} domain={[0, 1]} ticks={TICKS} label={t.yTitle('routing weight')} />
                <Tooltip formatter={WEIGHT_FORMATTER} />
                <Legend verticalAlign="top" wrapperStyle={t.legend} />
                {experts.map((e, i) => (
                  <Bar key={e} dataKey={e} name={e} stackId="w" fill={seriesColor(i + 1)} isAnimationActive={false} />
                ))}
              </BarChart>
            )}
          />
          <div style={TABLE_BOX}>
            <table className="grid routing-table" data-routing-table>
              <caption>Routing weights of each mixed window</caption>
              <thead>
                <tr>
                  <th scope="col">window</th>
                  {experts.map((e) => (
                    <th key={e} scope="col">
                      {e}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={`${r.task}-${r.window}`} data-window={`${r.task}-${r.window}`}>
                    <th scope="row">
                      {r.task} {r.window + 1}
                    </th>
                    {r.weights.map((w, i) => (
                      <td key={experts[i]} data-weight={w}>
                        {w.toFixed(2)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </ChartFrame>
  );
}
