/**
 * The lab's "Download merged model" and "Save into a folder" (src/app/engine/model-folder.ts), in
 * Node: the zip holds every file under the folder's name, byte for byte (the weights stored, the
 * rest deflated), and writing into a folder leaves all files or none — checked against an
 * in-memory stand-in for the File System Access API whose writables commit on close, as Chromium's do.
 */
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { saveToDirectory, type DirectoryLike, type FolderEntry } from '../../src/app/engine/model-folder.js';
import { zipFolder } from '../../src/app/engine/model-zip.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 255);
const ENTRIES: FolderEntry[] = [
  { name: 'model.safetensors', blob: new Blob([bytes(20_000_000, 1)]) },
  { name: 'config.json', blob: new Blob(['{"dtype": "bfloat16"}\n']) },
  { name: 'mergekit_config.yml', blob: new Blob(['merge_method: ties\n']) },
  { name: 'README.md', blob: new Blob(['# m\n']) },
  { name: 'empty.txt', blob: new Blob([]) },
];

/** A folder in memory; `failOn` makes writing that file fail. */
function memoryDirectory(initial: Record<string, string> = {}, failOn?: string) {
  const files = new Map(Object.entries(initial).map(([k, v]) => [k, new TextEncoder().encode(v)]));
  const dir: DirectoryLike = {
    async getFileHandle(name, options) {
      if (!files.has(name)) {
        if (!options?.create) throw Object.assign(new Error(`${name} not found`), { name: 'NotFoundError' });
        files.set(name, new Uint8Array(0));
      }
      return {
        async createWritable() {
          let pending: Blob | undefined;
          return {
            async write(data: Blob) {
              if (name === failOn) throw new Error('disk full');
              pending = data;
            },
            async close() {
              files.set(name, new Uint8Array(await pending!.arrayBuffer()));
            },
            async abort() {
              pending = undefined;
            },
          };
        },
      };
    },
    async removeEntry(name) {
      files.delete(name);
    },
  };
  return { dir, files };
}

describe('the model folder from the lab', () => {
  it('zips every file under <name>/, byte for byte, the weights stored', async () => {
    const zip = new Uint8Array(await (await zipFolder('merged-ties', ENTRIES)).arrayBuffer());
    const out = unzipSync(zip);
    expect(Object.keys(out)).toEqual(ENTRIES.map((e) => `merged-ties/${e.name}`));
    for (const e of ENTRIES) expect(Buffer.from(out[`merged-ties/${e.name}`]!).equals(Buffer.from(await e.blob.arrayBuffer()))).toBe(true);
    // Stored: the archive is about as large as the weights (deflate would shrink this regular pattern a lot).
    expect(zip.byteLength).toBeGreaterThan(20_000_000);
  });
  it('refuses a folder of 4 GiB or more (a zip without its 64-bit extension cannot hold it)', async () => {
    const huge = { name: 'model.safetensors', blob: { size: 2 ** 32, slice: () => new Blob() } as unknown as Blob };
    await expect(zipFolder('m', [huge])).rejects.toMatchObject({ code: 'WRITE_FAILED', message: expect.stringContaining('save it into a folder instead') });
  });
  it('writes every file into the chosen folder', async () => {
    const { dir, files } = memoryDirectory({ 'notes.txt': 'mine' });
    await saveToDirectory(dir, ENTRIES);
    expect([...files.keys()].sort()).toEqual(['README.md', 'config.json', 'empty.txt', 'mergekit_config.yml', 'model.safetensors', 'notes.txt']);
    expect(new TextDecoder().decode(files.get('config.json'))).toBe('{"dtype": "bfloat16"}\n');
    expect(files.get('model.safetensors')!.byteLength).toBe(20_000_000);
  });
  it('a failure on the way leaves the folder as it was', async () => {
    const { dir, files } = memoryDirectory({ 'config.json': 'old', 'notes.txt': 'mine' }, 'mergekit_config.yml');
    await expect(saveToDirectory(dir, ENTRIES)).rejects.toMatchObject({ code: 'WRITE_FAILED', message: expect.stringContaining('disk full') });
    expect([...files.keys()].sort()).toEqual(['config.json', 'notes.txt']);
    expect(new TextDecoder().decode(files.get('config.json'))).toBe('old');
  });
});
