/** Parsing human byte sizes for --max-shard-size ("2GB", "500M", "5B" as mergekit reads it, "1GiB"). */
import { MergeLabError } from '../engine/errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  // mergekit's "5B" means five billion (its K/M/B suffixes count), not five bytes.
  b: 1e9,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

export function parseByteSize(text: string, setting: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = UNITS[unit];
  if (!m || factor === undefined) {
    throw new MergeLabError('PARAMETER_INVALID', `${setting} "${text}" is not a size; use e.g. 2GB, 500MB, 1GiB or a number of bytes.`);
  }
  const bytes = Math.floor(Number(m[1]) * factor);
  if (!(bytes > 0)) throw new MergeLabError('PARAMETER_INVALID', `${setting} must be larger than 0, got "${text}".`);
  return bytes;
}
