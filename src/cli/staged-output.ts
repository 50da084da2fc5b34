/**
 * All of a merge's output files are written into a hidden staging folder inside --out and moved
 * into place only once every one of them exists, so a failure at any point — a tensor, the last
 * shard, the recipe, config.json — leaves --out as it was. On success --out holds exactly one
 * output: weights files of an earlier merge that this one does not write (a model.safetensors
 * beside new shards, shards beside a new single file, their index) are removed after the new files
 * are in place, never before. One merge at a time per --out (a lock file naming the process);
 * Ctrl-C or SIGTERM removes the staging folder; staging folders and locks of processes that died
 * (kill -9, power loss) are removed by the next merge into the same --out, which says so.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, unlinkSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MergeLabError } from '../engine/errors.js';

export interface StagedOutput {
  /** Where to write: files here become `<out>/<same name>` on commit. */
  readonly dir: string;
  /** What was cleaned up from earlier runs that died (for the user to hear). */
  readonly notes: readonly string[];
  /** Moves every staged file into --out (all or none), removes stale weights files and the staging folder. */
  commit(): Promise<void>;
  /** Removes the staging folder, and --out itself when this run created it. */
  discard(): Promise<void>;
}

const STAGING = /^\.merge-lab-partial-(\d+)-[0-9a-f]+$/;
const LOCK = '.merge-lab.lock';
/** The weights files a merge writes (and loaders pick up): single file, shards, shard index, routed packages' tensors. */
const WEIGHTS = /^(model\.safetensors|model-\d{5}-of-\d{5}\.safetensors|model\.safetensors\.index\.json|(twin|channel)\.json|(shared|exclusive|router|groups|index)\.safetensors)$/;

function writeFailed(what: string, e: unknown): MergeLabError {
  return new MergeLabError('WRITE_FAILED', `${what} (${(e as Error).message}). Choose another --out folder or free it.`);
}

/** Whether process `pid` is running (signal 0 checks without signalling; EPERM means it exists). */
function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the --out lock, or says which running merge holds it; a dead holder's lock is taken over. */
async function takeLock(outDir: string, notes: string[]): Promise<string> {
  const lock = path.join(outDir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx' });
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw writeFailed(`Cannot lock the --out folder ${outDir}`, e);
    }
    const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
    if (alive(holder) && holder !== process.pid) {
      throw new MergeLabError('OUT_LOCKED', `--out ${outDir} is being written by another merge (process ${holder}); wait for it to finish, or choose another --out.`);
    }
    await unlink(lock).catch(() => undefined);
    notes.push(`--out ${outDir} had a lock left by process ${Number.isNaN(holder) ? '(unknown)' : holder}, which is no longer running; it was removed.`);
  }
  throw new MergeLabError('OUT_LOCKED', `--out ${outDir} could not be locked (another merge took it meanwhile); try again.`);
}

/** Staging folders of merges whose process is gone: removed, each said. */
async function removeDeadStaging(outDir: string, notes: string[]): Promise<void> {
  for (const name of await readdir(outDir).catch(() => [] as string[])) {
    const m = STAGING.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await rm(path.join(outDir, name), { recursive: true, force: true }).catch(() => undefined);
    notes.push(`Removed ${name} from ${outDir}: the unfinished output of a merge (process ${m[1]}) that stopped without cleaning up.`);
  }
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
  const notes: string[] = [];
  let lock: string;
  try {
    lock = await takeLock(outDir, notes);
  } catch (e) {
    if (!existing) await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  await removeDeadStaging(outDir, notes);
  const dir = path.join(outDir, `.merge-lab-partial-${process.pid}-${randomBytes(3).toString('hex')}`);

  // Ctrl-C / SIGTERM: nothing may stay behind. Synchronous, as the process ends right after.
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(dir, { recursive: true, force: true });
    try {
      unlinkSync(lock);
    } catch {
      // Already gone.
    }
    if (!existing) {
      try {
        if (readdirSync(outDir).length === 0) rmSync(outDir, { recursive: true, force: true });
      } catch {
        // Nothing to tidy.
      }
    }
    process.stderr.write(`\nmerge-lab: stopped by ${signal}; nothing was written to ${outDir}.\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const release = async () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await unlink(lock).catch(() => undefined);
  };

  try {
    await mkdir(dir);
  } catch (e) {
    await release();
    if (!existing) await rm(outDir, { recursive: true, force: true });
    throw writeFailed(`Cannot write into the --out folder ${outDir}`, e);
  }

  const discard = async () => {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    await release();
    if (!existing) {
      const left = await readdir(outDir).catch(() => ['?']);
      if (left.length === 0) await rm(outDir, { recursive: true, force: true }).catch(() => undefined);
    }
  };

  return {
    dir,
    notes,
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
      // The new output is complete: weights files of an earlier one that it does not replace would
      // be loaded in its place (a model.safetensors beside new shards is read first), so they go.
      const written = new Set(files);
      for (const f of await readdir(outDir).catch(() => [] as string[])) {
        if (WEIGHTS.test(f) && !written.has(f)) await unlink(path.join(outDir, f)).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      await release();
    },
  };
}
