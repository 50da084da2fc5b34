/**
 * A large tensor's sort orders are made after the answer (diagnose.ts DeferredOrders): the first
 * request trims by selection, the orders are filled while nothing is asked, the next request reads
 * them — and every answer is the one diagnose gives without any cache, bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { createDiagnosticsCache, diagnose, ORDERS_AHEAD_ABOVE, releaseDiagnosticsCache } from '../../src/engine/diagnostics/diagnose.js';
import type { Checkpoint } from '../../src/engine/io/index.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { toyCheckpoint } from '../merge/helpers.js';

/** Above the threshold, with ties in |τ| (values on a coarse grid), so torch's order matters. */
const N = ORDERS_AHEAD_ABOVE + 4096;
function noise(seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: N }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return Math.round(((s >>> 0) / 2 ** 32) * 64 - 32) / 64;
  });
}
async function models(): Promise<Map<string, Checkpoint>> {
  const base = noise(7);
  const out = new Map<string, Checkpoint>();
  for (const [id, seed] of [['base', 0], ['a', 1], ['b', 2], ['c', 3]] as const) {
    const own = noise(seed);
    const data = seed === 0 ? base : base.map((x, i) => x + own[i]!);
    out.set(id, await toyCheckpoint(id, [{ name: 'model.layers.0.mlp.weight', shape: [N / 64, 64], data }]));
  }
  return out;
}
const ties = (density: number): Recipe => ({ mergeMethod: 'ties', baseModel: 'base', models: ['a', 'b', 'c'].map((model) => ({ model, parameters: { weight: 1, density } })) });

describe('sort orders made after the answer', () => {
  it('leaves the first answer to selection, fills the orders afterwards, and answers alike every time', async () => {
    const checkpoints = await models();
    const cache = createDiagnosticsCache();
    const orders = cache.orders as Map<string, Int32Array>;
    const plain = (d: number) => diagnose({ recipe: ties(d), methods: METHODS, checkpoints });

    const first = await diagnose({ recipe: ties(0.3), methods: METHODS, checkpoints, cache });
    expect(orders.size, 'no order sorted before the first answer').toBe(0);
    expect(first).toEqual(await plain(0.3));

    // Filled one order per macrotask once the answer is out: three models' orders.
    await expect.poll(() => orders.size, { timeout: 20_000 }).toBe(3);
    for (const d of [0.2, 0.5]) expect(await diagnose({ recipe: ties(d), methods: METHODS, checkpoints, cache })).toEqual(await plain(d));
  }, 60_000);

  it('a request stops the filling at its next order, and what was left is offered again', async () => {
    const checkpoints = await models();
    const cache = createDiagnosticsCache();
    const orders = cache.orders as Map<string, Int32Array>;
    await diagnose({ recipe: ties(0.3), methods: METHODS, checkpoints, cache });
    // The next request comes before the first order is sorted: it answers by selection and sorts nothing.
    const again = await diagnose({ recipe: ties(0.4), methods: METHODS, checkpoints, cache });
    expect(again).toEqual(await diagnose({ recipe: ties(0.4), methods: METHODS, checkpoints }));
    await expect.poll(() => orders.size, { timeout: 20_000 }).toBe(3);
  }, 60_000);

  it('a cache given up sorts nothing more (its models were replaced)', async () => {
    const checkpoints = await models();
    const cache = createDiagnosticsCache();
    const orders = cache.orders as Map<string, Int32Array>;
    await diagnose({ recipe: ties(0.3), methods: METHODS, checkpoints, cache });
    releaseDiagnosticsCache(cache);
    // The time the three orders take when left to fill (the tests above), several times over.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(orders.size).toBe(0);
  }, 60_000);
});
