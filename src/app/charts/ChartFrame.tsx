/**
 * One chart's frame: a titled figure with its explanation, its state (updating, error) and the
 * exports every chart offers — PNG, SVG and its data as CSV. The frame carries data attributes a
 * test reads (which chart, which request it shows) so tests need not parse pixels.
 */
import { useRef, useState, type ReactNode } from 'react';
import type { AppError } from '../store/types.js';
import { useSlow } from '../components/fields.js';
import { csvText, pngBlob, saveBlob, svgText, type CsvCell } from './export.js';

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
}

export function ChartFrame(p: ChartFrameProps) {
  const drawing = useRef<HTMLDivElement>(null);
  const [problem, setProblem] = useState<string>();
  const svg = () => (drawing.current ? svgText(drawing.current) : undefined);
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
    if (p.csv) saveBlob(new Blob([csvText(p.csv.header, p.csv.rows)], { type: 'text/csv' }), `${p.id}.csv`);
  };
  const drawn = p.status !== 'error' && p.children !== undefined && p.children !== null && p.children !== false;
  const slow = useSlow(p.status === 'computing');
  return (
    <figure className="chart" role="figure" aria-label={p.title} data-chart={p.id} data-chart-state={p.status} data-seq={p.seq ?? 0}>
      <figcaption>
        <h3>{p.title}</h3>
        <p className="help">{p.caption}</p>
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
