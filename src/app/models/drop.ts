/**
 * Turns what the user dropped or chose into model groups: a loose file is one model; a folder
 * (a sharded Hugging Face checkpoint, say) is one model whose files keep their paths relative to
 * it. Folders are walked with the File and Directory Entries API (webkitGetAsEntry); the folder
 * picker gives webkitRelativePath instead. Only files the engine reads are kept. A folder of model
 * folders (base/, ft1/, … with no weights of its own) is each of them, not one model.
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
        groups.push(...splitModelFolders({ name: e.name, files }));
      } else {
        const f = await fileOf(e as FileSystemFileEntry);
        groups.push({ name: f.name, files: [{ path: f.name, blob: f }] });
      }
    }
    return groups;
  })();
}

const WEIGHTS = /\.(safetensors|bin|pt|pth)$/i;

/**
 * A folder that holds no weights itself but two or more folders that do (a folder of checkpoints)
 * as one group per such folder, paths relative to it; any other group as it is. Taken whole, one
 * of its models' weights would have been read and the others dropped without a word.
 */
export function splitModelFolders(group: DroppedGroup): DroppedGroup[] {
  if (group.files.some((f) => !f.path.includes('/') && WEIGHTS.test(f.path))) return [group];
  const bySub = new Map<string, File1[]>();
  for (const f of group.files) {
    const slash = f.path.indexOf('/');
    if (slash < 0) continue;
    const sub = f.path.slice(0, slash);
    bySub.set(sub, [...(bySub.get(sub) ?? []), { path: f.path.slice(slash + 1), blob: f.blob }]);
  }
  const models = [...bySub].filter(([, files]) => files.some((f) => WEIGHTS.test(f.path)));
  return models.length >= 2 ? models.map(([name, files]) => ({ name, files })) : [group];
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
  return [...byFolder].flatMap(([name, list]) => splitModelFolders({ name, files: list }));
}
