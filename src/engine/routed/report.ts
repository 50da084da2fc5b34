/** Small pieces the routed methods share: report lines, a cancel token as an AbortSignal, a key added to a package's JSON. */
import type { CancelToken } from '../merge/progress.js';
import type { RoutedReport } from './types.js';

export const pct = (ratio: number): string => `${(100 * ratio).toFixed(1)} %`;

/** Bytes in SI units (the command line's style): "431.0 KB". */
export function fmtBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** " (lambda 0.3, density 0.5)", or "" without parameters. */
export function fmtParams(p: Readonly<Record<string, number | boolean>>): string {
  const e = Object.entries(p);
  return e.length ? ` (${e.map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
}

export function describeStorage(r: RoutedReport): string {
  const s = r.storage;
  return `storage: ${fmtBytes(s.bytes)} against ${fmtBytes(s.expertBytes)} for the ${r.tasks.length} experts (${pct(s.ratio)}; tensor data, no router)`;
}

/** The error summary: mean and worst over tensors and tasks, then per task, then the worst tensors. */
export function describeErrors(r: RoutedReport, what: string): string[] {
  const all = r.tensors.flatMap((t) => t.errors.map((e, i) => ({ e, t: t.name, task: r.tasks[i]! })));
  if (all.length === 0) return [];
  const worst = all.reduce((a, b) => (b.e > a.e ? b : a));
  const mean = all.reduce((s, x) => s + x.e, 0) / all.length;
  const perTask = r.tasks.map((task, i) => {
    const v = r.tensors.map((t) => t.errors[i]!);
    return `${task} ${Math.max(...v).toFixed(4)}`;
  });
  const worstTensors = [...r.tensors]
    .map((t) => ({ name: t.name, max: Math.max(...t.errors) }))
    .sort((a, b) => b.max - a.max)
    .slice(0, 3)
    .filter((t) => t.max > 0);
  return [
    `reconstruction error per tensor and task, ${what}: mean ${mean.toFixed(4)}, max ${worst.e.toFixed(4)}${worst.e > 0 ? ` (${worst.t}, ${worst.task})` : ''}`,
    `  worst per task: ${perTask.join(', ')}`,
    ...(worstTensors.length ? [`  worst tensors: ${worstTensors.map((t) => `${t.name} ${t.max.toFixed(4)}`).join(', ')}`] : []),
  ];
}

/**
 * A CancelToken (which crosses comlink) as the AbortSignal the twin and channel modules poll:
 * they read `aborted` between tensors and nothing else.
 */
export function abortSignal(token: CancelToken): AbortSignal {
  return {
    get aborted() {
      return token.cancelled;
    },
  } as unknown as AbortSignal;
}

/** The JSON file `bytes` with `extra`'s keys inserted after `after` (or at the end), pretty-printed as the packages write it. */
export function injectJson(bytes: Uint8Array, after: string, extra: Readonly<Record<string, unknown>>): Uint8Array {
  const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const [k, v] of Object.entries(json)) {
    out[k] = v;
    if (k === after) {
      Object.assign(out, extra);
      placed = true;
    }
  }
  if (!placed) Object.assign(out, extra);
  return new TextEncoder().encode(JSON.stringify(out, null, 2) + '\n');
}
