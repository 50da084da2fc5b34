/**
 * safetensors write → read round trips, header layout, lazy reading (only the needed bytes), and
 * the streaming writer's contract. Tolerances: F32/F64 and integer dtypes exact; F16/BF16/F8 equal
 * to the scalar reference rounding (itself checked against brute force in dtypes.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  decodeToFloat32,
  DTYPES,
  numberToBfloat16Bits,
  numberToFloat16Bits,
  numberToFloat8E4M3,
  numberToFloat8E5M2,
  float16BitsToNumber,
  bfloat16BitsToNumber,
  float8E4M3ToNumber,
  float8E5M2ToNumber,
} from '../../src/engine/io/dtypes.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { createSafetensorsWriter, serializeSafetensors, writeSafetensorsToMemory, type TensorWithData } from '../../src/engine/io/safetensors-writer.js';
import { blobSource, memorySink, memorySource } from '../../src/engine/io/sources.js';
import type { DType } from '../../src/engine/io/types.js';
import { countingSource, entry, expectCode, randomFloats, rawFile } from './helpers.js';

/** Values exactly representable in each dtype, so a round trip must be exact. */
function exactValues(dtype: DType, n: number): Float32Array {
  const ints: Partial<Record<DType, [number, number]>> = {
    I8: [-128, 127], U8: [0, 255], I16: [-32768, 32767], I32: [-(2 ** 31), 2 ** 31 - 128], I64: [-(2 ** 40), 2 ** 40], BOOL: [0, 1],
  };
  const r = randomFloats(n, 99);
  const range = ints[dtype];
  if (range) return r.map((x, i) => (i === 0 ? range[0] : i === 1 ? range[1] : Math.fround(Math.round(range[0] + (x - Math.floor(x)) * (range[1] - range[0])) || 0)));
  return r;
}

const ROUND: Partial<Record<DType, (x: number) => number>> = {
  F16: (x) => float16BitsToNumber(numberToFloat16Bits(x)),
  BF16: (x) => bfloat16BitsToNumber(numberToBfloat16Bits(x)),
  F8_E4M3: (x) => float8E4M3ToNumber(numberToFloat8E4M3(x)),
  F8_E5M2: (x) => float8E5M2ToNumber(numberToFloat8E5M2(x)),
};

