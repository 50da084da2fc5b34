/**
 * Node-only: opens the checkpoint a user names on the command line, a `.safetensors` or PyTorch
 * `.bin`/`.pt` file, an index file, or a model folder. Browser code uses file-list-checkpoint.ts
 * instead.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MergeLabError, isMergeLabError } from '../errors.js';
import { openCheckpointFromListing } from './file-list-checkpoint.js';
import { nodeFileSource, pathKind } from './node-file.js';
import { openSafetensors } from './safetensors-reader.js';
import { openShardedCheckpoint } from './sharded.js';
import { openTorchCheckpoint, TORCH_FILE } from './torch-checkpoint.js';
import type { ByteSource, Checkpoint } from './types.js';

/** nodeFileSource, but undefined for a missing file (shard resolution turns that into SHARD_MISSING). */
async function openIfExists(path: string): Promise<ByteSource | undefined> {
  try {
    return await nodeFileSource(path);
  } catch (e) {
    if (isMergeLabError(e) && e.code === 'PATH_NOT_FOUND') return undefined;
    throw e;
  }
}

/**
 * Opens `path` as a checkpoint:
 * - a `.safetensors` file, or a PyTorch `.bin`/`.pt`/`.pth` file (read without running its
 *   pickle, see torch-checkpoint.ts);
 * - a `*.safetensors.index.json` or `pytorch_model.bin.index.json` file, with shards next to it;
 * - a folder: `model.safetensors`, else `model.safetensors.index.json` (or the only index) and its
 *   shards, else its one `*.safetensors` file, or all of them combined (DUPLICATE_TENSOR when a
 *   tensor name repeats across files); with no safetensors at all, the same for `.bin` files.
 * PATH_NOT_FOUND when nothing is at `path`; NO_CHECKPOINT for a folder without weights or a
 * `.ckpt`/`.pkl` file. Only headers and pickles are read; call `close()` when done.
 */
export async function openCheckpointPath(path: string): Promise<Checkpoint> {
  const kind = await pathKind(path);
  if (kind === undefined) throw new MergeLabError('PATH_NOT_FOUND', `${path} does not exist. Check the path (a .safetensors or .bin file, or a model folder).`);
  if (kind === 'directory') {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (e) {
      throw new MergeLabError('READ_FAILED', `Could not list the folder ${path} (${(e as Error).message}).`);
    }
    // Symlinks count too: Hugging Face cache snapshots are folders of links into blobs/.
    const names = entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
    return openCheckpointFromListing(path, names, (rel) => openIfExists(join(path, rel)));
  }
  if (TORCH_FILE.test(path)) return openTorchCheckpoint(await nodeFileSource(path), { closeOnError: true });
  if (/\.(ckpt|pkl)$/i.test(path)) {
    throw new MergeLabError('NO_CHECKPOINT', `${path} is a ${path.slice(path.lastIndexOf('.'))} pickle, which merge-lab does not read; save the model's state_dict with torch.save as a .bin, or convert it to safetensors.`);
  }
  if (/\.index\.json$/i.test(path)) {
    return openShardedCheckpoint(await nodeFileSource(path), (rel) => openIfExists(join(dirname(path), rel)), path);
  }
  return openSafetensors(await nodeFileSource(path), { closeOnError: true });
}
