/**
 * The merged model's folder packed as one zip (fflate: the weights stored as they are, the small
 * files deflated). Loaded with the first "Download merged model", not with the page.
 */
import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { MergeLabError } from '../../engine/errors.js';
import type { FolderEntry } from './model-folder.js';

/** Blobs are read this many bytes at a time, so no second whole copy of the weights is made at once. */
const CHUNK = 8 * 2 ** 20;
/** A zip without its 64-bit extension (fflate writes none) holds sizes and offsets below 4 GiB. */
const ZIP_LIMIT = 2 ** 32 - 1;
/** Stored, not deflated: safetensors data hardly compresses and would cost seconds per GB. */
const STORED = /\.safetensors$/i;

/**
 * The entries as a zip whose files sit in the folder `folder/`. Refuses (WRITE_FAILED) a folder of
 * 4 GiB or more: save it into a folder instead (saveToDirectory).
 */
export async function zipFolder(folder: string, entries: readonly FolderEntry[]): Promise<Blob> {
  const total = entries.reduce((s, e) => s + e.blob.size, 0);
  if (total + 1024 * (entries.length + 1) >= ZIP_LIMIT) {
    throw new MergeLabError('WRITE_FAILED', `The merged model is ${(total / 2 ** 30).toFixed(1)} GiB, too large for a zip without its 64-bit extension (4 GiB); save it into a folder instead, or merge with the command line.`);
  }
  const parts: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else parts.push(chunk);
  });
  for (const e of entries) {
    const file = STORED.test(e.name) ? new ZipPassThrough(`${folder}/${e.name}`) : new ZipDeflate(`${folder}/${e.name}`, { level: 6 });
    zip.add(file);
    if (e.blob.size === 0) file.push(new Uint8Array(0), true);
    for (let at = 0; at < e.blob.size; at += CHUNK) {
      const end = Math.min(e.blob.size, at + CHUNK);
      file.push(new Uint8Array(await e.blob.slice(at, end).arrayBuffer()), end === e.blob.size);
    }
  }
  zip.end();
  if (failure) throw new MergeLabError('WRITE_FAILED', `The zip could not be built (${(failure as Error).message}).`);
  return new Blob(parts as Uint8Array<ArrayBuffer>[], { type: 'application/zip' });
}

