/**
 * Where the embedded demo lives in the built app: public/demo/ is copied as is, and the digits
 * data (kept in data/digits/ with its licence) is bundled as a hashed asset.
 */
import digitsUrl from '../../../data/digits/digits.csv.gz?url';

export const DEMO_MANIFEST_URL = `${import.meta.env.BASE_URL}demo/manifest.json`;

/** The digits CSV (gzip) as served; the About panel links it. */
export const DIGITS_URL: string = digitsUrl;
export const DIGITS_FILE = 'digits.csv.gz';

/** A file named in the manifest, resolved against the manifest's own URL. */
export function demoFileUrl(file: string): string {
  return new URL(file, new URL(DEMO_MANIFEST_URL, window.location.href)).href;
}

/** The LM demo's manifest (public/demo/lm/): fetched only when the LM demo is chosen. */
export const LM_DEMO_MANIFEST_URL = `${import.meta.env.BASE_URL}demo/lm/manifest.json`;

/** A file the LM demo's manifest names, resolved against the manifest's own URL. */
export function lmDemoFileUrl(file: string): string {
  return new URL(file, new URL(LM_DEMO_MANIFEST_URL, window.location.href)).href;
}
