/**
 * The LM demo bench's breakdown of a Chromium trace (MERGE_LAB_BENCH_TRACE=file): for each
 * 'slider-to-lm' measure (input → the probe's numbers drawn), how long the engine worker was still
 * busy with work it had started before the input (the probe waits that long), the input's own
 * handler on the main thread (store updates and React's render of that input), the main thread's
 * and the worker's busy time in the measure, and what is left after the worker's last task in it
 * (the answer's way back and its render).
 */
import fs from 'node:fs';

interface TraceEvent {
  readonly name: string;
  readonly ph: string;
  readonly ts: number;
  readonly dur?: number;
  /** The thread's CPU time in the event (µs). */
  readonly tdur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly args?: { readonly name?: string; readonly data?: { readonly type?: string } };
}

interface Span {
  readonly start: number;
  readonly end: number;
  readonly cpu: number;
}

export interface MoveBreakdown {
  /** The measure, ms. */
  readonly total: number;
  /** The worker's task under way at the input: ms of it left. */
  readonly waited: number;
  /** The input event's handler on the main thread, ms. */
  readonly input: number;
  /** Busy ms in the measure: the main thread's and the worker's top-level tasks (overlaps counted once). */
  readonly main: number;
  readonly worker: number;
  /** The CPU ms of those tasks (their share inside the measure): what the shared machine's load does not stretch. */
  readonly mainCpu: number;
  readonly workerCpu: number;
  /** From the end of the worker's last task in the measure to its end: the answer's message and render, ms. */
  readonly after: number;
}

/** The union of `spans` clipped to [a, b], in ms. */
function covered(spans: readonly Span[], a: number, b: number): number {
  let total = 0;
  let reach = a;
  for (const s of spans) {
    const from = Math.max(reach, s.start, a);
    const to = Math.min(b, s.end);
    if (to > from) total += to - from;
    reach = Math.max(reach, to);
  }
  return total / 1000;
}

/** The CPU time of `spans` in [a, b], each task's in proportion to its part inside, in ms. */
function cpuIn(spans: readonly Span[], a: number, b: number): number {
  let total = 0;
  for (const s of spans) {
    const inside = Math.min(b, s.end) - Math.max(a, s.start);
    if (inside > 0 && s.end > s.start) total += (s.cpu * inside) / (s.end - s.start);
  }
  return total / 1000;
}

/** One row per `measure` in the trace at `file`, in order. */
export function breakdown(file: string, measure: string): MoveBreakdown[] {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(raw) ? raw : raw.traceEvents;
  const begins = events.filter((e) => e.name === measure && e.ph === 'b');
  const ends = events.filter((e) => e.name === measure && e.ph === 'e');
  if (begins.length === 0) return [];
  const { pid, tid: main } = begins[0]!;
  const tasks = new Map<number, Span[]>();
  for (const e of events) {
    if (e.pid !== pid || e.ph !== 'X' || e.name !== 'RunTask') continue;
    let list = tasks.get(e.tid);
    if (!list) tasks.set(e.tid, (list = []));
    list.push({ start: e.ts, end: e.ts + (e.dur ?? 0), cpu: e.tdur ?? 0 });
  }
  for (const list of tasks.values()) list.sort((x, y) => x.start - y.start);
  // The engine's worker: the dedicated worker with the most work.
  const workerTids = events.filter((e) => e.pid === pid && e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'DedicatedWorker thread').map((e) => e.tid);
  const busiest = (tid: number) => (tasks.get(tid) ?? []).reduce((n, s) => n + s.end - s.start, 0);
  const worker = workerTids.sort((x, y) => busiest(y) - busiest(x))[0];
  const workerTasks = worker === undefined ? [] : (tasks.get(worker) ?? []);
  const inputs = events.filter((e) => e.pid === pid && e.tid === main && e.ph === 'X' && e.name === 'EventDispatch' && e.args?.data?.type === 'input');
  return begins.map((b, i) => {
    const [a, z] = [b.ts, ends[i]!.ts];
    const running = workerTasks.find((s) => s.start < a && s.end > a);
    const input = inputs.find((e) => e.ts <= a && e.ts + (e.dur ?? 0) >= a);
    const last = workerTasks.filter((s) => s.start < z && s.end > a).at(-1);
    return {
      total: (z - a) / 1000,
      waited: running ? (running.end - a) / 1000 : 0,
      input: input ? (input.dur ?? 0) / 1000 : 0,
      main: covered(tasks.get(main) ?? [], a, z),
      worker: covered(workerTasks, a, z),
      mainCpu: cpuIn(tasks.get(main) ?? [], a, z),
      workerCpu: cpuIn(workerTasks, a, z),
      after: last ? Math.max(0, z - last.end) / 1000 : 0,
    };
  });
}
