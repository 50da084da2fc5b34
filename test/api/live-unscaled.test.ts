/**
 * The live session's kept results before λ (run-merge.ts UnscaledCache): on cpu and on wasm, every
 * method of the task-arithmetic family merged through the cache gives the bits a one-off merge
 * gives, over inputs with −0, subnormals and values whose sums overflow to ±∞ and NaN (a NaN's
 * sign bit aside: IEEE 754 leaves it unspecified, and JavaScript engines do not keep it); a λ move makes no new
 * `prepare`, a density move or another seed does; invalidate() and other input arrays empty it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLiveSession } from '../../src/engine/live/live-session.js';
import { mergeToMemory } from '../../src/engine/merge/merge-to-memory.js';
import { METHODS, getMethod } from '../../src/engine/methods/registry.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import type { Recipe, RecipeModel } from '../../src/engine/recipe/types.js';
import { createRandom } from '../../src/engine/random.js';
import { toyCheckpoint } from '../merge/helpers.js';
import { startBackend, stopBackend } from '../backends/harness.js';

const SHAPES: [string, number[]][] = [
  ['model.embed_tokens.weight', [16, 8]],
  ['model.layers.0.mlp.up_proj.weight', [24, 8]],
  ['model.norm.weight', [8]],
];

/** Seeded values around `center`, with the awkward ones sprinkled in (one of each per tensor). */
function values(seed: number, n: number, special: boolean): Float32Array {
  const r = createRandom(seed);
  const out = Float32Array.from({ length: n }, () => (r() - 0.5) * 0.1);
  if (special) [-0, 1e-40, -3e-39, 3e38, -3e38, 1e-45].forEach((v, i) => (out[(i * 7 + seed) % n] = v));
  return out;
}

async function models(special: boolean): Promise<Map<string, Checkpoint>> {
  const out = new Map<string, Checkpoint>();
  for (const [i, id] of ['base', 'a', 'b', 'c'].entries()) {
    out.set(id, await toyCheckpoint(id, SHAPES.map(([name, shape]) => ({ name, shape, data: values(10 * i + name.length, shape.reduce((x, y) => x * y, 1), special) }))));
  }
  return out;
}

const recipe = (method: string, lambda: number, density: number, seed = 7): Recipe => ({
  mergeMethod: method,
  baseModel: 'base',
  models: ['a', 'b', 'c'].map((model, i): RecipeModel => ({ model, parameters: method === 'task_arithmetic' ? { weight: 1 - 0.2 * i } : { weight: i === 1 ? 0.7 : 1, density } })),
  parameters: { lambda },
  ...(method.startsWith('dare') || method.startsWith('della') ? { randomSeed: seed } : {}),
  dtype: 'float32',
  outDtype: 'float16',
});

/** Each entry's bits, every NaN as one (its sign and payload are not part of the answer). */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (b, i) => (Number.isNaN(a[i]) ? 0x7fc00000 : b));
const METHOD_IDS = ['task_arithmetic', 'ties', 'dare_ties', 'dare_linear', 'breadcrumbs_ties', 'della'];

describe.each(['cpu', 'wasm'] as const)('kept results before λ on %s', (backend) => {
  beforeAll(async () => {
    if (backend === 'wasm') await startBackend('wasm');
  });
  afterAll(async () => {
    if (backend === 'wasm') await stopBackend('wasm');
  });

  it.each(METHOD_IDS)('%s: λ and density moves give a one-off merge\'s bits', async (method) => {
    for (const special of [false, true]) {
      const checkpoints = await models(special);
      const live = createLiveSession(checkpoints);
      for (const [lambda, density] of [[0.7, 0.5], [0.3, 0.5], [1, 0.5], [1.37, 0.5], [0.3, 0.8], [0.55, 0.8]] as const) {
        const r = recipe(method, lambda, density);
        const a = await live.merge(r);
        // The same merge without the kept results: with kept sort orders, as the session ran before
        // them, and one-off. (The two differ where a rescale factor is not finite — an L1 norm that
        // overflows —, so the awkward values are compared with the first alone.)
        const withOrders = await mergeToMemory({ recipe: r, methods: METHODS, checkpoints, orderCache: new Map() });
        const references = special ? [withOrders] : [withOrders, await mergeToMemory({ recipe: r, methods: METHODS, checkpoints })];
        for (const b of references) for (const name of Object.keys(b)) expect(bits(a[name]!), `${method} ${name} λ ${lambda} density ${density}${special ? ', special values' : ''}`).toEqual(bits(b[name]!));
      }
      expect(live.cachedUnscaled).toBe(SHAPES.length);
    }
    // The awkward values did reach the results: the check above covered ±∞, NaN and subnormals.
    const special = await models(true);
    const out = await mergeToMemory({ recipe: recipe(method, 0.7, 0.5), methods: METHODS, checkpoints: special });
    const all = Object.values(out).flatMap((a) => Array.from(a));
    expect(all.some((v) => !Number.isFinite(v) || (v !== 0 && Math.abs(v) < 1.2e-38))).toBe(true);
  });

  it('a λ move prepares nothing anew; a density move, another seed and invalidate() do', async () => {
    const live = createLiveSession(await models(false));
    const prepare = vi.spyOn(getMethod('dare_ties'), 'prepare');
    try {
      await live.merge(recipe('dare_ties', 0.5, 0.5));
      expect(prepare).toHaveBeenCalledTimes(SHAPES.length);
      await live.merge(recipe('dare_ties', 0.9, 0.5));
      expect(prepare).toHaveBeenCalledTimes(SHAPES.length);
      await live.merge(recipe('dare_ties', 0.9, 0.6));
      expect(prepare).toHaveBeenCalledTimes(2 * SHAPES.length);
      await live.merge(recipe('dare_ties', 0.9, 0.6, 8));
      expect(prepare).toHaveBeenCalledTimes(3 * SHAPES.length);
      live.invalidate('a');
      expect(live.cachedUnscaled).toBe(0);
      await live.merge(recipe('dare_ties', 0.4, 0.6, 8));
      expect(prepare).toHaveBeenCalledTimes(4 * SHAPES.length);
    } finally {
      prepare.mockRestore();
    }
  });

  it('other input arrays under the same names are merged anew, not served the kept result', async () => {
    const first = await models(false);
    const shared = new Map(first);
    const live = createLiveSession(shared);
    const r = recipe('ties', 0.5, 0.5);
    await live.merge(r);
    // The same session over a checkpoint that hands out other arrays (as after a model is opened again).
    const other = await models(true);
    const swapped = createLiveSession(new Map([...first].map(([id, c]) => [id, id === 'b' ? other.get('b')! : c])));
    const a = await swapped.merge(r);
    const b = await mergeToMemory({ recipe: r, methods: METHODS, checkpoints: new Map([...first].map(([id, c]) => [id, id === 'b' ? other.get('b')! : c])) });
    for (const name of Object.keys(b)) expect(bits(a[name]!)).toEqual(bits(b[name]!));
  });
});
