/**
 * Per-tensor seeds for random masks: a hash of the recipe's random_seed and the tensor name, so a
 * tensor's mask does not depend on which other tensors were merged before it or on the backend.
 */

/** 32-bit FNV-1a over the UTF-16 code units of the name, mixed with the seed (murmur3 finaliser). */
export function tensorSeed(randomSeed: number, tensorName: string): number {
  let h = 0x811c9dc5 ^ (randomSeed >>> 0);
  for (let i = 0; i < tensorName.length; i++) {
    h ^= tensorName.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= Math.floor(randomSeed / 0x100000000) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed used when a recipe gives no random_seed, so that merges are reproducible by default. */
export const DEFAULT_RANDOM_SEED = 42;
