/**
 * workers/sync-access-folder.ts: a folder whose files have no createWritable (Safari before 26) is
 * written through sync access handles — every byte at its place, flushed and closed on close, only
 * closed on abort — and one whose files have createWritable keeps using it. The engine's folder
 * writer (services/folder-output.ts) runs over it as over a FileSystemDirectoryHandle.
 */
import { describe, expect, it } from 'vitest';
import { folderFiles } from '../../src/engine/api/services/folder-output.js';
import { writableFolder } from '../../workers/sync-access-folder.js';

/** A folder of files that only open sync access handles, which write at most `most` bytes per call (as a real one may). */
function syncOnlyFolder(most = 1000) {
  const files = new Map<string, Uint8Array>();
  const log: string[] = [];
  const folder = {
    async getFileHandle(name: string, options?: { create?: boolean }) {
      if (!files.has(name)) {
        if (!options?.create) throw new DOMException(`${name} not found`, 'NotFoundError');
        files.set(name, new Uint8Array(0));
      }
      return {
        async createSyncAccessHandle() {
          log.push(`open ${name}`);
          return {
            write(data: Uint8Array, { at }: { at: number }) {
              const n = Math.min(most, data.byteLength);
              const old = files.get(name)!;
              const next = new Uint8Array(Math.max(old.byteLength, at + n));
              next.set(old);
              next.set(data.subarray(0, n), at);
              files.set(name, next);
              return n;
            },
            truncate(size: number) {
              files.set(name, files.get(name)!.slice(0, size));
            },
            flush: () => void log.push(`flush ${name}`),
            close: () => void log.push(`close ${name}`),
          };
        },
      };
    },
    async removeEntry(name: string) {
      files.delete(name);
      log.push(`remove ${name}`);
    },
  };
  return { folder, files, log };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

describe('writableFolder over sync access handles', () => {
  it('writes every byte in order (writes split by the handle too), replacing what the file held', async () => {
    const { folder, files, log } = syncOnlyFolder();
    files.set('model.safetensors', bytes(9000, 7));
    const out = writableFolder(folder);
    const w = await (await out.getFileHandle('model.safetensors', { create: true })).createWritable();
    const parts = [bytes(2500, 1), bytes(10, 2), bytes(4096, 3)];
    for (const p of parts) await w.write(p);
    await w.close();
    const want = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
    parts.reduce((at, p) => (want.set(p, at), at + p.byteLength), 0);
    expect(files.get('model.safetensors')).toEqual(want);
    expect(log).toEqual(['open model.safetensors', 'flush model.safetensors', 'close model.safetensors']);
  });

  it('runs the engine folder writer: a rollback closes the open files and removes those created', async () => {
    const { folder, files, log } = syncOnlyFolder();
    files.set('config.json', new TextEncoder().encode('{"kept": true}'));
    const written = folderFiles(writableFolder(folder));
    const sink = await written.sink('model.safetensors');
    await sink.write(bytes(5000, 4));
    await sink.close();
    await written.write('config.json', new TextEncoder().encode('{}'));
    await written.rollback();
    expect([...files.keys()]).toEqual(['config.json']);
    // A file that was there is written in place (sync access has no swap file): the private
    // storage's export folders, where this path runs, start empty.
    expect(new TextDecoder().decode(files.get('config.json'))).toBe('{}');
    expect(log.filter((l) => l.startsWith('close') || l.startsWith('remove'))).toEqual(['close model.safetensors', 'close config.json', 'remove model.safetensors']);
  });

  it('keeps createWritable where the file has it', async () => {
    const writes: Uint8Array[] = [];
    const writable = { write: async (d: Uint8Array) => void writes.push(d), close: async () => undefined, abort: async () => undefined };
    const folder = { getFileHandle: async () => ({ createWritable: async () => writable, createSyncAccessHandle: () => Promise.reject(new Error('not this one')) }), removeEntry: async () => undefined };
    const w = await (await writableFolder(folder).getFileHandle('a', { create: true })).createWritable();
    expect(w).toBe(writable);
  });
});
