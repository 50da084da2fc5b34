/** The file names of a Twin-Merging package (light: the app's main thread lists them without the package code). */
export const TWIN_FILES = { manifest: 'twin.json', shared: 'shared.safetensors', exclusive: 'exclusive.safetensors', router: 'router.safetensors' } as const;
