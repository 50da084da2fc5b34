/**
 * Card: the language-model evaluation of one's own checkpoints — per task (a dropped text) the
 * merged model's loss, perplexity, bits per byte and normalized gain beside the base and the
 * experts, as bars and as a table. On the LM demo the tasks are its five domains' windows and the
 * mixed windows (no expert, so no gain), on the validation split unless the held-out test split
 * is asked for, and the answer says which. The numbers are the engine's answer (lmLab.evaluate) for one
 * recipe, which the caption names with its method and settings; while a newer one is computed, or
 * after a cancel, the answer is marked as not the current settings'. A probe (while a slider is
 * dragged) says so and gives no bits per byte.
 */
import { useDroppedPath } from '../models/dropped-path.js';
import { memo, useDeferredValue } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ReferenceLine, Tooltip, YAxis } from 'recharts';
import { useShallow } from 'zustand/react/shallow';
import type { LmLabAnswer, LmLabMetrics } from '../../engine/api/engine-api.js';
import { LM_EVAL_WINDOWS } from '../../engine/demo/lm-eval-set.js';
import { findMethod } from '../../engine/methods/catalog.js';
import { formatCount } from '../format.js';
import { useLabStore } from '../store/index.js';
import type { LmEvalState } from '../store/types.js';
import { useChartText } from './chart-text.js';
import { CategoryXAxis, slantedAxisHeight } from './category-axis.js';
import { ChartFrame } from './ChartFrame.js';
import { Drawn } from './Drawn.js';
import { seriesColor } from './palette.js';
import { plotBox } from './plot-box.js';
import { SubChart } from './SubChart.js';

const BASE_COLOR = '#a0aec0';
const MERGED_COLOR = seriesColor(0);

export const lossText = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '—');
export const perplexityText = (v: number) => (Number.isFinite(v) ? formatCount(Number(v.toPrecision(4))) : '—');
export const bitsText = (v: number | null) => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(3));
export const gainText = (v: number | null) => (v === null || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(1)}%`);

/** Ticks from 0 (or below, for `min` < 0) past `max` in steps of 1, 2, 2.5 or 5 × 10ⁿ: about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return [0, 1];
  const raw = span / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((x) => x >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v < hi + step - 1e-9 * step; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** The task's expert scores better than the base: only then does the normalized gain mean something. */
export function expertWins(a: LmLabAnswer, task: LmLabAnswer['tasks'][number]): boolean {
  const i = task.expert === undefined ? -1 : a.experts.indexOf(task.expert);
  return i >= 0 && task.experts[i]!.loss < task.base.loss;
}

const PERCENT_TICK = (v: unknown) => `${String(v)}%`;

/** A constant, so recharts does not re-register the tooltip on every drawing (chart-props.ts). */
const LOSS_FORMATTER = (v: unknown) => lossText(Number(v));
const GAIN_FORMATTER = (v: unknown) => `${Number(v).toFixed(1)}%`;

const STAGE: Readonly<Record<string, string>> = { references: 'scoring the base and experts', merge: 'merging', merged: 'scoring the merged model' };

/** What the answer scored, in words. */
function modeText(a: LmLabAnswer, demo: boolean): string {
  if (demo) {
    return a.mode === 'probe'
      ? `probe: the first ${formatCount(a.probeTokens)} bytes of each row's windows (all of them once the sliders rest; no bits per byte for a probe)`
      : `all ${LM_EVAL_WINDOWS} windows of each row, each ${a.context} bytes at most and scored from its start`;
  }
  return a.mode === 'probe'
    ? `probe: the first ${formatCount(a.probeTokens)} tokens of each text, in windows of ${a.context} (the full texts once the sliders rest; no bits per byte for a probe)`
    : `full texts, in windows of ${a.context} tokens`;
}

/** On the LM demo: which split the card scores (validation unless asked), and a box to ask for the held-out test split. */
function SplitChoice() {
  const { split, setLmSplit } = useLabStore(useShallow((s) => ({ split: s.lmSplit, setLmSplit: s.setLmSplit })));
  return (
    <p className="field">
      <label>
        <input type="checkbox" checked={split === 'test'} onChange={(e) => setLmSplit(e.target.checked ? 'test' : 'validation')} /> Score the held-out test windows
      </label>{' '}
      <span className="help">The sliders are for tuning on validation; read test once you have chosen, never to choose.</span>
    </p>
  );
}

