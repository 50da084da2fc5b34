/**
 * One chart's frame: a titled figure with its explanation, its state (updating, error) and the
 * exports every chart offers — PNG and SVG under the chart's title, caption and settings, and its
 * data as CSV with the method and settings in columns of their own. The frame carries data
 * attributes a test reads (which chart, which request it shows) so tests need not parse pixels.
 */
import { useRef, useState, type ReactNode } from 'react';
import type { AppError } from '../store/types.js';
import { useSlow } from '../components/fields.js';
import { csvText, pngBlob, saveBlob, svgText, withMadeBy, type CsvCell } from './export.js';
import { useMadeBy } from './settings.js';

export interface ChartCsv {
  readonly header: readonly string[];
  readonly rows: readonly (readonly CsvCell[])[];
}

export interface ChartFrameProps {
  /** Stable id: file names and data-chart. */
  readonly id: string;
  readonly title: string;
  /** What the chart shows and how to read it (one or two sentences). */
  readonly caption: ReactNode;
  readonly status: 'idle' | 'computing' | 'ready' | 'error';
  readonly error?: AppError;
  /** The request the drawing answers (data-seq). */
  readonly seq?: number;
  readonly csv?: ChartCsv;
  /** Controls of the chart itself (tensor select, rank slider). */
  readonly controls?: ReactNode;
  readonly children?: ReactNode;
  readonly empty?: string;
  /** The method and settings the drawing answers, when the chart keeps them with its answer (else the current ones while it is up to date). */
  readonly madeBy?: { readonly method: string; readonly settings: string };
}

export function ChartFrame(p: ChartFrameProps) {
  const drawing = useRef<HTMLDivElement>(null);
  const caption = useRef<HTMLParagraphElement>(null);
  const [problem, setProblem] = useState<string>();
  const current = useMadeBy(p.status);
  const made = p.madeBy ?? current;
  const settings = `${made.method}: ${made.settings}`;
  const svg = () => (drawing.current ? svgText(drawing.current, { title: p.title, caption: caption.current?.textContent ?? '', settings }) : undefined);
  const exportSvg = () => {
    const text = svg();
    if (text) saveBlob(new Blob([text], { type: 'image/svg+xml' }), `${p.id}.svg`);
  };
  const exportPng = async () => {
    const text = svg();
    if (!text) return;
    try {
      setProblem(undefined);
      saveBlob(await pngBlob(text), `${p.id}.png`);
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  const exportCsv = () => {
    if (!p.csv) return;
    const csv = withMadeBy(p.csv.header, p.csv.rows, made);
    saveBlob(new Blob([csvText(csv.header, csv.rows)], { type: 'text/csv' }), `${p.id}.csv`);
  };
  const drawn = p.status !== 'error' && p.children !== undefined && p.children !== null && p.children !== false;
  const slow = useSlow(p.status === 'computing');
  return (
    <figure className="chart" role="figure" aria-label={p.title} data-chart={p.id} data-chart-state={p.status} data-seq={p.seq ?? 0} data-settings={settings}>
      <figcaption>
        <h3>{p.title}</h3>
        <p className="help" ref={caption}>
          {p.caption}
        </p>
      </figcaption>
      {p.controls && <div className="chart-controls">{p.controls}</div>}
      <div className="drawing" ref={drawing}>
        {p.status === 'error' && p.error ? (
          // The message itself is shown once, above the charts (ChartErrors): several charts often fail for one cause.
          <p className="help not-drawn" data-error-code={p.error.code}>
            Not drawn: <strong>{p.error.code}</strong>, see the message above the charts.
          </p>
        ) : drawn ? (
          p.children
        ) : (
          <p className="help">{p.empty ?? 'Computing…'}</p>
        )}
      </div>
      {problem && (
        <p className="status error" role="alert">
          {problem}
        </p>
      )}
      <p className="chart-exports">
        <button type="button" onClick={() => void exportPng()} disabled={!drawn} aria-label={`Export ${p.title} as PNG`}>
          PNG
        </button>
        <button type="button" onClick={exportSvg} disabled={!drawn} aria-label={`Export ${p.title} as SVG`}>
          SVG
        </button>
        <button type="button" onClick={exportCsv} disabled={!p.csv || p.csv.rows.length === 0} aria-label={`Export ${p.title} data as CSV`}>
          CSV
        </button>
        {slow && drawn && <span className="help"> updating…</span>}
      </p>
    </figure>
  );
}
