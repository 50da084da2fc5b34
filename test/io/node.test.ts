/**
 * Node-only io: file sources and atomic sinks, and opening checkpoints by path (file, folder,
 * index, several files), in a fresh temporary folder per test.
 */
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { nodeFileSink, nodeFileSource } from '../../src/engine/io/node-file.js';
import { serializeSafetensors } from '../../src/engine/io/safetensors-writer.js';
import { createShardedWriter } from '../../src/engine/io/sharded.js';
import { expectCode } from './helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'merge-lab-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = (name: string, value: number) => serializeSafetensors([{ name, dtype: 'F32', shape: [2], data: new Float32Array([value, -value]) }], { format: 'pt' });

describe('nodeFileSource / nodeFileSink', () => {
  it('reads ranges at offsets and rejects reads past the end', async () => {
    const p = join(dir, 'bytes.bin');
    await writeFile(p, Uint8Array.from({ length: 100 }, (_, i) => i));
    const src = await nodeFileSource(p);
    expect(src.size).toBe(100);
    expect(Array.from(await src.read(10, 5))).toEqual([10, 11, 12, 13, 14]);
    expect((await src.read(100, 0)).length).toBe(0);
    await expectCode(src.read(98, 5), 'READ_FAILED', p);
    await src.close!();
    await expectCode(nodeFileSource(join(dir, 'nope')), 'PATH_NOT_FOUND', 'nope');
  });

  it('writes to a .partial file and renames it on close', async () => {
    const p = join(dir, 'sub', 'out.safetensors');
    const sink = await nodeFileSink(p);
    await sink.write(new Uint8Array([1, 2]));
    await sink.write(new Uint8Array([3]));
    const during = await readdir(join(dir, 'sub'));
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^out\.safetensors\.partial-[0-9a-f]+$/);
    await sink.close();
    expect(await readdir(join(dir, 'sub'))).toEqual(['out.safetensors']);
    expect(Array.from(await readFile(p))).toEqual([1, 2, 3]);
    await expectCode(sink.write(new Uint8Array(1)), 'WRITE_FAILED');
  });

  it('abort deletes the partial file and leaves no output', async () => {
    const sink = await nodeFileSink(join(dir, 'out.safetensors'));
    await sink.write(new Uint8Array(10));
    await sink.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('openCheckpointPath', () => {
  it('opens a .safetensors file', async () => {
    await writeFile(join(dir, 'a.safetensors'), file('w', 1));
    const c = await openCheckpointPath(join(dir, 'a.safetensors'));
    expect(c.tensorNames).toEqual(['w']);
    expect(Array.from(await c.readFloat32('w'))).toEqual([1, -1]);
    await c.close();
  });

  it('prefers model.safetensors in a folder', async () => {
    await writeFile(join(dir, 'model.safetensors'), file('m', 2));
    await writeFile(join(dir, 'other.safetensors'), file('o', 3));
    await writeFile(join(dir, 'config.json'), '{}');
    const c = await openCheckpointPath(dir);
    expect(c.tensorNames).toEqual(['m']);
    await c.close();
  });

  it('opens a folder through its index (written by the sharded writer to disk)', async () => {
    const specs = [
      { name: 'a', dtype: 'F32' as const, shape: [4] },
      { name: 'b', dtype: 'F16' as const, shape: [4] },
      { name: 'c', dtype: 'BF16' as const, shape: [4] },
    ];
    const w = createShardedWriter((f) => nodeFileSink(join(dir, f)), specs, { maxShardSize: 16 });
    await w.writeTensor('a', new Float32Array([1, 2, 3, 4]));
    await w.writeTensor('b', new Float32Array([5, 6, 7, 8]));
    await w.writeTensor('c', new Float32Array([9, 10, 11, 12]));
    await w.finish();
    expect((await readdir(dir)).sort()).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    for (const p of [dir, join(dir, 'model.safetensors.index.json')]) {
      const c = await openCheckpointPath(p);
      expect(c.tensorNames).toEqual(['a', 'b', 'c']);
      expect(Array.from(await c.readFloat32('c'))).toEqual([9, 10, 11, 12]);
      await c.close();
    }
  });

  it('an aborted sharded write leaves nothing on disk', async () => {
    const specs = [
      { name: 'a', dtype: 'F32' as const, shape: [4] },
      { name: 'b', dtype: 'F32' as const, shape: [4] },
    ];
    const w = createShardedWriter((f) => nodeFileSink(join(dir, f)), specs, { maxShardSize: 16 });
    await w.writeTensor('a', new Float32Array(4));
    await w.abort();
    expect(await readdir(dir)).toEqual([]);
  });

  it('combines several .safetensors files without an index, and rejects duplicates', async () => {
    await writeFile(join(dir, 'part2.safetensors'), file('y', 2));
    await writeFile(join(dir, 'part1.safetensors'), file('x', 1));
    const c = await openCheckpointPath(dir);
    expect(c.tensorNames).toEqual(['x', 'y']);
    expect(Array.from(await c.readFloat32('y'))).toEqual([2, -2]);
    await c.close();
    await writeFile(join(dir, 'part3.safetensors'), file('x', 3));
    await expectCode(openCheckpointPath(dir), 'DUPLICATE_TENSOR', '"x"', 'part1.safetensors', 'part3.safetensors');
  });

  it('follows symlinks (Hugging Face cache snapshots)', async () => {
    await mkdir(join(dir, 'blobs'));
    await mkdir(join(dir, 'snap'));
    await writeFile(join(dir, 'blobs', 'abc123'), file('w', 5));
    await symlink(join(dir, 'blobs', 'abc123'), join(dir, 'snap', 'model.safetensors'));
    const c = await openCheckpointPath(join(dir, 'snap'));
    expect(c.tensorNames).toEqual(['w']);
    await c.close();
  });

  it('reports missing paths, empty folders, pickles, missing shards and corrupt files', async () => {
    await expectCode(openCheckpointPath(join(dir, 'missing')), 'PATH_NOT_FOUND', 'missing');
    await expectCode(openCheckpointPath(dir), 'NO_CHECKPOINT', dir);
    await writeFile(join(dir, 'pytorch_model.bin'), 'x');
    await expectCode(openCheckpointPath(dir), 'PICKLE_INVALID', join(dir, 'pytorch_model.bin'));
    await expectCode(openCheckpointPath(join(dir, 'pytorch_model.bin')), 'PICKLE_INVALID', 'not a PyTorch checkpoint');
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors' } }));
    await expectCode(openCheckpointPath(dir), 'SHARD_MISSING', 'model-00001-of-00002.safetensors');
    await writeFile(join(dir, 'model.safetensors'), new Uint8Array(5));
    await expectCode(openCheckpointPath(dir), 'FILE_TOO_SMALL', join(dir, 'model.safetensors'));
  });
});

describe('nodeFileSink gathers small writes', () => {
  it('keeps the bytes in order across small, large and buffer-filling writes', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { nodeFileSink } = await import('../../src/engine/io/node-file.js');
    const dir = await mkdtemp(join(tmpdir(), 'merge-lab-sink-'));
    try {
      const chunks = [3, 1 << 21, 5, (1 << 20) - 7, 3 << 20, 11, 4 << 20, 2].map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + k) & 0xff));
      const sink = await nodeFileSink(join(dir, 'out.bin'));
      for (const c of chunks) await sink.write(c);
      await sink.close();
      const got = await readFile(join(dir, 'out.bin'));
      const want = Buffer.concat(chunks);
      expect(got.length).toBe(want.length);
      expect(got.equals(want)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
