/** The file names of a Channel Merging package (light: the app's main thread lists them without the package code). */
export const CHANNEL_FILES = { groups: 'groups.safetensors', index: 'index.safetensors', router: 'router.safetensors', manifest: 'channel.json' } as const;
