/** Number formatting shared by the panels (decimal units: 1 kB = 1,000 bytes, as the size budget counts). */

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** toLocaleString('en-US')'s formatter, made once (toLocaleString makes one per call; the LM card's table formats ~40 numbers). */
const EN_US = new Intl.NumberFormat('en-US');

export function formatCount(n: number): string {
  return EN_US.format(n);
}

/** A fraction as a percentage with one decimal. */
export function formatPercent(fraction: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)}%` : '—';
}

/** A number at four significant digits, its float noise gone (0.30000000000000004 → 0.3). */
export function tidyNumber(v: unknown): string {
  return String(Number(Number(v).toPrecision(4)));
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** safetensors dtype codes to the names people know from torch. */
const DTYPE_NAMES: Record<string, string> = { F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', F8_E4M3: 'float8_e4m3', F8_E5M2: 'float8_e5m2' };

export function formatDtypes(dtypes: readonly string[]): string {
  return dtypes.map((d) => DTYPE_NAMES[d] ?? d.toLowerCase()).join(', ');
}

/** Binary units for memory limits and budgets (1 MiB = 2^20 bytes), as the adapter and the engine state them. */
export function formatBinaryBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** The done merge's line: what merged where, on how many merge workers (more than one only), how long, how large. */
export function mergedLine(r: { tensors: number; backend: string; workers?: number; milliseconds: number; bytes: number }): string {
  const workers = r.workers !== undefined && r.workers > 1 ? ` (${r.workers} merge workers)` : '';
  return `Merged ${r.tensors} tensors on ${r.backend}${workers} in ${formatMs(r.milliseconds)}: model.safetensors, ${formatBytes(r.bytes)}.`;
}