/** The newest request's state, as the line above the numbers says it. */
function StateLine({ lm, onCancel, onAgain, demo }: { lm: LmEvalState; onCancel: () => void; onAgain: () => void; demo: boolean }) {
  const p = lm.progress;
  if (lm.status === 'computing') {
    const what = lm.mode === 'probe' ? 'a probe' : demo ? 'all the windows' : 'the full texts';
    // A probe of these very settings stays the current settings' while the rest is computed.
    const current = lm.shown !== undefined && lm.shown.data.key === lm.key;
    return (
      <p className="lm-state" data-lm-state="computing" role="status">
        {lm.shown && !current ? 'Not the current settings’ numbers: ' : ''}computing {what} for the current settings{p ? ` — ${STAGE[p.stage] ?? p.stage}, ${formatCount(p.tokensDone)} of ${formatCount(p.tokens)} tokens` : ''}…{' '}
        <progress aria-label="Language-model evaluation progress" max={p?.tokens || 1} value={p?.tokensDone ?? 0} />{' '}
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </p>
    );
  }
  if (lm.status === 'cancelled') {
    return (
      <p className="lm-state" data-lm-state="cancelled" role="status">
        Cancelled{lm.shown ? ': the numbers below are for the settings they name, not the current ones' : ''}.{' '}
        <button type="button" onClick={onAgain}>
          Evaluate the current settings
        </button>
      </p>
    );
  }
  return null;
}

interface Row {
  readonly task: string;
  readonly model: string;
  readonly role: 'base' | 'expert' | 'merged';
  /** This expert is the task's own (the gain's). */
  readonly own: boolean;
  readonly m: LmLabMetrics;
  readonly gain?: number | null;
  /** The task's expert beats the base (the gain means something). */
  readonly wins: boolean;
}

function rowsOf(a: LmLabAnswer): Row[] {
  return a.tasks.flatMap((t) => {
    const wins = expertWins(a, t);
    return [
      { task: t.name, model: a.base, role: 'base' as const, own: false, m: t.base, wins },
      ...a.experts.map((e, i) => ({ task: t.name, model: e, role: 'expert' as const, own: e === t.expert, m: t.experts[i]!, wins })),
      { task: t.name, model: 'merged', role: 'merged' as const, own: false, m: t.merged, gain: t.gain, wins },
    ];
  });
}

const NOT_MEANINGFUL = 'Its expert is no better than the base on this text, so the gain (a ratio of two falls in loss) means nothing here.';

