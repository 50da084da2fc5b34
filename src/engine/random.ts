/**
 * Seeded random numbers. Masks (DARE/DELLA) use counter-based draws. Element i of stream s is a pure
 * hash of (seed, s, i), so a mask is the same on every backend and run, and does not depend on the
 * order tensors are merged in. (torch's generator cannot be reproduced; masks match mergekit in
 * distribution only — see README.)
 */

/** A 32-bit hash of three words (murmur3-style mixing): well spread for consecutive counters. */
function hash3(seed: number, stream: number, i: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 0x632be5ab, 0xc2b2ae35);
  h ^= Math.imul(i ^ (i >>> 16), 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h ^ (i * 0x165667b1), 0x9e3779b1);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) for element `i` of `stream` under `seed`. */
export function uniformAt(seed: number, stream: number, i: number): number {
  return hash3(seed >>> 0, stream >>> 0, i >>> 0) / 4294967296;
}

/** Fills a Bernoulli(p) mask: 1 with probability p. (DELLA, whose p differs per entry, draws uniformAt itself.) */
export function bernoulliMask(seed: number, stream: number, p: number, n: number): Uint8Array {
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = uniformAt(seed, stream, i) < p ? 1 : 0;
  return mask;
}

/*
 * A sequential generator for everything that only has to repeat itself run to run (data splits,
 * the demo's permutation task, training shuffles and initialisation, synthetic benchmarks).
 */

/** mulberry32: 32-bit state, uniform floats in [0, 1). Plenty for shuffles and initialisation. */
export function createRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randomInt(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/** Fisher–Yates shuffle of `items` in place; returns it. */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const a = items[i]!;
    items[i] = items[j]!;
    items[j] = a;
  }
  return items;
}
