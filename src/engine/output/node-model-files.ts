/**
 * ModelFiles over a folder on disk (Node only, as io/node-file.ts): the files beside a model's
 * weights, for the CLI. A model given as a `.safetensors` file uses the folder that holds it.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { MergeLabError } from '../errors.js';
import type { ModelFiles } from './model-files.js';

/** The files of the folder `where` (or of the folder holding the file `where`). */
export async function folderModelFiles(label: string, where: string): Promise<ModelFiles> {
  let dir = where;
  let names: string[];
  try {
    if (!(await stat(where)).isDirectory()) dir = path.dirname(where);
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
  } catch (e) {
    throw new MergeLabError('READ_FAILED', `The folder of ${label} (${dir}) cannot be listed (${(e as Error).message}).`);
  }
  return {
    label,
    names,
    async read(name) {
      try {
        return new Uint8Array(await readFile(path.join(dir, name)));
      } catch (e) {
        throw new MergeLabError('READ_FAILED', `${path.join(dir, name)} (of ${label}) cannot be read (${(e as Error).message}).`);
      }
    },
  };
}
