/**
 * Picks and opens the checkpoint in a set of files: dropped files or a dropped folder in the
 * browser, or a folder listing in Node (node-checkpoint.ts shares `openCheckpointFromListing`).
 * The rules follow transformers: safetensors first (`model.safetensors`, then an index with its
 * shards, then whatever `*.safetensors` files there are), and only without any, PyTorch pickles
 * the same way (`pytorch_model.bin`, `pytorch_model.bin.index.json`, other `.bin`/`.pt` files).
 */
import { MergeLabError } from '../errors.js';
import { combineSafetensorsFiles, INDEX_FILE_NAME, openShardedCheckpoint, openWeightsFile, TORCH_INDEX_FILE_NAME } from './sharded.js';
import { TORCH_FILE } from './torch-checkpoint.js';
import type { ByteSource, Checkpoint } from './types.js';

/** Opens a file of the listing by its relative path; undefined when there is no such file. */
export type ListingOpener = (relativePath: string) => Promise<ByteSource | undefined>;

const PICKLE = /\.(bin|pt|pth|ckpt|pkl)$/i;
const SAFETENSORS_INDEX = /\.safetensors\.index\.json$/i;
const TORCH_INDEX = /\.(bin|pt|pth)\.index\.json$/i;
/** What transformers' Trainer saves beside the weights: pickles of settings and optimizer state, not weights. */
const TRAINER_FILES = /^(training_args\.bin|optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state.*\.pth)$/i;

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

async function openFile(label: string, path: string, open: ListingOpener): Promise<Checkpoint> {
  const src = await open(path);
  if (!src) throw new MergeLabError('PATH_NOT_FOUND', `${path} in ${label} could not be opened.`);
  return openWeightsFile(src, path);
}

/** One format's files (weights and indexes) in the listing, and its conventional names. */
interface Kind {
  readonly relevant: readonly string[];
  readonly isIndex: (n: string) => boolean;
  readonly single: string;
  readonly index: string;
}

/**
 * Opens the checkpoint among `names` (relative '/'-separated paths). Safetensors files win; PyTorch
 * `.bin`/`.pt`/`.pth` files are used only when there are none (Trainer's `training_args.bin`,
 * `optimizer.pt` and the like are never weights). Only the shallowest folder holding files of the
 * chosen format is considered (a dropped model folder may contain sub-folders). In order:
 * `model.safetensors` (`pytorch_model.bin`); else an index (`model.safetensors.index.json` or
 * `pytorch_model.bin.index.json` preferred, or the only index) with shards resolved next to it;
 * else the one weights file, or all of them combined (DUPLICATE_TENSOR if a name repeats).
 * None: NO_CHECKPOINT.
 */
export async function openCheckpointFromListing(label: string, names: readonly string[], open: ListingOpener): Promise<Checkpoint> {
  const safetensors = names.filter((n) => /\.safetensors$/i.test(n) || SAFETENSORS_INDEX.test(n));
  const torch = names.filter((n) => (TORCH_FILE.test(n) && !TRAINER_FILES.test(baseName(n))) || TORCH_INDEX.test(n));
  if (safetensors.length > 0) return openKind(label, { relevant: safetensors, isIndex: (n) => SAFETENSORS_INDEX.test(n), single: 'model.safetensors', index: INDEX_FILE_NAME }, open);
  if (torch.length > 0) return openKind(label, { relevant: torch, isIndex: (n) => TORCH_INDEX.test(n), single: 'pytorch_model.bin', index: TORCH_INDEX_FILE_NAME }, open);
  const pickles = names.filter((n) => PICKLE.test(n));
  const why = pickles.length
    ? ` It has ${pickles.map(baseName).slice(0, 3).join(', ')}, which hold no model weights merge-lab reads (.ckpt and .pkl files are not read; Trainer's training_args.bin, optimizer.pt and the like are not weights).`
    : '';
  throw new MergeLabError('NO_CHECKPOINT', `${label} contains no .safetensors files and no PyTorch .bin/.pt weights.${why}`);
}

async function openKind(label: string, kind: Kind, open: ListingOpener): Promise<Checkpoint> {
  const top = Math.min(...kind.relevant.map(depth));
  const here = kind.relevant.filter((n) => depth(n) === top);
  const files = here.filter((n) => !kind.isIndex(n)).sort();
  const indexes = here.filter(kind.isIndex).sort();

  const single = files.find((n) => baseName(n) === kind.single);
  if (single) return openFile(label, single, open);

  const index = indexes.find((n) => baseName(n) === kind.index) ?? (indexes.length === 1 ? indexes[0] : undefined);
  if (index) {
    const src = await open(index);
    if (!src) throw new MergeLabError('PATH_NOT_FOUND', `${index} in ${label} could not be opened.`);
    return openShardedCheckpoint(src, (f) => open(joinRelative(dirName(index), f)), label);
  }
  if (indexes.length > 1) {
    throw new MergeLabError('NO_CHECKPOINT', `${label} has several indexes (${indexes.map(baseName).join(', ')}) and no ${kind.index}; open one of the index files directly.`);
  }
  if (files.length === 1) return openFile(label, files[0]!, open);

  const opened: Checkpoint[] = [];
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
 * Opens dropped files or a dropped folder as one checkpoint: a single `.safetensors` or `.bin`
 * file, an index with its shards, or several weights files (see {@link openCheckpointFromListing}).
 * `label` (for messages) defaults to the common top folder, or the single file's name.
 */
export async function openCheckpointFiles(files: readonly ListedFile[], label?: string): Promise<Checkpoint> {
  const byPath = new Map<string, ByteSource>();
  for (const f of files) byPath.set(joinRelative('', f.name.replace(/\\/g, '/')), f.source);
  const paths = [...byPath.keys()];
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '')));
  const name = label ?? (paths.length === 1 ? paths[0]! : tops.size === 1 && !tops.has('') ? [...tops][0]! : `${paths.length} files`);
  if (paths.length === 0) throw new MergeLabError('NO_CHECKPOINT', 'No files were given; drop a .safetensors or .bin file, or a model folder.');
  return openCheckpointFromListing(name, paths, async (p) => byPath.get(p));
}
