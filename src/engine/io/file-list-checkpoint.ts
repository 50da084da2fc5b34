/**
 * Picks and opens the checkpoint in a set of files: dropped files or a dropped folder in the
 * browser, or a folder listing in Node (node-checkpoint.ts shares `openCheckpointFromListing`).
 * The rules follow transformers: `model.safetensors` first, then an index with its shards, then
 * whatever `*.safetensors` files there are.
 */
import { MergeLabError } from '../errors.js';
import { openSafetensors, type SafetensorsFile } from './safetensors-reader.js';
import { combineSafetensorsFiles, INDEX_FILE_NAME, openShardedCheckpoint } from './sharded.js';
import type { ByteSource, Checkpoint } from './types.js';

/** Opens a file of the listing by its relative path; undefined when there is no such file. */
export type ListingOpener = (relativePath: string) => Promise<ByteSource | undefined>;

const PICKLE = /\.(bin|pt|pth|ckpt|pkl)$/i;

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function dirName(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

/** `dir` + `rel` with '.' and '..' segments resolved ('/'-separated, no leading slash). */
export function joinRelative(dir: string, rel: string): string {
  const out: string[] = [];
  for (const part of `${dir}/${rel}`.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function depth(p: string): number {
  return p.split('/').length;
}

async function openFile(label: string, path: string, open: ListingOpener): Promise<SafetensorsFile> {
  const src = await open(path);
  if (!src) throw new MergeLabError('PATH_NOT_FOUND', `${path} in ${label} could not be opened.`);
  return openSafetensors(src, { closeOnError: true });
}

/**
 * Opens the checkpoint among `names` (relative '/'-separated paths). Only the shallowest folder
 * holding safetensors files is considered (a dropped model folder may contain sub-folders). In
 * order: `model.safetensors`; else an index (`model.safetensors.index.json` preferred, or the
 * only `*.safetensors.index.json`) with shards resolved next to it; else the one `*.safetensors`,
 * or all of them combined (DUPLICATE_TENSOR if a name repeats). None: NO_CHECKPOINT.
 */
export async function openCheckpointFromListing(label: string, names: readonly string[], open: ListingOpener): Promise<Checkpoint> {
  const relevant = names.filter((n) => /\.safetensors$/i.test(n) || /\.safetensors\.index\.json$/i.test(n));
  if (relevant.length === 0) {
    const pickles = names.filter((n) => PICKLE.test(n));
    const why = pickles.length
      ? ` It has ${pickles.map(baseName).slice(0, 3).join(', ')}: pickle checkpoints are not supported (they can run code); convert them to safetensors first.`
      : '';
    throw new MergeLabError('NO_CHECKPOINT', `${label} contains no .safetensors files.${why}`);
  }
  const top = Math.min(...relevant.map(depth));
  const here = relevant.filter((n) => depth(n) === top);
  const files = here.filter((n) => /\.safetensors$/i.test(n)).sort();
  const indexes = here.filter((n) => /\.safetensors\.index\.json$/i.test(n)).sort();

  const single = files.find((n) => baseName(n) === 'model.safetensors');
  if (single) return openFile(label, single, open);

  const index = indexes.find((n) => baseName(n) === INDEX_FILE_NAME) ?? (indexes.length === 1 ? indexes[0] : undefined);
  if (index) {
    const src = await open(index);
    if (!src) throw new MergeLabError('PATH_NOT_FOUND', `${index} in ${label} could not be opened.`);
    return openShardedCheckpoint(src, (f) => open(joinRelative(dirName(index), f)), label);
  }
  if (indexes.length > 1) {
    throw new MergeLabError('NO_CHECKPOINT', `${label} has several indexes (${indexes.map(baseName).join(', ')}) and no model.safetensors.index.json; open one of the index files directly.`);
  }
  if (files.length === 1) return openFile(label, files[0]!, open);

  const opened: SafetensorsFile[] = [];
  try {
    for (const f of files) opened.push(await openFile(label, f, open));
    return combineSafetensorsFiles(label, opened);
  } catch (e) {
    await Promise.allSettled(opened.map((f) => f.close()));
    throw e;
  }
}

/** A file handed over by the browser: its relative path (webkitRelativePath or name) and bytes. */
export interface ListedFile {
  /** Relative path, '/'-separated, e.g. "llama/model-00001-of-00002.safetensors". */
  readonly name: string;
  readonly source: ByteSource;
}

/**
 * Opens dropped files or a dropped folder as one checkpoint: a single `.safetensors`, an index
 * with its shards, or several `.safetensors` files (see {@link openCheckpointFromListing}).
 * `label` (for messages) defaults to the common top folder, or the single file's name.
 */
export async function openCheckpointFiles(files: readonly ListedFile[], label?: string): Promise<Checkpoint> {
  const byPath = new Map<string, ByteSource>();
  for (const f of files) byPath.set(joinRelative('', f.name.replace(/\\/g, '/')), f.source);
  const paths = [...byPath.keys()];
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '')));
  const name = label ?? (paths.length === 1 ? paths[0]! : tops.size === 1 && !tops.has('') ? [...tops][0]! : `${paths.length} files`);
  if (paths.length === 0) throw new MergeLabError('NO_CHECKPOINT', 'No files were given; drop a .safetensors file or a model folder.');
  return openCheckpointFromListing(name, paths, async (p) => byPath.get(p));
}
