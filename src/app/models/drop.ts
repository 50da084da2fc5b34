/**
 * Turns what the user dropped or chose into model groups: a loose file is one model; a folder
 * (a sharded Hugging Face checkpoint, say) is one model whose files keep their paths relative to
 * it. Folders are walked with the File and Directory Entries API (webkitGetAsEntry); the folder
 * picker gives webkitRelativePath instead. Only files the engine reads are kept.
 */
import type { DroppedGroup } from '../store/types.js';

/**
 * What a checkpoint folder may hold that the engine reads: weights (safetensors, or PyTorch
 * .bin/.pt/.pth, read without running their pickle), the shard index, config.json.
 */
const WANTED = /\.(safetensors|bin|pt|pth|json)$/i;

/** The tokenizer's files beyond the JSON ones, which the merged model's folder copies (engine/output/tokenizer.ts). */
const TOKENIZER = /\.jinja$|(^|\/)(tokenizer\.model|merges\.txt|vocab\.txt)$/i;
const wanted = (name: string) => WANTED.test(name) || TOKENIZER.test(name);

type File1 = { readonly path: string; readonly blob: Blob };

function readAllEntries(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  return new Promise((resolve, reject) => {
    // readEntries hands out a batch at a time (100 in Chromium) until it returns none.
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walk(dir: FileSystemDirectoryEntry, prefix: string, out: File1[]): Promise<void> {
  for (const e of await readAllEntries(dir)) {
    const path = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) await walk(e as FileSystemDirectoryEntry, path, out);
    else if (wanted(e.name)) out.push({ path, blob: await fileOf(e as FileSystemFileEntry) });
  }
}

/**
 * The groups in a drop. Entries must be taken while the drop event runs (the DataTransfer is
 * emptied afterwards), so this reads them synchronously and walks folders after.
 */
export function groupsFromDrop(dt: DataTransfer): Promise<DroppedGroup[]> {
  const entries: (FileSystemEntry | File)[] = [];
  const items = [...dt.items].filter((i) => i.kind === 'file');
  for (const item of items) {
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    const file = item.getAsFile();
    if (entry) entries.push(entry);
    else if (file) entries.push(file);
  }
  if (items.length === 0) entries.push(...dt.files);
  return (async () => {
    const groups: DroppedGroup[] = [];
    for (const e of entries) {
      if (e instanceof File) groups.push({ name: e.name, files: [{ path: e.name, blob: e }] });
      else if (e.isDirectory) {
        const files: File1[] = [];
        await walk(e as FileSystemDirectoryEntry, '', files);
        groups.push({ name: e.name, files });
      } else {
        const f = await fileOf(e as FileSystemFileEntry);
        groups.push({ name: f.name, files: [{ path: f.name, blob: f }] });
      }
    }
    return groups;
  })();
}

/** Files from <input type=file multiple>: one model each. */
export function groupsFromFiles(files: readonly File[]): DroppedGroup[] {
  return files.map((f) => ({ name: f.name, files: [{ path: f.name, blob: f }] }));
}

/** Files from <input type=file webkitdirectory>: one model per top-level folder, paths relative to it. */
export function groupsFromFolder(files: readonly File[]): DroppedGroup[] {
  const byFolder = new Map<string, File1[]>();
  for (const f of files) {
    const rel = f.webkitRelativePath || f.name;
    const slash = rel.indexOf('/');
    const folder = slash < 0 ? f.name : rel.slice(0, slash);
    const path = slash < 0 ? f.name : rel.slice(slash + 1);
    if (!wanted(path)) continue;
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), { path, blob: f }]);
  }
  return [...byFolder].map(([name, list]) => ({ name, files: list }));
}
