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

/** `onBytes`: called as the body arrives with the bytes so far and the Content-Length (when the server sent one). */
export async function fetchBlob(url: string, name: string, onBytes?: (received: number, length: number | undefined) => void): Promise<Fetched> {
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
  const header = Number(res.headers.get('content-length') ?? NaN);
  const contentLength = Number.isSafeInteger(header) ? header : undefined;
  if (!onBytes || !res.body) return { blob: await res.blob(), contentLength };
  onBytes(0, contentLength);
  const reader = res.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.byteLength;
      onBytes(received, contentLength);
    }
  } catch (e) {
    throw new MergeLabError('READ_FAILED', `Could not download ${name}: the connection broke after ${received} bytes (${(e as Error).message}). Reload to try again.`);
  }
  return { blob: new Blob(chunks, { type: res.headers.get('content-type') ?? '' }), contentLength };
}
