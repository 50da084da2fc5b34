/**
 * A merge's weights written at their places in any order (src/engine/merge/placed-output.ts): the
 * same files, byte for byte, as the streaming sharded writer gives, whatever the order and the
 * parts; incomplete or doubled tensors refused; and the pool writing into it.
 */
import { describe, expect, it } from 'vitest';
import { memorySink } from '../../src/engine/io/index.js';
import { createShardedWriter } from '../../src/engine/io/sharded.js';
import type { TensorSpec } from '../../src/engine/io/safetensors-writer.js';
import { createPlacedOutput, type RandomAccessSink } from '../../src/engine/merge/placed-output.js';
import { createRandom } from '../../src/engine/random.js';

/** Files in memory, written at offsets; `files` holds each once closed. */
function memoryFiles() {
  const files = new Map<string, Uint8Array>();
  const open = async (name: string): Promise<RandomAccessSink> => {
    let bytes = new Uint8Array(0);
    return {
      name,
      async writeAt(offset, chunk) {
        if (offset + chunk.byteLength > bytes.byteLength) {
          const grown = new Uint8Array(offset + chunk.byteLength);
          grown.set(bytes);
          bytes = grown;
        }
        bytes.set(chunk, offset);
      },
      async close() {
        files.set(name, bytes);
      },
      async abort() {},
    };
  };
  return { files, open };
}

const SPECS: TensorSpec[] = [
  { name: 'a', dtype: 'F32', shape: [3, 5] },
  { name: 'b', dtype: 'BF16', shape: [7] },
  { name: 'c', dtype: 'F16', shape: [2, 2, 3] },
  { name: 'empty', dtype: 'F32', shape: [0] },
  { name: 'd', dtype: 'F32', shape: [40] },
];

function values(spec: TensorSpec, seed: number): Float32Array {
  const random = createRandom(seed);
  return Float32Array.from({ length: spec.shape.reduce((x, y) => x * y, 1) }, () => random() * 8 - 4);
}

async function streamed(maxShardSize: number): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const sinks: ReturnType<typeof memorySink>[] = [];
  const w = createShardedWriter(async (name) => {
    const s = memorySink(name);
    sinks.push(s);
    return s;
  }, SPECS, { maxShardSize, metadata: { format: 'pt', note: 'x' } });
  for (const [i, s] of SPECS.entries()) await w.writeTensor(s.name, values(s, i));
  await w.finish();
  for (const s of sinks) out.set(s.name, s.bytes());
  return out;
}

describe('weights written at their places', () => {
  for (const maxShardSize of [1e9, 64]) {
    it(`the streaming writer's files in any order and parts (${maxShardSize === 64 ? 'sharded' : 'one file'})`, async () => {
      const want = await streamed(maxShardSize);
      const { files, open } = memoryFiles();
      const out = await createPlacedOutput(open, SPECS, { maxShardSize, metadata: { format: 'pt', note: 'x' } });
      // Backwards, every tensor but one in parts of 3 values, two of them at once.
      const order = [...SPECS.entries()].reverse();
      await Promise.all(
        order.map(([i, s]) => {
          const v = values(s, i);
          if (s.name === 'a') return out.writeTensor(s.name, v);
          return out.writeTensorParts(
            s.name,
            (async function* () {
              for (let k = 0; k < v.length; k += 3) yield v.slice(k, k + 3);
            })(),
          );
        }),
      );
      await out.finish();
      expect([...files.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, bytes] of want) expect(Buffer.from(files.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
    });
  }

  it('refuses a tensor written twice, too many values, and finishing with one missing', async () => {
    const { open } = memoryFiles();
    const out = await createPlacedOutput(open, SPECS, { maxShardSize: 1e9 });
    await out.writeTensor('a', values(SPECS[0]!, 0));
    await expect(out.writeTensor('a', values(SPECS[0]!, 0))).rejects.toThrow(/written twice/);
    const again = await createPlacedOutput(open, SPECS, { maxShardSize: 1e9 });
    await expect(again.writeTensor('b', new Float32Array(8))).rejects.toThrow(/more than its 7 values/);
    const third = await createPlacedOutput(open, SPECS, { maxShardSize: 1e9 });
    await third.writeTensor('a', values(SPECS[0]!, 0));
    await expect(third.finish()).rejects.toThrow(/incomplete: 3 tensors not written/);
  });
});
