/**
 * Sharded checkpoints: planning (HF names, size limit, oversized tensors), writing through memory
 * sinks, reading back through the index (exact equality), index validation, and opening dropped
 * file lists.
 */
import { describe, expect, it } from 'vitest';
import { openCheckpointFiles } from '../../src/engine/io/file-list-checkpoint.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { serializeSafetensors } from '../../src/engine/io/safetensors-writer.js';
import {
  createShardedWriter,
  INDEX_FILE_NAME,
  openShardedCheckpoint,
  parseShardIndex,
  planShards,
  serializeShardIndex,
} from '../../src/engine/io/sharded.js';
import { memorySink, memorySource, type MemorySink } from '../../src/engine/io/sources.js';
import type { ByteSource, DType } from '../../src/engine/io/types.js';
import { expectCode } from './helpers.js';

const SPECS = [
  { name: 'embed.weight', dtype: 'F32' as DType, shape: [10, 4] }, // 160 bytes
  { name: 'layers.0.weight', dtype: 'BF16' as DType, shape: [4, 4] }, // 32
  { name: 'layers.0.bias', dtype: 'F16' as DType, shape: [4] }, // 8
  { name: 'layers.1.weight', dtype: 'F32' as DType, shape: [4, 4] }, // 64
  { name: 'huge', dtype: 'F32' as DType, shape: [100] }, // 400: bigger than any shard
  { name: 'lm_head.weight', dtype: 'F32' as DType, shape: [4, 10] }, // 160
];

function dataFor(spec: { shape: readonly number[] }, i: number): Float32Array {
  // Multiples of 1/8 below 8 in magnitude: exact in bf16 and f16, so equality is exact.
  return Float32Array.from({ length: spec.shape.reduce((a, b) => a * b, 1) }, (_, k) => (((k * 37 + i * 11) % 127) - 63) / 8);
}

async function writeSharded(maxShardSize: number): Promise<Map<string, MemorySink>> {
  const sinks = new Map<string, MemorySink>();
  const w = createShardedWriter(async (f) => {
    const s = memorySink(f);
    sinks.set(f, s);
    return s;
  }, SPECS, { maxShardSize, metadata: { format: 'pt' } });
  for (const [i, s] of SPECS.entries()) await w.writeTensor(s.name, dataFor(s, i));
  await w.finish();
  return sinks;
}

const resolverOf = (files: Map<string, Uint8Array>) => async (f: string): Promise<ByteSource | undefined> => {
  const b = files.get(f);
  return b && memorySource(f, b);
};

describe('planShards', () => {
  it('splits by data size in order, HF names, oversized tensor alone, total_size', () => {
    const plan = planShards(SPECS, 200);
    expect(plan.shards.map((s) => s.fileName)).toEqual([
      'model-00001-of-00004.safetensors',
      'model-00002-of-00004.safetensors',
      'model-00003-of-00004.safetensors',
      'model-00004-of-00004.safetensors',
    ]);
    expect(plan.shards.map((s) => s.tensors.map((t) => t.name))).toEqual([
      ['embed.weight', 'layers.0.weight', 'layers.0.bias'],
      ['layers.1.weight'],
      ['huge'],
      ['lm_head.weight'],
    ]);
    expect(plan.shards.map((s) => s.dataSize)).toEqual([200, 64, 400, 160]);
    expect(plan.index.metadata).toEqual({ total_size: 824 });
    expect(Object.keys(plan.index.weight_map)).toEqual(SPECS.map((s) => s.name));
    expect(plan.index.weight_map['huge']).toBe('model-00003-of-00004.safetensors');
  });

  it('one shard is model.safetensors; a bad limit is PARAMETER_INVALID', async () => {
    expect(planShards(SPECS, 1e9).shards.map((s) => s.fileName)).toEqual(['model.safetensors']);
    expect(planShards([], 10).shards).toHaveLength(1);
    await expectCode(() => planShards(SPECS, 0), 'PARAMETER_INVALID');
    await expectCode(() => planShards([SPECS[0]!, SPECS[0]!], 100), 'DUPLICATE_TENSOR', '"embed.weight"');
  });
});

