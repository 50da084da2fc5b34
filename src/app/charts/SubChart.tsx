/**
 * One drawing of a chart that has several (a heatmap beside bars, a curve below): its own title
 * and one line saying what it shows, where it is drawn — not "right:" or "below:" in the chart's
 * caption, which a narrow screen or a projector lays out differently. The exports draw these too.
 */
import type { ReactNode } from 'react';

export interface SubChartProps {
  /** Stable id (data-sub-chart), for tests. */
  readonly id: string;
  readonly title: string;
  readonly help: ReactNode;
  /** 'wide': takes the whole row of its chart's drawings (a curve, a strip). */
  readonly wide?: boolean;
  readonly children: ReactNode;
}

export function SubChart({ id, title, help, wide, children }: SubChartProps) {
  return (
    <div className={wide ? 'sub-chart wide' : 'sub-chart'} data-sub-chart={id} role="group" aria-label={title}>
      <h4>{title}</h4>
      <p className="help">{help}</p>
      {children}
    </div>
  );
}
