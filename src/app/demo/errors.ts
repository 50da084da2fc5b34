/** Turns anything thrown while loading into the { code, message } a row shows. */
import { isMergeLabError } from '../../engine/errors.js';
import type { AppError } from '../store/types.js';

export function toAppError(e: unknown, fallbackFile?: string): AppError {
  if (isMergeLabError(e)) return { code: e.code, message: e.message };
  // Anything else is a bug or a browser failure; still name the file so the row says something useful.
  const why = e instanceof Error ? e.message : String(e);
  return { code: 'INTERNAL', message: fallbackFile ? `${fallbackFile}: ${why}` : why };
}