describe('round trip', () => {
  it.each(DTYPES)('%s: write float32, read back', async (dtype) => {
    const values = exactValues(dtype, 60);
    const tensors: TensorWithData[] = [
      { name: 'w', dtype, shape: [3, 4, 5], data: values },
      { name: 'scalar', dtype, shape: [], data: values.subarray(0, 1) },
      { name: 'empty', dtype, shape: [0, 7], data: new Float32Array(0) },
    ];
    const bytes = serializeSafetensors(tensors);
    const f = await openSafetensors(memorySource('rt.safetensors', bytes));
    expect(f.tensorNames).toEqual(['w', 'scalar', 'empty']);
    expect(f.info('w')).toMatchObject({ dtype, shape: [3, 4, 5] });
    expect(f.info('empty')!.end - f.info('empty')!.begin).toBe(0);
    const back = await f.readFloat32('w');
    const round = ROUND[dtype] ?? ((x: number) => x);
    const expected = Array.from(values, (x) => Math.fround(round(x)));
    expect(Array.from(back)).toEqual(expected);
    expect(Array.from(await f.readFloat32('scalar'))).toEqual([expected[0]]);
    expect((await f.readFloat32('empty')).length).toBe(0);
    // The streaming writer produces the very same bytes.
    expect(await writeSafetensorsToMemory(tensors)).toEqual(bytes);
  });

  it('raw bytes pass through unchanged (I64 beyond float32 precision)', async () => {
    const raw = new Uint8Array(new BigInt64Array([2n ** 62n + 1n, -7n]).buffer);
    const f = await openSafetensors(memorySource('raw', serializeSafetensors([{ name: 'ids', dtype: 'I64', shape: [2], data: raw }])));
    expect(new BigInt64Array((await f.readRaw('ids')).buffer)).toEqual(new BigInt64Array([2n ** 62n + 1n, -7n]));
  });

  it('metadata round trips, and __metadata__ comes first in the header', async () => {
    const metadata = { format: 'pt', note: 'üñí "quoted"\n', empty: '' };
    const bytes = serializeSafetensors([{ name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) }], metadata);
    const f = await openSafetensors(memorySource('m', bytes));
    expect(f.metadata).toEqual(metadata);
    const text = new TextDecoder().decode(bytes.subarray(8, f.dataStart));
    expect(text.startsWith('{"__metadata__":')).toBe(true);
  });

  it('pads the header with spaces to a multiple of 8', async () => {
    for (let len = 1; len <= 9; len++) {
      const bytes = serializeSafetensors([{ name: 'x'.repeat(len), dtype: 'U8', shape: [1], data: new Uint8Array([1]) }]);
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).toBe(0);
      const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      const json = JSON.stringify(JSON.parse(header));
      expect(header).toBe(json + ' '.repeat(n - json.length));
      expect(n - json.length).toBeLessThan(8);
    }
  });

  it('reads a tensor at a misaligned offset', async () => {
    // U8 [3] first puts the F32 tensor at data offset 3, and a 13-byte header makes it worse.
    const f32 = new Float32Array([1.25, -3.5, 1e-20]);
    const header = { a: entry('U8', [3], 0, 3), b: entry('F32', [3], 3, 15), c: entry('F64', [1], 15, 23) };
    const data = new Uint8Array(23);
    data.set([9, 8, 7]);
    data.set(new Uint8Array(f32.buffer), 3);
    data.set(new Uint8Array(new Float64Array([2.5]).buffer), 15);
    const f = await openSafetensors(memorySource('mis', rawFile(header, data)));
    expect(f.dataStart % 4).not.toBe(0);
    expect(Array.from(await f.readFloat32('b'))).toEqual(Array.from(f32));
    expect(Array.from(await f.readFloat32('c'))).toEqual([2.5]);
    expect(Array.from(await f.readFloat32('a'))).toEqual([9, 8, 7]);
  });

  it('orders tensors by data offset, not header order', async () => {
    const header = { z: entry('U8', [1], 0, 1), a: entry('U8', [2], 1, 3), m: entry('U8', [0], 3, 3) };
    const f = await openSafetensors(memorySource('order', rawFile(header, 3)));
    expect(f.tensorNames).toEqual(['z', 'a', 'm']);
    expect(f.headerSize).toBe(new TextEncoder().encode(JSON.stringify(header)).byteLength);
    expect(f.dataStart).toBe(8 + f.headerSize);
  });

  it('reads from a Blob slice by slice', async () => {
    const bytes = serializeSafetensors([{ name: 'a', dtype: 'BF16', shape: [2], data: new Float32Array([1, 2]) }], { k: 'v' });
    const f = await openSafetensors(blobSource(new Blob([bytes as BlobPart]), 'dropped.safetensors'));
    expect(f.name).toBe('dropped.safetensors');
    expect(Array.from(await f.readFloat32('a'))).toEqual([1, 2]);
  });
});

describe('lazy reading', () => {
  it('opening reads only the 8-byte length and the header; a tensor read reads only its range', async () => {
    const tensors: TensorWithData[] = [
      { name: 'a', dtype: 'F32', shape: [1000], data: randomFloats(1000) },
      { name: 'b', dtype: 'F16', shape: [10, 10], data: randomFloats(100) },
      { name: 'c', dtype: 'F32', shape: [500], data: randomFloats(500) },
    ];
    const bytes = serializeSafetensors(tensors);
    const src = countingSource('big.safetensors', bytes);
    const f = await openSafetensors(src);
    expect(src.reads).toEqual([{ offset: 0, length: 8 }, { offset: 8, length: f.headerSize }]);
    expect(src.bytesRead).toBe(8 + f.headerSize);
    src.reset();
    await f.readFloat32('b');
    const b = f.info('b')!;
    expect(src.reads).toEqual([{ offset: b.begin, length: 200 }]);
    src.reset();
    await f.readRaw('c');
    expect(src.bytesRead).toBe(2000);
  });

  it('unknown tensor names are TENSOR_NOT_FOUND', async () => {
    const f = await openSafetensors(memorySource('f.safetensors', serializeSafetensors([])));
    await expectCode(f.readFloat32('nope'), 'TENSOR_NOT_FOUND', 'f.safetensors', 'nope');
  });

  it('a source failing with a plain Error becomes READ_FAILED naming the file', async () => {
    const bytes = serializeSafetensors([{ name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) }]);
    const inner = memorySource('flaky.safetensors', bytes);
    let fail = false;
    const f = await openSafetensors({
      name: inner.name,
      size: inner.size,
      read: (o, l) => (fail ? Promise.reject(new Error('EIO')) : inner.read(o, l)),
    });
    fail = true;
    await expectCode(f.readFloat32('a'), 'READ_FAILED', 'flaky.safetensors', 'EIO');
  });
});

