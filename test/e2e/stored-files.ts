/** Every file of a private-storage folder (its path under the root) with its bytes as base64. Runs in the page (page.evaluate). */
export async function storedFiles(folderPath: readonly string[]): Promise<Record<string, string>> {
  let dir = await navigator.storage.getDirectory();
  for (const p of folderPath) dir = await dir.getDirectoryHandle(p);
  const out: Record<string, string> = {};
  for await (const [name, handle] of (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries()) {
    if (handle.kind !== 'file') continue;
    const bytes = new Uint8Array(await (await (handle as FileSystemFileHandle).getFile()).arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    out[name] = btoa(bin);
  }
  return out;
}
