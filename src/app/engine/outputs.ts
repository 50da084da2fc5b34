/**
 * The last merge's files: Blob URLs for the single-file download links, and the whole model
 * folder (weights, config.json, tokenizer files, mergekit_config.yml, README.md) kept as Blobs for
 * "Download merged model" (a zip, built when asked) and "Save into a folder". The bytes live only
 * in these Blobs (the store keeps URLs and names); a new merge releases the old ones. A merge
 * written to disk (publishWrittenFolder) is published as the Files read back from its folder:
 * Blobs backed by the files on disk, so its links download from there and hold nothing in memory.
 */
import { saveToDirectory, type DirectoryLike, type FolderEntry } from './model-folder.js';

let urls: string[] = [];
let folder: { readonly name: string; readonly entries: readonly FolderEntry[] } | undefined;

export interface PublishedOutputs {
  readonly weightsUrl: string;
  readonly recipeUrl: string;
  /** The model folder's name (the zip holds `<name>/…`) and its files, weights first. */
  readonly folderName: string;
  readonly folderFiles: readonly string[];
}

export function publishOutputs(weights: Uint8Array, recipeYaml: string, files: readonly { readonly name: string; readonly bytes: Uint8Array }[] = [], name = 'merged-model'): PublishedOutputs {
  releaseOutputs();
  const weightsBlob = new Blob([weights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' });
  const weightsUrl = URL.createObjectURL(weightsBlob);
  const recipeUrl = URL.createObjectURL(new Blob([recipeYaml], { type: 'application/yaml' }));
  urls = [weightsUrl, recipeUrl];
  const entries: FolderEntry[] = [
    { name: 'model.safetensors', blob: weightsBlob },
    // Our resolved recipe too, as the command line writes it beside mergekit_config.yml.
    { name: 'merge-recipe.yml', blob: new Blob([recipeYaml], { type: 'application/yaml' }) },
    ...files.map((f) => ({ name: f.name, blob: new Blob([f.bytes as Uint8Array<ArrayBuffer>]) })),
  ];
  folder = { name, entries };
  return { weightsUrl, recipeUrl, folderName: name, folderFiles: entries.map((e) => e.name) };
}

/**
 * The files a merge wrote into `dir` (MergesService.mergeToFolder's `files`, weights first),
 * published as the Files on disk: the weights link is the first weights file (model.safetensors,
 * or the first shard).
 */
export async function publishWrittenFolder(dir: FileSystemDirectoryHandle, files: readonly string[], name: string): Promise<PublishedOutputs & { readonly fileUrls: readonly { readonly name: string; readonly url: string }[] }> {
  releaseOutputs();
  const entries: FolderEntry[] = [];
  for (const f of files) entries.push({ name: f, blob: await (await dir.getFileHandle(f)).getFile() });
  const fileUrls = entries.map((e) => ({ name: e.name, url: URL.createObjectURL(e.blob) }));
  urls = fileUrls.map((f) => f.url);
  const url = (pick: (n: string) => boolean) => fileUrls.find((f) => pick(f.name))?.url;
  const weightsUrl = url((n) => n.endsWith('.safetensors'));
  const recipeUrl = url((n) => n === 'merge-recipe.yml');
  if (!weightsUrl || !recipeUrl) throw new Error(`The merged folder lacks ${weightsUrl ? 'merge-recipe.yml' : 'its weights'}.`);
  folder = { name, entries };
  return { weightsUrl, recipeUrl, folderName: name, folderFiles: entries.map((e) => e.name), fileUrls };
}

export function releaseOutputs(): void {
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
  folder = undefined;
}

function published() {
  if (!folder) throw new Error('There is no merged model to save; merge first.');
  return folder;
}

/** Builds the zip of the last merge's folder and downloads it as `<name>.zip`. */
export async function downloadModelZip(): Promise<void> {
  const f = published();
  // The zip writer (fflate) loads with the first download, not with the page.
  const { zipFolder } = await import('./model-zip.js');
  const zip = await zipFolder(f.name, f.entries);
  const url = URL.createObjectURL(zip);
  const a = document.createElement('a');
  a.href = url;
  a.download = `${f.name}.zip`;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has taken its copy once the click's task is over; a minute is plenty.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Writes the last merge's folder into `dir` (a folder the user picked). */
export async function saveModelFolder(dir: DirectoryLike): Promise<void> {
  await saveToDirectory(dir, published().entries);
}
