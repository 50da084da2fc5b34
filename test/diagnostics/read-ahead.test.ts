/**
 * diagnose reads a tensor's inputs while the one before it is worked on: each model's tensor is
 * read once on a cold cache, none once its τ are kept, the answer is the one read in order gives,
 * and a read that fails ahead of a cancelled request is reported by nobody.
 */
import { describe, expect, it } from 'vitest';
import { createDiagnosticsCache, diagnose } from '../../src/engine/diagnostics/diagnose.js';
import { METHODS } from '../../src/engine/methods/registry.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { LAYOUT, toyCheckpoint } from '../merge/helpers.js';

async function opened(reads: string[], failOn?: string): Promise<Map<string, Checkpoint>> {
  const out = new Map<string, Checkpoint>();
  for (const [i, id] of ['base', 'a', 'b'].entries()) {
    const c = await toyCheckpoint(id, LAYOUT, i);
    out.set(id, {
      ...c,
      info: (n) => c.info(n),
      readRaw: (n) => c.readRaw(n),
      async readFloat32(n) {
        reads.push(`${id} ${n}`);
        if (`${id} ${n}` === failOn) throw new Error(`cannot read ${n}`);
        return c.readFloat32(n);
      },
    });
  }
  return out;
}

const recipe: Recipe = { mergeMethod: 'ties', baseModel: 'base', models: ['a', 'b'].map((model) => ({ model, parameters: { weight: 1, density: 0.5 } })), parameters: { lambda: 1 } };

describe('diagnose reading ahead', () => {
  it('reads each input once, none when the τ are kept, and answers as before', async () => {
    const reads: string[] = [];
    const checkpoints = await opened(reads);
    const cache = createDiagnosticsCache();
    const first = await diagnose({ recipe, methods: METHODS, checkpoints, cache });
    expect([...reads].sort()).toEqual(['base', 'a', 'b'].flatMap((id) => LAYOUT.map((t) => `${id} ${t.name}`)).sort());
    reads.length = 0;
    const again = await diagnose({ recipe, methods: METHODS, checkpoints, cache });
    expect(reads).toEqual([]);
    expect(again).toEqual(first);
    // Without a cache, the same numbers.
    expect(await diagnose({ recipe, methods: METHODS, checkpoints: await opened([]) })).toEqual(first);
  });
  it('a read that fails ahead of a cancelled request rejects nothing else', async () => {
    const reads: string[] = [];
    const checkpoints = await opened(reads, `b ${LAYOUT[1]!.name}`);
    let checks = 0;
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      // Cancelled at the second tensor: its inputs, asked for while the first was worked on, failed meanwhile.
      const cancel = {
        get cancelled() {
          return checks++ > 0 && reads.includes(`b ${LAYOUT[1]!.name}`);
        },
      };
      await expect(diagnose({ recipe, methods: METHODS, checkpoints, cancel })).rejects.toMatchObject({ code: 'CANCELLED' });
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
