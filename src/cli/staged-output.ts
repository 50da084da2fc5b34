/**
 * All of a merge's output files are written into a hidden staging folder inside --out and moved
 * into place only once every one of them exists, so a failure at any point — a tensor, the last
 * shard, the recipe, config.json — leaves --out as it was.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { MergeLabError } from '../engine/errors.js';

export interface StagedOutput {
  /** Where to write: files here become `<out>/<same name>` on commit. */
  readonly dir: string;
  /** Moves every staged file into --out (all or none) and removes the staging folder. */
  commit(): Promise<void>;
  /** Removes the staging folder, and --out itself when this run created it. */
  discard(): Promise<void>;
}

function writeFailed(what: string, e: unknown): MergeLabError {
  return new MergeLabError('WRITE_FAILED', `${what} (${(e as Error).message}). Choose another --out folder or free it.`);
}

export async function createStagedOutput(outDir: string): Promise<StagedOutput> {
  const existing = await stat(outDir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new MergeLabError('WRITE_FAILED', `--out ${outDir} is a file, not a folder; give a folder for the merged model.`);
  }
  try {
    await mkdir(outDir, { recursive: true });
  } catch (e) {
    throw writeFailed(`Cannot create the --out folder ${outDir}`, e);
  }
  const dir = path.join(outDir, `.merge-lab-partial-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    await mkdir(dir);
  } catch (e) {
    if (!existing) await rm(outDir, { recursive: true, force: true });
    throw writeFailed(`Cannot write into the --out folder ${outDir}`, e);
  }

  const discard = async () => {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    if (!existing) {
      const left = await readdir(outDir).catch(() => ['?']);
      if (left.length === 0) await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    }
  };

  return {
    dir,
    discard,
    async commit() {
      const files = await readdir(dir);
      try {
        for (const f of files) {
          const target = await stat(path.join(outDir, f)).catch(() => undefined);
          if (target?.isDirectory()) throw new MergeLabError('WRITE_FAILED', `${path.join(outDir, f)} is a folder, so the merged ${f} cannot be written there. Remove it or choose another --out.`);
        }
      } catch (e) {
        await discard();
        throw e;
      }
      const moved: string[] = [];
      try {
        for (const f of files) {
          await rename(path.join(dir, f), path.join(outDir, f));
          moved.push(f);
        }
      } catch (e) {
        await Promise.allSettled(moved.map((f) => unlink(path.join(outDir, f))));
        await discard();
        throw writeFailed(`Could not move the merged files into ${outDir}`, e);
      }
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
