/**
 * Form pieces the Merge panel's controls share: a labelled range slider (its help from the
 * parameter schema), a labelled checkbox, an error line with the engine's code, and the input-to-answer measure.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { ParamSpec } from '../../engine/methods/types.js';
import type { AppError } from '../store/types.js';

/** performance marks/measures a test (or a profiler) reads. */
export const SLIDER_INPUT_MARK = 'slider-input';

/** How long an answer may take before "updating…" is shown: quicker ones would only make it flicker. */
export const SLOW_ANSWER_MS = 250;

/**
 * True once `busy` has stayed true for SLOW_ANSWER_MS. A slider move answered in tens of
 * milliseconds then changes no text on the page (each change cost a layout and a repaint of the
 * panel on this machine's main thread, twice per move); a slow one still says it is updating.
 */
export function useSlow(busy: boolean): boolean {
  const [slow, setSlow] = useState(false);
  useEffect(() => {
    if (!busy) {
      setSlow(false);
      return;
    }
    const t = setTimeout(() => setSlow(true), SLOW_ANSWER_MS);
    return () => clearTimeout(t);
  }, [busy]);
  return busy && slow;
}

export function ErrorLine({ error }: { error: AppError }) {
  return (
    <p className="status error" role="alert">
      <strong>{error.code}</strong> {error.message}
    </p>
  );
}

/** A labelled checkbox with its help text. */
export function Checkbox({ id, label, checked, help, onChange }: { id: string; label: string; checked: boolean; help: string; onChange: (v: boolean) => void }) {
  return (
    <p className="field checkbox">
      <input id={id} type="checkbox" checked={checked} aria-describedby={`${id}-help`} onChange={(e) => onChange(e.target.checked)} />{' '}
      <label htmlFor={id}>{label}</label>{' '}
      <span id={`${id}-help`} className="help">
        {help}
      </span>
    </p>
  );
}

export interface SliderProps {
  readonly id: string;
  readonly label: string;
  readonly spec: ParamSpec;
  readonly value: number;
  readonly onInput: (v: number, at: number) => void;
  /** Overrides the schema's slider range. */
  readonly min?: number;
  readonly max?: number;
  readonly step?: number;
  /** How the value is written beside the slider (default: two decimals). */
  readonly format?: (v: number) => string;
  readonly disabled?: boolean;
}

/** A whole number as it is; a value on a fine step (karcher's tol, nearswap's t, eps) to three significant digits, short (0.0005, 1e-8); else two decimals. */
export function defaultFormat(spec: ParamSpec, step: number, v: number): string {
  if (spec.type === 'integer') return String(Math.round(v));
  if (step > 0 && step < 0.01) return String(Number(v.toPrecision(3)));
  return v.toFixed(2);
}

export function Slider({ id, label, spec, value, onInput, format, disabled, ...range }: SliderProps) {
  const min = range.min ?? spec.ui?.min ?? spec.min ?? 0;
  const max = range.max ?? spec.ui?.max ?? spec.max ?? 1;
  const step = range.step ?? spec.ui?.step ?? 0.01;
  return (
    <p className="field slider">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="range"
        min={min}
        max={max}
        step={step}
        value={value}
        disabled={disabled}
        aria-describedby={`${id}-help`}
        onChange={(e) => onInput(Number(e.target.value), performance.mark(SLIDER_INPUT_MARK).startTime)}
      />
      <output htmlFor={id}>{format ? format(value) : defaultFormat(spec, step, value)}</output>
      <span id={`${id}-help`} className="help">
        {spec.help}
      </span>
    </p>
  );
}

/**
 * Once the newest request's answer is in the DOM, closes the performance measure `measure` from the
 * slider input that asked for it (marked `mark` at the end); older answers and repeats are skipped.
 */
export function useShownMeasure(shown: { readonly seq: number; readonly inputAt?: number } | undefined, requested: number, mark: string, measure: string): void {
  const measured = useRef(0);
  useLayoutEffect(() => {
    if (!shown || shown.inputAt === undefined || shown.seq !== requested || measured.current >= shown.seq) return;
    measured.current = shown.seq;
    const end = performance.mark(mark).startTime;
    performance.measure(measure, { start: shown.inputAt, end });
  }, [shown, requested, mark, measure]);
}
