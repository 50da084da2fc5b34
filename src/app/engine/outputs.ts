/**
 * The last merge's files as Blob URLs for the download links. The bytes live only in these Blobs
 * (the store keeps the URLs); a new merge revokes the old URLs so their memory is freed.
 */

let urls: string[] = [];

export interface PublishedOutputs {
  readonly weightsUrl: string;
  readonly recipeUrl: string;
}

export function publishOutputs(weights: Uint8Array, recipeYaml: string): PublishedOutputs {
  releaseOutputs();
  const weightsUrl = URL.createObjectURL(new Blob([weights as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const recipeUrl = URL.createObjectURL(new Blob([recipeYaml], { type: 'application/yaml' }));
  urls = [weightsUrl, recipeUrl];
  return { weightsUrl, recipeUrl };
}

export function releaseOutputs(): void {
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
}
