/** Every catalogue file opens, or fails with exactly its expected code and a message naming it. */
import { describe, expect, it } from 'vitest';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { memorySource } from '../../src/engine/io/sources.js';
import { CATALOGUE } from './catalogue.js';
import { expectCode } from './helpers.js';

describe('safetensors catalogue', () => {
  it.each(CATALOGUE.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const name = `case-${c.name.replace(/\W+/g, '-')}.safetensors`;
    const open = openSafetensors(memorySource(name, c.bytes()));
    if (c.code === undefined) {
      const f = await open;
      for (const t of f.tensorNames) await f.readFloat32(t);
      return;
    }
    const err = await expectCode(open, c.code, name, ...(c.mentions ?? []));
    expect(err.message.length).toBeGreaterThan(name.length + 20);
  });
});
