/**
 * The LM demo's live score in the Merge panel, beside the sliders that move it: the merge's mean
 * normalized gain and, per domain, its loss and gain — the language-model card's answer, so the
 * numbers here and there are one answer. Input → this answer on screen is measured as
 * 'slider-to-lm' (a probe while a slider moves).
 */
import { useShallow } from 'zustand/react/shallow';
import { formatMs } from '../format.js';
import { useLabStore } from '../store/index.js';
import { useLayoutEffect, useRef } from 'react';
import { ErrorLine, useSlow } from './fields.js';

export const LM_SHOWN_MARK = 'lm-shown';
export const SLIDER_TO_LM_MEASURE = 'slider-to-lm';

const gain = (v: number | null) => (v === null || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(1)}%`);

export function LmLiveScore() {
  const { lm, domains, status } = useLabStore(useShallow((s) => ({ lm: s.lmEval, domains: s.lmDemo.domains, status: s.lmDemo.status })));
  const shown = lm.shown;
  // The probe a move asked for, drawn while it is the current settings' (the full windows are asked right after it).
  const measured = useRef(0);
  useLayoutEffect(() => {
    if (!shown || shown.inputAt === undefined || shown.data.key !== lm.key || measured.current >= shown.seq) return;
    measured.current = shown.seq;
    performance.measure(SLIDER_TO_LM_MEASURE, { start: shown.inputAt, end: performance.mark(LM_SHOWN_MARK).startTime });
  }, [shown, lm.key]);
  const slow = useSlow(lm.status === 'computing');
  const a = shown?.data.answer;
  const label = (id: string) => domains.find((d) => d.id === id)?.label ?? (id === 'mixed' ? 'mixed windows (no single expert)' : id);
  return (
    <div className="live" aria-label="Live score" role="group" data-live-state={lm.status} data-seq={shown?.seq ?? 0}>
      <h3>Live score on the language-model demo</h3>
      {!a && <p className="help">{status === 'loaded' ? 'Scoring the merge on the validation windows…' : status === 'failed' ? 'The language-model demo did not load, so there is no score.' : 'Loading the language-model demo…'}</p>}
      {a && shown && (
        <>
          <p className="score">
            Mean normalized gain <strong data-mean-gain={a.meanGain ?? ''}>{gain(a.meanGain)}</strong> ({shown.data.split === 'test' ? 'held-out test' : 'validation'} windows, {a.mode === 'probe' ? 'a probe' : 'all of them'}) ·{' '}
            <span data-settings={shown.data.settings}>
              {shown.data.method}: {shown.data.settings}
            </span>{' '}
            · {formatMs(a.milliseconds.total)} in the engine
            {slow && <span className="help"> · updating…</span>}
          </p>
          <p className="help">The merge&apos;s loss per row in nats per token (the base&apos;s on hover) and its normalized gain.</p>
          <table className="grid" aria-label="Loss per domain" style={{ minWidth: 0, width: '100%' }}>
            <thead>
              <tr>
                <th scope="col">domain</th>
                <th scope="col">loss</th>
                <th scope="col">gain</th>
              </tr>
            </thead>
            <tbody>
              {a.tasks.map((t) => (
                <tr key={t.name} data-task={t.name}>
                  <th scope="row" title={label(t.name)}>
                    {t.name}
                  </th>
                  <td className="num" title={`base ${t.base.loss.toFixed(3)}`}>
                    {t.merged.loss.toFixed(3)}
                  </td>
                  <td className="num">{gain(t.gain)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {lm.status === 'error' && lm.error && <ErrorLine error={lm.error} />}
    </div>
  );
}