describe('sharded write and read back', () => {
  it('round trips exactly through the index', async () => {
    const sinks = await writeSharded(200);
    expect([...sinks.keys()].sort()).toEqual([INDEX_FILE_NAME, ...planShards(SPECS, 200).shards.map((s) => s.fileName)].sort());
    for (const s of sinks.values()) expect(s.closed).toBe(true);
    const files = new Map([...sinks].map(([k, s]) => [k, s.bytes()]));
    const index = JSON.parse(new TextDecoder().decode(files.get(INDEX_FILE_NAME)));
    expect(index.metadata.total_size).toBe(824);

    const ckpt = await openShardedCheckpoint(memorySource(INDEX_FILE_NAME, files.get(INDEX_FILE_NAME)!), resolverOf(files));
    expect(ckpt.tensorNames).toEqual(SPECS.map((s) => s.name));
    expect(ckpt.metadata).toEqual({ format: 'pt' });
    expect(ckpt.files).toHaveLength(4);
    expect(ckpt.fileOf('huge')!.name).toBe('model-00003-of-00004.safetensors');
    for (const [i, s] of SPECS.entries()) {
      expect(ckpt.info(s.name)).toMatchObject({ dtype: s.dtype, shape: s.shape });
      expect(Array.from(await ckpt.readFloat32(s.name))).toEqual(Array.from(dataFor(s, i)));
    }
    await expectCode(ckpt.readRaw('missing'), 'TENSOR_NOT_FOUND', 'missing');
    await ckpt.close();
  });

  it('a single shard is written without an index', async () => {
    const sinks = await writeSharded(1e9);
    expect([...sinks.keys()]).toEqual(['model.safetensors']);
    const f = await openSafetensors(memorySource('m', sinks.get('model.safetensors')!.bytes()));
    expect(f.tensorNames).toEqual(SPECS.map((s) => s.name));
  });

  it('abort and failures leave every shard aborted; an incomplete finish fails', async () => {
    const sinks: MemorySink[] = [];
    const open = async (f: string) => {
      const s = memorySink(f);
      sinks.push(s);
      return s;
    };
    const w = createShardedWriter(open, SPECS, { maxShardSize: 200 });
    for (const s of SPECS.slice(0, 4)) await w.writeTensor(s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
    await expectCode(w.finish(), 'WRITE_FAILED', '"huge"');
    expect(sinks.length).toBe(2);
    expect(sinks.every((s) => s.aborted && !s.closed)).toBe(true);

    sinks.length = 0;
    const w2 = createShardedWriter(open, SPECS, { maxShardSize: 200 });
    await w2.writeTensor('embed.weight', new Float32Array(40));
    await expectCode(w2.writeTensor('layers.1.weight', new Float32Array(16)), 'WRITE_FAILED', 'expected "layers.0.weight"');
    expect(sinks.every((s) => s.aborted)).toBe(true);
  });

  it('writes an empty checkpoint as one empty model.safetensors', async () => {
    const sink = memorySink('model.safetensors');
    const w = createShardedWriter(async () => sink, [], { maxShardSize: 10 });
    await w.finish();
    expect((await openSafetensors(memorySource('e', sink.bytes()))).tensorNames).toEqual([]);
  });
});

describe('index validation', () => {
  const shardA = serializeSafetensors([{ name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) }]);
  const shardB = serializeSafetensors([{ name: 'b', dtype: 'F32', shape: [1], data: new Float32Array([2]) }]);
  const shardAB = serializeSafetensors([
    { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([3]) },
    { name: 'b', dtype: 'F32', shape: [1], data: new Float32Array([4]) },
  ]);
  const files = new Map([['a.safetensors', shardA], ['b.safetensors', shardB], ['ab.safetensors', shardAB]]);
  const open = (index: unknown) =>
    openShardedCheckpoint(memorySource('idx.json', new TextEncoder().encode(typeof index === 'string' ? index : JSON.stringify(index))), resolverOf(files));

  it.each([
    ['invalid JSON', '{"weight_map": '],
    ['an array', '[]'],
    ['no weight_map', { metadata: {} }],
    ['weight_map an array', { weight_map: [] }],
    ['a non-string file name', { weight_map: { a: 3 } }],
    ['metadata not an object', { metadata: 5, weight_map: { a: 'a.safetensors' } }],
    ['an empty weight_map', { weight_map: {} }],
    ['a tensor listed twice', '{"weight_map": {"a": "a.safetensors", "a": "b.safetensors"}}'],
  ])('%s is INDEX_INVALID', async (_, index) => {
    await expectCode(open(index), 'INDEX_INVALID', 'idx.json');
  });

  it('a missing shard is SHARD_MISSING naming it', async () => {
    await expectCode(open({ weight_map: { a: 'a.safetensors', x: 'gone.safetensors' } }), 'SHARD_MISSING', 'gone.safetensors', 'idx.json');
  });

  it('a tensor its shard lacks is TENSOR_NOT_FOUND, saying where it is', async () => {
    await expectCode(open({ weight_map: { a: 'a.safetensors', b: 'a.safetensors' } }), 'TENSOR_NOT_FOUND', '"b"', 'a.safetensors');
  });

  it('a tensor in two shards is DUPLICATE_TENSOR', async () => {
    await expectCode(open({ weight_map: { a: 'a.safetensors', b: 'ab.safetensors' } }), 'DUPLICATE_TENSOR', '"a"');
  });

  it('keeps weight_map order even for integer-like names', () => {
    const { order } = parseShardIndex('{"weight_map": {"b": "x", "10": "x", "2": "x", "a\\"q": "x"}, "metadata": {}}', 'i');
    expect(order).toEqual(['b', '10', '2', 'a"q']);
    expect(JSON.parse(serializeShardIndex({ metadata: { total_size: 1 }, weight_map: { z: 'f' } }))).toEqual({ metadata: { total_size: 1 }, weight_map: { z: 'f' } });
  });
});

