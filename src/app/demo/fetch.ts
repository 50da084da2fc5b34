/**
 * Downloading the demo's files with errors that name the file: a network failure, an HTTP error
 * status, or an HTML page served in place of a missing file (SPA servers answer unknown paths
 * with index.html and status 200).
 */
import { MergeLabError } from '../../engine/errors.js';

export interface Fetched {
  readonly blob: Blob;
  /** The Content-Length header: the bytes on the wire, which differ from blob.size when the server set Content-Encoding. */
  readonly contentLength: number | undefined;
}

export async function fetchBlob(url: string, name: string): Promise<Fetched> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new MergeLabError('READ_FAILED', `Could not download ${name} (${(e as Error).message}). Check the connection to the server and reload.`);
  }
  if (!res.ok) {
    throw new MergeLabError('READ_FAILED', `Could not download ${name}: the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`);
  }
  if ((res.headers.get('content-type') ?? '').startsWith('text/html') && !name.endsWith('.html')) {
    throw new MergeLabError('READ_FAILED', `Could not download ${name}: the server sent a web page instead, so the file is probably missing from the build.`);
  }
  const length = Number(res.headers.get('content-length') ?? NaN);
  return { blob: await res.blob(), contentLength: Number.isSafeInteger(length) ? length : undefined };
}
