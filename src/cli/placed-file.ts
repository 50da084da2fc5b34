/**
 * A file on disk written at offsets (engine/merge/placed-output.ts), for a merge on several workers:
 * as nodeFileSink, the bytes go to `path.partial-<random>`, renamed to `path` by close() and
 * deleted by abort(), so a failed merge leaves nothing under the real name.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MergeLabError } from '../engine/errors.js';
import type { RandomAccessSink } from '../engine/merge/placed-output.js';

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e);
  return err?.code && !msg.startsWith(err.code) ? `${err.code}: ${msg}` : msg;
}

export async function nodePlacedSink(path: string): Promise<RandomAccessSink> {
  const partial = `${path}.partial-${randomBytes(6).toString('hex')}`;
  let fh: FileHandle;
  try {
    await mkdir(dirname(path), { recursive: true });
    fh = await open(partial, 'wx');
  } catch (e) {
    throw new MergeLabError('WRITE_FAILED', `Could not create ${partial} (${describe(e)}). Check that the folder is writable.`);
  }
  let state: 'open' | 'closed' | 'aborted' = 'open';
  return {
    name: path,
    async writeAt(offset, bytes) {
      if (state !== 'open') throw new MergeLabError('WRITE_FAILED', `Cannot write to ${path}: it is already ${state}.`);
      let done = 0;
      try {
        while (done < bytes.byteLength) {
          const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, offset + done);
          done += bytesWritten;
        }
      } catch (e) {
        throw new MergeLabError('WRITE_FAILED', `Could not write ${path} (${describe(e)}). Is the disk full?`);
      }
    },
    async close() {
      if (state === 'closed') return;
      if (state === 'aborted') throw new MergeLabError('WRITE_FAILED', `Cannot close ${path}: it was aborted.`);
      state = 'closed';
      try {
        await fh.close();
        await rename(partial, path);
      } catch (e) {
        await unlink(partial).catch(() => undefined);
        throw new MergeLabError('WRITE_FAILED', `Could not finish ${path} (${describe(e)}).`);
      }
    },
    async abort() {
      if (state !== 'open') return;
      state = 'aborted';
      await fh.close().catch(() => undefined);
      await unlink(partial).catch(() => undefined);
    },
  };
}