describe('openCheckpointFiles (dropped files)', () => {
  it('opens a dropped folder with an index and shards', async () => {
    const sinks = await writeSharded(200);
    const dropped = [...sinks].map(([f, s]) => ({ name: `llama/${f}`, source: memorySource(f, s.bytes()) }));
    dropped.push({ name: 'llama/config.json', source: memorySource('config.json', new TextEncoder().encode('{}')) });
    const ckpt = await openCheckpointFiles(dropped);
    expect(ckpt.name).toBe('llama');
    expect(ckpt.tensorNames).toEqual(SPECS.map((s) => s.name));
    expect(Array.from(await ckpt.readFloat32('huge'))).toEqual(Array.from(dataFor(SPECS[4]!, 4)));
  });

  it('opens one file, or several combined', async () => {
    const a = serializeSafetensors([{ name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) }]);
    const b = serializeSafetensors([{ name: 'b', dtype: 'F32', shape: [1], data: new Float32Array([2]) }]);
    const one = await openCheckpointFiles([{ name: 'x.safetensors', source: memorySource('x.safetensors', a) }]);
    expect(one.name).toBe('x.safetensors');
    expect(one.tensorNames).toEqual(['a']);
    const two = await openCheckpointFiles([
      { name: 'm/2.safetensors', source: memorySource('2.safetensors', b) },
      { name: 'm/1.safetensors', source: memorySource('1.safetensors', a) },
      { name: 'm/sub/other.safetensors', source: memorySource('other', a) },
    ]);
    expect(two.tensorNames).toEqual(['a', 'b']);
    expect(Array.from(await two.readFloat32('b'))).toEqual([2]);
    await expectCode(
      openCheckpointFiles([
        { name: '1.safetensors', source: memorySource('1.safetensors', a) },
        { name: '2.safetensors', source: memorySource('2.safetensors', a) },
      ]),
      'DUPLICATE_TENSOR',
      '1.safetensors',
      '2.safetensors',
    );
  });

  it('an index without its shards is SHARD_MISSING; nothing usable is NO_CHECKPOINT', async () => {
    const idx = new TextEncoder().encode(JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors' } }));
    await expectCode(openCheckpointFiles([{ name: INDEX_FILE_NAME, source: memorySource(INDEX_FILE_NAME, idx) }]), 'SHARD_MISSING');
    await expectCode(openCheckpointFiles([]), 'NO_CHECKPOINT');
    await expectCode(openCheckpointFiles([{ name: 'm/training_args.bin', source: memorySource('b', new Uint8Array(4)) }]), 'NO_CHECKPOINT', 'training_args.bin', 'not weights');
  });
});
