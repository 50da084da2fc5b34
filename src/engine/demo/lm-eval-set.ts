/**
 * What the lab scores on the LM demo: per domain a few windows (LM_EVAL_WINDOWS) of one split's text, spread evenly
 * over it, and a sixth task of mixed windows where no single expert is right. Scoring every byte of
 * the held-out texts takes the page tens of seconds per recipe; a slider needs an answer in a
 * fraction of one, so the lab reads a fixed sample instead and says so.
 *
 * The split matters (issue 19's honest evaluation): the sliders are tuned on validation, and the
 * test split is only read when asked for. The manifest's 40 mixed windows are cut from test text,
 * so the validation split gets mixed windows of its own, cut from the validation texts the same
 * way (half a window of one domain, a space, half a window of the next).
 *
 * Pure string work: the page builds the tasks, the worker scores them (lmLab, one task's windows
 * each from position 0, as the trainer scored its mixed windows).
 */
import type { LmLabTask } from '../api/engine-api.js';
import { MIXED, type LmDemoManifest } from './lm-manifest.js';

export type LmSplit = 'validation' | 'test';

/**
 * Windows per task: three of each domain (and three mixed) keep a whole answer to ~2,300
 * predictions per model, which the page scores in about a second when the machine is not busy.
 */
export const LM_EVAL_WINDOWS = 3;

/** Each character's start as a UTF-8 byte offset, and the text's end. */
function boundaries(text: string): { readonly bytes: number[]; readonly chars: number[] } {
  const bytes: number[] = [];
  const chars: number[] = [];
  let b = 0;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    bytes.push(b);
    chars.push(i);
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  bytes.push(b);
  chars.push(text.length);
  return { bytes, chars };
}

/** The first index whose value is ≥ v (values ascending). */
function firstAtLeast(values: readonly number[], v: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `count` excerpts of `text`, each at most `bytes` UTF-8 bytes and cut on character boundaries,
 * starting at byte offsets spread evenly from the text's start to its last full window (`at`:
 * where between two spread starts, 0 the first). Excerpts of a text shorter than that overlap.
 */
export function spreadExcerpts(text: string, count: number, bytes: number, at = 0): string[] {
  const b = boundaries(text);
  const total = b.bytes.at(-1)!;
  const room = Math.max(0, total - bytes);
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const from = count === 1 ? room * at : Math.min(room, Math.round((room * (k + at)) / (count - 1)));
    const s = firstAtLeast(b.bytes, from);
    // The last boundary at most `bytes` past the start.
    const limit = b.bytes[s]! + bytes;
    let e = firstAtLeast(b.bytes, limit);
    if (b.bytes[e]! > limit) e--;
    if (e < s) e = s;
    out.push(text.slice(b.chars[s], b.chars[e]));
  }
  return out;
}

/** A task of separate windows: their texts joined, each window's range in the join. */
function windowed(name: string, pieces: readonly string[], expert?: string): LmLabTask {
  const windows: (readonly [number, number])[] = [];
  let at = 0;
  for (const p of pieces) {
    windows.push([at, at + p.length]);
    at += p.length;
  }
  return { name, text: pieces.join(''), windows, ...(expert !== undefined ? { expert } : {}) };
}

/**
 * The LM demo's tasks on `split`: each domain (named by its id, its expert the domain's) with
 * `count` windows of the context spread over its text, then "mixed" with `count` windows and no
 * expert — on test, the manifest's mixed windows picked evenly from its list; on validation, each
 * window half of one domain's validation text and half of the next's (the last domain's goes on
 * to the first's).
 */
export function lmEvalTasks(m: LmDemoManifest, split: LmSplit, count = LM_EVAL_WINDOWS): LmLabTask[] {
  const domains = m.domains.map((d) => windowed(d.id, spreadExcerpts(d.texts[split], count, m.context), d.id));
  let mixed: string[];
  if (split === 'test') {
    const n = m.mixed.length;
    mixed = Array.from({ length: Math.min(count, n) }, (_, k) => m.mixed[count === 1 ? 0 : Math.round((k * (n - 1)) / (count - 1))]!.text);
  } else {
    const half = Math.floor(m.context / 2);
    mixed = Array.from({ length: count }, (_, k) => {
      const a = m.domains[k % m.domains.length]!;
      const b = m.domains[(k + 1) % m.domains.length]!;
      // Between the domain windows' starts, so a mixed window is not a domain window's first half.
      const at = 0.5;
      const first = spreadExcerpts(a.texts.validation, count, half - 1, at)[k]!;
      const second = spreadExcerpts(b.texts.validation, count, half, at)[k]!;
      return `${first} ${second}`;
    });
  }
  return [...domains, windowed(MIXED, mixed)];
}