describe('streaming writer', () => {
  const specs = [
    { name: 'a', dtype: 'F32' as const, shape: [2] },
    { name: 'b', dtype: 'BF16' as const, shape: [2, 2] },
  ];

  it('writes the header at once, then tensors in order, and closes on finish', async () => {
    const sink = memorySink('out.safetensors');
    const w = await createSafetensorsWriter(sink, specs, { format: 'pt' });
    expect(sink.size).toBe(w.layout.prefix.byteLength);
    expect(w.remaining).toEqual(['a', 'b']);
    await w.writeTensor('a', new Float32Array([1, 2]));
    await w.writeTensor('b', new Float32Array([1, 2, 3, 4]));
    await w.finish();
    expect(sink.closed).toBe(true);
    expect(sink.size).toBe(w.layout.fileSize);
    const f = await openSafetensors(memorySource('out', sink.bytes()));
    expect(Array.from(await f.readFloat32('b'))).toEqual([1, 2, 3, 4]);
  });

  it('rejects out-of-order, unknown, wrongly sized and missing tensors', async () => {
    const w = await createSafetensorsWriter(memorySink('o.safetensors'), specs);
    await expectCode(w.writeTensor('b', new Float32Array(4)), 'WRITE_FAILED', 'expected "a"');
    await expectCode(w.writeTensor('zzz', new Float32Array(4)), 'TENSOR_NOT_FOUND', 'zzz');
    await expectCode(w.writeTensor('a', new Float32Array(3)), 'SIZE_MISMATCH', '"a"');
    await expectCode(w.writeTensor('a', new Uint8Array(7)), 'SIZE_MISMATCH', '"a"');
    await w.writeTensor('a', new Float32Array(2));
    await expectCode(w.finish(), 'WRITE_FAILED', '"b"', 'o.safetensors');
  });

  it('takes a tensor as parts, encoded as they come, and the same bytes as whole', async () => {
    async function* parts(...arrays: number[][]) {
      for (const a of arrays) yield Float32Array.from(a);
    }
    const whole = memorySink('whole');
    const w1 = await createSafetensorsWriter(whole, specs);
    await w1.writeTensor('a', new Float32Array([1, 2]));
    await w1.writeTensor('b', new Float32Array([1.5, -2, 3.25, 4]));
    await w1.finish();
    const split = memorySink('split');
    const w2 = await createSafetensorsWriter(split, specs);
    await w2.writeTensorParts('a', parts([1], [2]));
    await w2.writeTensorParts('b', parts([1.5, -2, 3.25], [], [4]));
    await w2.finish();
    expect(split.bytes()).toEqual(whole.bytes());
  });

  it('refuses parts that fall short of or run past the tensor, and aborts the file', async () => {
    async function* parts(...arrays: number[][]) {
      for (const a of arrays) yield Float32Array.from(a);
    }
    const short = memorySink('short');
    await expectCode((await createSafetensorsWriter(short, specs)).writeTensorParts('a', parts([1])), 'SIZE_MISMATCH', '"a"', '1 values');
    expect(short.aborted).toBe(true);
    const long = memorySink('long');
    const w = await createSafetensorsWriter(long, specs);
    const before = long.size;
    await expectCode(w.writeTensorParts('a', parts([1], [2, 3])), 'SIZE_MISMATCH', 'more than 2');
    // Nothing past the tensor's own bytes was written before the refusal.
    expect(long.size).toBeLessThanOrEqual(before + 4);
    expect(long.aborted).toBe(true);
  });

  it('abort drops the output; a failing sink aborts it', async () => {
    const sink = memorySink('o');
    const w = await createSafetensorsWriter(sink, specs);
    await w.abort();
    expect(sink.aborted).toBe(true);
    await expectCode(w.writeTensor('a', new Float32Array(2)), 'WRITE_FAILED');

    let aborted = false;
    let writes = 0;
    const w2 = await createSafetensorsWriter(
      {
        name: 'disk-full',
        write: async () => {
          if (++writes > 1) throw new Error('ENOSPC');
        },
        close: async () => undefined,
        abort: async () => {
          aborted = true;
        },
      },
      specs,
    );
    await expect(w2.writeTensor('a', new Float32Array(2))).rejects.toThrow('ENOSPC');
    expect(aborted).toBe(true);
  });

  it('rejects bad specs up front', async () => {
    await expectCode(createSafetensorsWriter(memorySink('o'), [specs[0]!, specs[0]!]), 'DUPLICATE_TENSOR', '"a"');
    await expectCode(createSafetensorsWriter(memorySink('o'), [{ name: 'x', dtype: 'U16' as DType, shape: [1] }]), 'UNKNOWN_DTYPE', 'U16');
    await expectCode(createSafetensorsWriter(memorySink('o'), [{ name: 'x', dtype: 'F32', shape: [-1] }]), 'TENSOR_ENTRY_INVALID');
    await expectCode(createSafetensorsWriter(memorySink('o'), [{ name: '__metadata__', dtype: 'F32', shape: [1] }]), 'TENSOR_ENTRY_INVALID');
    await expectCode(createSafetensorsWriter(memorySink('o'), [], { n: 1 as unknown as string }), 'METADATA_INVALID', '"n"');
  });

  it('encodes large tensors in chunks without changing the result', async () => {
    const n = (1 << 22) + 5;
    const values = randomFloats(n, 5);
    const sink = memorySink('big');
    const w = await createSafetensorsWriter(sink, [{ name: 'x', dtype: 'BF16', shape: [n] }]);
    await w.writeTensor('x', values);
    await w.finish();
    const f = await openSafetensors(memorySource('big', sink.bytes()));
    const back = await f.readFloat32('x');
    const expectBits = new Uint16Array(n);
    for (let i = 0; i < n; i += 4099) expectBits[i] = numberToBfloat16Bits(values[i]!);
    for (let i = 0; i < n; i += 4099) expect(back[i]).toBe(bfloat16BitsToNumber(expectBits[i]!));
    expect(decodeToFloat32('BF16', (await f.readRaw('x')).subarray(2 * (n - 1))).length).toBe(1);
  });
});