/** Drawn again only for another answer: not when a slider's move marks the card as computing, nor for its progress. */
const ScoreTable = memo(function ScoreTable({ a, demo }: { a: LmLabAnswer; demo: boolean }) {
  const rows = rowsOf(a);
  const marked = rows.some((r) => r.role === 'merged' && r.gain !== null && r.gain !== undefined && !r.wins);
  return (
    <>
      <table className="grid lm-scores" aria-label="Language-model scores per task">
        <thead>
          <tr>
            <th scope="col">{demo ? 'domain (windows)' : 'task (text)'}</th>
            <th scope="col">model</th>
            <th scope="col">tokens</th>
            <th scope="col">loss (nats/token)</th>
            <th scope="col">perplexity</th>
            <th scope="col">bits per byte</th>
            <th scope="col">normalized gain</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={`${r.task}\u0000${r.model}`}
              data-task={r.task}
              data-model={r.model}
              data-role={r.role}
              data-loss={r.m.loss}
              data-perplexity={r.m.perplexity}
              data-bpb={r.m.bitsPerByte ?? ''}
              data-gain={r.gain ?? ''}
              className={r.role === 'merged' ? 'merged' : undefined}
            >
              <th scope="row">{r.task}</th>
              <td>
                {r.role === 'merged' ? <strong>merged</strong> : <code>{r.model}</code>}
                {r.role === 'base' && ' (base)'}
                {r.own && ' (its expert)'}
              </td>
              <td className="num">{formatCount(r.m.tokens)}</td>
              <td className="num">{lossText(r.m.loss)}</td>
              <td className="num">{perplexityText(r.m.perplexity)}</td>
              <td className="num">{bitsText(r.m.bitsPerByte)}</td>
              <td className="num">
                {r.role === 'merged' && gainText(r.gain ?? null)}
                {r.role === 'merged' && r.gain !== null && r.gain !== undefined && !r.wins && <span title={NOT_MEANINGFUL}> †</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {marked && <p className="help">† {NOT_MEANINGFUL}</p>}
    </>
  );
});

export function LmEvalChart() {
  const { lm, model, texts, evaluateLm, cancelLmEval, demo } = useLabStore(
    useShallow((s) => ({ lm: s.lmEval, model: s.lmModel, texts: s.lmTexts.filter((x) => x.status === 'ready').length, evaluateLm: s.evaluateLm, cancelLmEval: s.cancelLmEval, demo: s.source === 'lm' })),
  );
  const t = useChartText();
  const tokenizerPath = useDroppedPath();
  const shown = lm.shown?.data;
  const a = shown?.answer;
  // Up to date: the newest answer, or a probe of the current settings while the rest is computed.
  const fresh = lm.status === 'ready' || (lm.status === 'computing' && shown !== undefined && shown.key === lm.key);
  const label = shown ? findMethod(shown.method)?.label ?? shown.method : '';
  const status = lm.status === 'computing' ? 'computing' : lm.status === 'error' ? 'error' : shown ? 'ready' : lm.status === 'cancelled' ? 'ready' : 'idle';
  // The bars follow a render later than the table: drawing two recharts trees costs a busy machine
  // ~100 ms each, and the numbers a slider moved should not wait for them.
  const drawn = useDeferredValue(a);
  const series = drawn ? [{ key: 'base', name: `${drawn.base} (base)`, color: BASE_COLOR }, ...drawn.experts.map((e, i) => ({ key: `e${i}`, name: e, color: seriesColor(i + 1) })), { key: 'merged', name: 'merged', color: MERGED_COLOR }] : [];
  const data = drawn ? drawn.tasks.map((task) => ({ task: task.name, base: task.base.loss, merged: task.merged.loss, ...Object.fromEntries(task.experts.map((m, i) => [`e${i}`, m.loss])) })) : [];
  const lossTicks = niceTicks(0, Math.max(0, ...data.flatMap((d) => Object.values(d).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)))));
  const gains = drawn ? drawn.tasks.filter((task) => task.gain !== null && expertWins(drawn, task)).map((task) => ({ task: task.name, gain: 100 * task.gain! })) : [];
  const gainTicks = niceTicks(Math.min(0, ...gains.map((g) => g.gain)), Math.max(100, ...gains.map((g) => g.gain)));
  const left = drawn ? drawn.tasks.filter((task) => !gains.some((g) => g.task === task.name)).map((task) => task.name) : [];
  const summary = model.summary;
  return (
    <ChartFrame
      id="lm-eval"
      title="Language-model evaluation"
      status={status}
      {...(lm.error ? { error: lm.error } : {})}
      {...(lm.shown ? { seq: lm.shown.seq } : {})}
      {...(shown ? { madeBy: { method: shown.method, settings: shown.settings } } : {})}
      empty={
        demo
          ? 'Scoring the base, the experts and the merge on the validation windows…'
          : texts === 0
          ? 'Drop text files beside the models (.txt, .md or source code, one per task, named like the expert fine-tuned for it) to score the merge on them.'
          : summary
            ? `Scoring the texts with ${summary.modelType} (${formatCount(summary.parameters)} parameters, ${summary.tokenizer === 'bytes' ? 'UTF-8 bytes as tokens' : tokenizerPath(summary.tokenizer)})…`
            : undefined
      }
      caption={
        <>
          {demo ? (
            <>
              On the language-model demo each domain is a task: {LM_EVAL_WINDOWS} windows of its text (up to one context each, spread over it, each scored from its start), and a sixth
              row of {LM_EVAL_WINDOWS} mixed windows that switch domain half-way, where no single expert is right (so it has no gain). The mean loss
            </>
          ) : (
            'Each dropped text is a task: the mean loss'
          )} (nats per token, lower is better) of the merged model on it, beside the base and each expert, all read with the base&apos;s
          tokenizer. Normalized gain = (loss<sub>base</sub> − loss<sub>merged</sub>) ÷ (loss<sub>base</sub> − loss<sub>expert</sub>) against the task&apos;s own expert: 100% is the
          expert&apos;s loss, 0% the base&apos;s.{' '}
          {a && shown && (
            <span data-lm-answer data-mode={a.mode} data-fresh={fresh ? 'true' : 'false'} data-answer-for={shown.method}>
              {shown.split && (
                <strong data-split={shown.split} className={shown.split === 'test' ? 'split-test' : undefined}>
                  {shown.split === 'test' ? 'HELD-OUT TEST windows' : 'Validation windows'}.{' '}
                </strong>
              )}
              {fresh ? 'For' : 'Not the current settings: for'} <strong>{label}</strong>: {shown.settings}; {modeText(a, shown.split !== undefined)}; tokenizer {a.tokenizer === 'bytes' ? 'UTF-8 bytes' : tokenizerPath(a.tokenizer)}.
              {a.meanGain !== null && (
                <>
                  {' '}
                  Mean normalized gain <strong data-mean-gain={a.meanGain}>{gainText(a.meanGain)}</strong> (over the tasks whose expert beats the base).
                </>
              )}{' '}
              Took {Math.round(a.milliseconds.total)} ms in the worker.
            </span>
          )}
        </>
      }
      controls={
        <>
          {demo && <SplitChoice />}
          <StateLine lm={lm} onCancel={cancelLmEval} onAgain={evaluateLm} demo={demo} />
        </>
      }
      csv={
        a
          ? {
              header: ['task', 'model', 'role', 'split', 'mode', 'context', 'tokens', 'loss_nats_per_token', 'perplexity', 'bits_per_byte', 'normalized_gain'],
              rows: rowsOf(a).map((r) => [r.task, r.model, r.role, shown?.split ?? '', a.mode, a.context, r.m.tokens, r.m.loss, r.m.perplexity, r.m.bitsPerByte ?? '', r.gain ?? '']),
            }
          : undefined
      }
    >
      {a && (
        <div className={fresh ? 'lm-answer' : 'lm-answer stale'} data-stale={fresh ? undefined : 'true'}>
          <div className="chart-pair">
            <SubChart id="lm-loss" title="Loss per task" help="The mean loss of each model on each text, in nats per token: lower is better.">
              <Drawn
                deps={[drawn, t, demo]}
                draw={() => (
                  <BarChart responsive style={plotBox(t, 1.5, { legend: series.map((x) => x.name), xHeight: slantedAxisHeight(t, data.map((d) => d.task)) })} data={data} margin={t.margin}>
                    <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                    <CategoryXAxis dataKey="task" names={data.map((d) => d.task)} t={t} title={demo ? 'domain (its validation or test windows)' : 'task (text file)'} />
                    <YAxis tick={t.tick} width={t.yWidth} domain={[lossTicks[0]!, lossTicks.at(-1)!]} ticks={lossTicks} label={t.yTitle('loss (nats/token)')} />
                    <Tooltip formatter={LOSS_FORMATTER} />
                    <Legend verticalAlign="top" wrapperStyle={t.legend} />
                    {series.map((x) => (
                      <Bar key={x.key} dataKey={x.key} name={x.name} fill={x.color} isAnimationActive={false} />
                    ))}
                  </BarChart>
                )}
              />
            </SubChart>
            <SubChart
              id="lm-gain"
              title="Normalized gain of the merge"
              help={
                <>
                  Per task against its own expert: 100% is the expert&apos;s loss, 0% the base&apos;s.
                  {left.length > 0 && <> Not drawn (no expert, or its expert no better than the base): {left.join(', ')}.</>}
                </>
              }
            >
              {gains.length > 0 && (
                <Drawn
                  deps={[drawn, t, demo]}
                  draw={() => (
                    <BarChart responsive style={plotBox(t, 1.5, { xHeight: slantedAxisHeight(t, gains.map((g) => g.task)) })} data={gains} margin={t.margin}>
                      <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
                      <CategoryXAxis dataKey="task" names={gains.map((g) => g.task)} t={t} title={demo ? 'domain (its validation or test windows)' : 'task (text file)'} />
                      <YAxis tick={t.tick} width={t.yWidth} domain={[gainTicks[0]!, gainTicks.at(-1)!]} ticks={gainTicks} tickFormatter={PERCENT_TICK} label={t.yTitle('normalized gain (%)')} />
                      <Tooltip formatter={GAIN_FORMATTER} />
                      <ReferenceLine y={100} stroke="#1c2430" strokeDasharray="4 2" label={{ value: 'its expert', position: 'insideTopRight', fontSize: t.size - 1 }} />
                      <ReferenceLine y={0} stroke="#1c2430" />
                      <Bar dataKey="gain" name="merged" fill={MERGED_COLOR} isAnimationActive={false} />
                    </BarChart>
                  )}
                />
              )}
            </SubChart>
          </div>
          <ScoreTable a={a} demo={demo} />
        </div>
      )}
    </ChartFrame>
  );
}