describe('memorySource', () => {
  it('returns copies, over a Uint8Array and over a Node Buffer alike (a caller may change what it reads)', async () => {
    for (const bytes of [new Uint8Array([1, 2, 3, 4]), Buffer.from([1, 2, 3, 4])]) {
      const read = await memorySource('m', bytes).read(1, 2);
      read[0] = 99;
      expect(bytes[1]).toBe(2);
    }
  });
});

describe('names and shapes the writer must not get wrong', () => {
  it('a tensor named __proto__ or constructor is written into the header and reads back', async () => {
    const tensors: TensorWithData[] = ['__proto__', 'constructor', 'toString'].map((name, i) => ({ name, dtype: 'F32', shape: [2], data: Float32Array.of(i, -i) }));
    const file = await openSafetensors(memorySource('w', await writeSafetensorsToMemory(tensors)));
    expect([...file.tensorNames].sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Array.from(await file.readFloat32('__proto__'))).toEqual([0, -0]);
    expect(Array.from(await file.readFloat32('toString'))).toEqual([2, -2]);
  });

  it('refuses a name with a lone surrogate, on write and on read', async () => {
    const name = 'w\uD800';
    await expectCode(() => writeSafetensorsToMemory([{ name, dtype: 'F32', shape: [1], data: Float32Array.of(1) }]), 'TENSOR_ENTRY_INVALID', 'lone surrogate');
    await expectCode(openSafetensors(memorySource('lone', rawFile({ [name]: entry('F32', [1], 0, 4) }, 4))), 'TENSOR_ENTRY_INVALID', 'lone surrogate');
  });

  it('refuses a shape whose product overflows on the way, even with a zero, on write and on read', async () => {
    const shape = [2 ** 32, 2 ** 32, 0];
    await expectCode(() => writeSafetensorsToMemory([{ name: 'z', dtype: 'F32', shape, data: new Float32Array(0) }]), 'TENSOR_ENTRY_INVALID', '2^53');
    await expectCode(openSafetensors(memorySource('z', rawFile({ z: entry('F32', shape, 0, 0) }, 0))), 'TENSOR_ENTRY_INVALID', '2^53');
  });
});
