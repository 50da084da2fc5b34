/**
 * PyTorch .bin/.pt checkpoints: files written by the real torch.save (scripts/make-torch-fixtures.py,
 * torch 1.13, committed under test/fixtures/torch) read to exactly the names, dtypes, shapes and
 * bytes of their safetensors twins, in both of torch.save's formats and through every way a
 * checkpoint is opened; malicious pickles are refused without running their payload; and a
 * catalogue of hand-built broken files gives the error each must give. Bit-exact everywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/engine/errors.js';
import { openCheckpointFiles } from '../../src/engine/io/file-list-checkpoint.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { memorySource } from '../../src/engine/io/sources.js';
import { openTorchCheckpoint } from '../../src/engine/io/torch-checkpoint.js';
import { unpickleAll } from '../../src/engine/io/torch-pickle.js';
import type { Checkpoint } from '../../src/engine/io/types.js';
import { countingSource, expectCode } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/torch/', import.meta.url));
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));
/** The file the malicious fixtures' payloads would create (see the fixture script). */
const PWNED = '/tmp/merge-lab-pwned-by-pickle';

/** The state dict's names in the order the script inserts them (the pickle keeps it). */
const NAMES = [
  'f32', 'f16', 'bf16', 'f64', 'i64', 'i32', 'i16', 'i8', 'u8', 'bool', 'scalar', 'num_batches_tracked', 'empty',
  'offset_view', 'transposed', 'strided', 'shared.row0', 'shared.rows12', 'tied.embed', 'tied.lm_head',
];

let twin: Checkpoint;
let dir: string;

beforeAll(async () => {
  twin = await openSafetensors(memorySource('sd.safetensors', fixture('sd.safetensors')));
  dir = await mkdtemp(join(tmpdir(), 'merge-lab-torch-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every tensor of `c` equals the twin's: dtype, shape, byte count, raw bytes and float32 values. */
async function expectTwin(c: Checkpoint, names: readonly string[] = NAMES): Promise<void> {
  expect([...c.tensorNames].sort()).toEqual([...names].sort());
  for (const n of names) {
    const a = c.info(n)!;
    const b = twin.info(n)!;
    expect([a.dtype, a.shape], n).toEqual([b.dtype, b.shape]);
    expect(a.end - a.begin, n).toBe(b.end - b.begin);
    expect(await c.readRaw(n), n).toEqual(await twin.readRaw(n));
    expect(await c.readFloat32(n), n).toEqual(await twin.readFloat32(n));
  }
}

describe('PyTorch checkpoints written by torch.save', () => {
  it.each([
    ['sd-zip.bin', 'zip'],
    ['sd-legacy.bin', 'legacy'],
    ['sd-proto4.pt', 'zip'],
    ['sd-legacy-proto5.pt', 'legacy'],
  ] as const)('%s (%s format) reads to its safetensors twin, names in pickle order', async (file, format) => {
    const c = await openTorchCheckpoint(memorySource(file, fixture(file)));
    expect(c.format).toBe(format);
    expect(c.tensorNames).toEqual(NAMES);
    expect(c.metadata).toEqual({});
    await expectTwin(c);
    await c.close();
  });

  it('reads views of shared storages where torch put them: tied weights and rows of one storage', async () => {
    for (const file of ['sd-zip.bin', 'sd-legacy.bin']) {
      const c = await openTorchCheckpoint(memorySource(file, fixture(file)));
      expect(c.info('tied.lm_head')!.begin).toBe(c.info('tied.embed')!.begin);
      // shared is 3 x 5 float32: rows12 starts one row (20 bytes) after row0.
      expect(c.info('shared.rows12')!.begin - c.info('shared.row0')!.begin).toBe(20);
      await c.close();
    }
  });

  it('a legacy file whose pickles are longer than the first read is read again, longer', async () => {
    const c = await openTorchCheckpoint(memorySource('sd-legacy.bin', fixture('sd-legacy.bin')), { firstRead: 64 });
    await expectTwin(c);
  });

  it('takes the dict under "model" of a training checkpoint, and Parameters as tensors', async () => {
    await expectTwin(await openTorchCheckpoint(memorySource('nested.pt', fixture('nested.pt'))));
    const params = await openTorchCheckpoint(memorySource('params.pt', fixture('params.pt')));
    await expectTwin(params, NAMES.filter((n) => ['F32', 'F16', 'BF16', 'F64'].includes(twin.info(n)!.dtype)));
  });

  it('reads the tensor asked for in one read of its bytes', async () => {
    for (const file of ['sd-zip.bin', 'sd-legacy.bin']) {
      const src = countingSource(file, fixture(file));
      const c = await openTorchCheckpoint(src);
      src.reset();
      await c.readRaw('f32');
      expect(src.reads, file).toEqual([{ offset: c.info('f32')!.begin, length: 48 }]);
    }
  });

  it('opens from a path, a folder, dropped files, an index and a folder of .bin shards', async () => {
    await mkdir(join(dir, 'only-bin'));
    await copyFile(join(FIXTURES, 'sd-legacy.bin'), join(dir, 'only-bin', 'pytorch_model.bin'));
    // Trainer's pickles sit beside the weights; they are not weights and are never opened.
    await copyFile(join(FIXTURES, 'evil-system.bin'), join(dir, 'only-bin', 'training_args.bin'));
    await mkdir(join(dir, 'one-pt'));
    await copyFile(join(FIXTURES, 'sd-proto4.pt'), join(dir, 'one-pt', 'weights.pt'));
    const shards = join(FIXTURES, 'sharded');
    const opened = [
      await openCheckpointPath(join(FIXTURES, 'sd-zip.bin')),
      await openCheckpointPath(join(FIXTURES, 'sd-legacy-proto5.pt')),
      await openCheckpointPath(join(dir, 'only-bin')),
      await openCheckpointPath(join(dir, 'one-pt')),
      await openCheckpointPath(shards),
      await openCheckpointPath(join(shards, 'pytorch_model.bin.index.json')),
      await openCheckpointFiles([{ name: 'pytorch_model.bin', source: memorySource('pytorch_model.bin', fixture('sd-zip.bin')) }]),
      await openCheckpointFiles(
        ['pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin'].map((f) => ({
          name: `sharded/${f}`,
          source: memorySource(f, fixture(`sharded/${f}`)),
        })),
      ),
    ];
    for (const c of opened) {
      await expectTwin(c);
      await c.close();
    }
    expect(opened[2]!.name).toBe(join(dir, 'only-bin', 'pytorch_model.bin'));
    expect(opened[7]!.name).toBe('sharded');
  });

  it('prefers safetensors when a folder has both, as transformers does (the .bin is not even read)', async () => {
    await mkdir(join(dir, 'both'));
    await copyFile(join(FIXTURES, 'sd.safetensors'), join(dir, 'both', 'model.safetensors'));
    await copyFile(join(FIXTURES, 'evil-system.bin'), join(dir, 'both', 'pytorch_model.bin'));
    const c = await openCheckpointPath(join(dir, 'both'));
    await expectTwin(c);
    await c.close();
    const dropped = await openCheckpointFiles([
      { name: 'm/pytorch_model.bin', source: memorySource('pytorch_model.bin', fixture('evil-system.bin')) },
      { name: 'm/model.safetensors', source: memorySource('model.safetensors', fixture('sd.safetensors')) },
    ]);
    await expectTwin(dropped);
  });

  it('a folder with only Trainer pickles has no checkpoint', async () => {
    await mkdir(join(dir, 'trainer'));
    await copyFile(join(FIXTURES, 'evil-system.bin'), join(dir, 'trainer', 'training_args.bin'));
    await expectCode(openCheckpointPath(join(dir, 'trainer')), 'NO_CHECKPOINT', 'training_args.bin');
  });
});

describe('pickles that would run code are refused, and nothing runs', () => {
  beforeAll(async () => {
    await rm(PWNED, { force: true });
  });

  it.each([
    ['evil-system.bin', 'posix.system'],
    ['evil-exec.bin', '__builtin__.exec'],
    ['evil-raw.pkl', 'posix.system'],
    ['whole-module.pt', '__main__.Tiny'],
  ])('%s: one line naming the file and %s', async (file, global) => {
    const err = await expectCode(openTorchCheckpoint(memorySource(file, fixture(file))), 'UNSAFE_PICKLE', file, global, 'not a plain state dict', 'safetensors');
    expect(err.message).not.toContain('\n');
    expect(existsSync(PWNED)).toBe(false);
  });

  it('also from a path and from a folder, closing the file', async () => {
    await mkdir(join(dir, 'evil'));
    await copyFile(join(FIXTURES, 'evil-exec.bin'), join(dir, 'evil', 'pytorch_model.bin'));
    await expectCode(openCheckpointPath(join(dir, 'evil')), 'UNSAFE_PICKLE', join(dir, 'evil', 'pytorch_model.bin'), '__builtin__.exec');
    await expectCode(openCheckpointPath(join(FIXTURES, 'evil-system.bin')), 'UNSAFE_PICKLE', 'posix.system');
    expect(existsSync(PWNED)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-built pickles and archives for the catalogue

const latin1 = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
type Part = number | string | Uint8Array | readonly Part[];

/** Pickle bytes from opcodes (numbers), raw text (strings, for GLOBAL lines) and nested parts. */
function bytesOf(...parts: Part[]): Uint8Array {
  const out: number[] = [];
  const add = (p: Part): void => {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') out.push(...latin1(p));
    else for (const q of p) add(q);
  };
  parts.forEach(add);
  return Uint8Array.from(out);
}
const str = (s: string): Part => [0x8c, new TextEncoder().encode(s).length, new TextEncoder().encode(s)];
const glob = (module: string, name: string): Part => [0x63, `${module}\n${name}\n`];
const int = (n: number): Part => [0x4a, ...new Uint8Array(new Int32Array([n]).buffer)];
const tuple = (...items: Part[]): Part => [0x28, items, 0x74];
const STOP = 0x2e;

interface HandTensor {
  readonly storage?: string;
  readonly key?: string;
  readonly numel: number;
  readonly offset?: number;
  readonly shape: readonly number[];
  readonly stride?: readonly number[];
}

/** The pickle of `{name: tensor}`, as torch.save writes it (protocol 2). */
function stateDictPickle(tensors: Record<string, HandTensor>): Uint8Array {
  const items = Object.entries(tensors).map(([name, t]) => {
    const stride = t.stride ?? t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    return [
      str(name),
      glob('torch._utils', '_rebuild_tensor_v2'),
      tuple(
        [tuple(str('storage'), glob('torch', t.storage ?? 'FloatStorage'), str(t.key ?? '0'), str('cpu'), int(t.numel)), 0x51],
        int(t.offset ?? 0),
        tuple(...t.shape.map(int)),
        tuple(...stride.map(int)),
        0x89,
        [glob('collections', 'OrderedDict'), 0x29, 0x52],
      ),
      0x52,
    ];
  });
  return bytesOf(0x80, 2, 0x7d, 0x28, items, 0x75, STOP);
}

/** A torch-style zip: `archive/data.pkl` and `archive/data/<key>` storages (stored, or deflated at `level`). */
function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}, level: 0 | 6 = 0, extra: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = { 'archive/data.pkl': [pkl, { level }] };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = [v, { level }];
  for (const [k, v] of Object.entries(extra)) files[`archive/${k}`] = [v, { level }];
  return zipSync(files);
}

/**
 * The same entries as a zip64 archive, as torch's writer makes files over 4 GB: every size and
 * offset in the central directory is 0xFFFFFFFF with the real values in the zip64 extra field,
 * and the end record points at a zip64 end record. Local headers are padded like torch's.
 */
function zip64(entries: Record<string, Uint8Array>): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    at += b.length;
  };
  for (const [name, data] of Object.entries(entries)) {
    const n = new TextEncoder().encode(name);
    const pad = 64 - ((at + 30 + n.length + 4) % 64);
    const local = new Uint8Array(30 + n.length + 4 + pad);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    lv.setUint16(28, 4 + pad, true);
    local.set(n, 30);
    lv.setUint16(30 + n.length, 0x4246, true); // torch's "FB" padding field
    lv.setUint16(32 + n.length, pad, true);
    const offset = at;
    push(local);
    push(data);
    const c = new Uint8Array(46 + n.length + 28);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint32(20, 0xffffffff, true);
    cv.setUint32(24, 0xffffffff, true);
    cv.setUint16(28, n.length, true);
    cv.setUint16(30, 28, true);
    cv.setUint32(42, 0xffffffff, true);
    c.set(n, 46);
    cv.setUint16(46 + n.length, 1, true);
    cv.setUint16(48 + n.length, 24, true);
    cv.setBigUint64(50 + n.length, BigInt(data.length), true);
    cv.setBigUint64(58 + n.length, BigInt(data.length), true);
    cv.setBigUint64(66 + n.length, BigInt(offset), true);
    central.push(c);
  }
  const cdOffset = at;
  central.forEach(push);
  const cdSize = at - cdOffset;
  const end = new Uint8Array(56 + 20 + 22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06064b50, true);
  ev.setBigUint64(4, 44n, true);
  ev.setBigUint64(24, BigInt(central.length), true);
  ev.setBigUint64(32, BigInt(central.length), true);
  ev.setBigUint64(40, BigInt(cdSize), true);
  ev.setBigUint64(48, BigInt(cdOffset), true);
  ev.setUint32(56, 0x07064b50, true);
  ev.setBigUint64(64, BigInt(at), true);
  ev.setUint32(72, 1, true);
  ev.setUint32(76, 0x06054b50, true);
  ev.setUint16(84, 0xffff, true);
  ev.setUint16(86, 0xffff, true);
  ev.setUint32(88, 0xffffffff, true);
  ev.setUint32(92, 0xffffffff, true);
  push(end);
  return bytesOf(...chunks);
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('hand-built and rewritten archives', () => {
  it('opening a zip reads its directory and pickle, not its storages', async () => {
    const n = 2 ** 18; // 1 MiB of float32
    const pkl = stateDictPickle({ big: { numel: n, shape: [512, 512] }, small: { key: '1', numel: 2, shape: [2] } });
    const storages = { '0': new Uint8Array(Float32Array.from({ length: n }, (_, i) => i).buffer), '1': f32(7, 8) };
    const zip = torchZip(pkl, storages);
    for (const [label, bytes] of [['zip', zip], ['zip64', zip64(unzipSync(zip))]] as const) {
      const src = countingSource(`${label}.bin`, bytes);
      const c = await openTorchCheckpoint(src);
      expect(src.bytesRead, label).toBeLessThan(4096);
      src.reset();
      expect(Array.from(await c.readFloat32('small'))).toEqual([7, 8]);
      expect(src.reads).toEqual([{ offset: c.info('small')!.begin, length: 8 }]);
      expect((await c.readFloat32('big'))[n - 1]).toBe(n - 1);
    }
  });

  it('a zip64 archive with torch-style padding reads the same', async () => {
    const files = unzipSync(fixture('sd-zip.bin'));
    const c = await openTorchCheckpoint(memorySource('big.bin', zip64(files)));
    await expectTwin(c);
  });

  it('deflated entries (a re-zipped checkpoint) are inflated with fflate', async () => {
    const files = unzipSync(fixture('sd-zip.bin'));
    const c = await openTorchCheckpoint(memorySource('rezipped.bin', zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v, { level: 6 }]])))));
    await expectTwin(c);
  });

  it('a hand-built transposed view with an offset reads column by column', async () => {
    const pkl = stateDictPickle({ t: { numel: 7, offset: 1, shape: [3, 2], stride: [1, 3] } });
    const c = await openTorchCheckpoint(memorySource('t.bin', torchZip(pkl, { '0': f32(9, 1, 2, 3, 4, 5, 6) })));
    expect(Array.from(await c.readFloat32('t'))).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

interface BrokenCase {
  readonly name: string;
  readonly bytes: () => Uint8Array;
  readonly code: ErrorCode;
  readonly mentions?: readonly string[];
}

const one = (t: Partial<HandTensor> = {}) => stateDictPickle({ w: { numel: 2, shape: [2], ...t } });

/** Broken or refused files and the error each must give (besides naming the file). */
const BROKEN: readonly BrokenCase[] = [
  { name: 'empty file', bytes: () => new Uint8Array(0), code: 'PICKLE_INVALID', mentions: ['neither a zip archive nor a pickle'] },
  { name: 'text file', bytes: () => latin1('version https://git-lfs.github.com/spec/v1\n'), code: 'PICKLE_INVALID' },
  { name: 'a pickle of {} without the magic number', bytes: () => bytesOf(0x80, 2, 0x7d, 0x71, 0, STOP), code: 'PICKLE_INVALID', mentions: ['magic number'] },
  { name: 'legacy file cut inside its pickle', bytes: () => fixture('sd-legacy.bin').slice(0, 300), code: 'FILE_TRUNCATED' },
  { name: 'legacy file cut inside its storages', bytes: () => fixture('sd-legacy.bin').slice(0, -10), code: 'FILE_TRUNCATED' },
  { name: 'zip cut in half', bytes: () => fixture('sd-zip.bin').slice(0, 2000), code: 'PICKLE_INVALID', mentions: ['zip archive'] },
  { name: 'zip without data.pkl', bytes: () => zipSync({ 'archive/other.pkl': one() }), code: 'PICKLE_INVALID', mentions: ['data.pkl'] },
  { name: 'zip missing a storage', bytes: () => torchZip(one()), code: 'FILE_TRUNCATED', mentions: ['"w"', 'archive/data/0'] },
  { name: 'big-endian zip', bytes: () => torchZip(one(), { '0': f32(1, 2) }, 0, { byteorder: latin1('big') }), code: 'PICKLE_INVALID', mentions: ['big-endian'] },
  { name: 'tensor past the end of its storage', bytes: () => torchZip(one({ offset: 1 }), { '0': f32(1, 2) }), code: 'SIZE_MISMATCH', mentions: ['"w"'] },
  { name: 'storage shorter than its persistent id says', bytes: () => torchZip(one({ numel: 3 }), { '0': f32(1, 2) }), code: 'SIZE_MISMATCH', mentions: ['"w"'] },
  { name: 'complex tensor', bytes: () => torchZip(one({ storage: 'ComplexFloatStorage' }), { '0': f32(1, 2, 3, 4) }), code: 'UNKNOWN_DTYPE', mentions: ['"w"', 'ComplexFloatStorage'] },
  {
    name: 'a dict with a non-tensor value',
    bytes: () => torchZip(bytesOf(0x80, 2, 0x7d, str('lr'), 0x47, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0x73, STOP)),
    code: 'NOT_A_STATE_DICT',
    mentions: ['"lr"', 'state_dict'],
  },
  { name: 'a list at the top', bytes: () => torchZip(bytesOf(0x80, 2, 0x5d, STOP)), code: 'NOT_A_STATE_DICT', mentions: ['a list'] },
  {
    name: 'a nested dict under "model" that holds a number',
    bytes: () => torchZip(bytesOf(0x80, 2, 0x7d, str('model'), 0x7d, str('x'), 0x4b, 1, 0x73, 0x73, STOP)),
    code: 'NOT_A_STATE_DICT',
    mentions: ['"model"'],
  },
  { name: 'os.system by GLOBAL', bytes: () => torchZip(bytesOf(0x80, 2, glob('os', 'system'), str('id'), 0x85, 0x52, STOP)), code: 'UNSAFE_PICKLE', mentions: ['os.system'] },
  {
    name: 'builtins.eval by STACK_GLOBAL (protocol 4)',
    bytes: () => torchZip(bytesOf(0x80, 4, str('builtins'), str('eval'), 0x93, str('1'), 0x85, 0x52, STOP)),
    code: 'UNSAFE_PICKLE',
    mentions: ['builtins.eval'],
  },
  { name: 'an unknown opcode (NEWOBJ)', bytes: () => torchZip(bytesOf(0x80, 2, 0x29, 0x29, 0x81, STOP)), code: 'PICKLE_INVALID', mentions: ['0x81'] },
  { name: 'REDUCE of a storage class', bytes: () => torchZip(bytesOf(0x80, 2, glob('torch', 'FloatStorage'), 0x29, 0x52, STOP)), code: 'PICKLE_INVALID', mentions: ['torch.FloatStorage'] },
  { name: 'a module persistent id', bytes: () => torchZip(bytesOf(0x80, 2, tuple(str('module'), 0x4e, 0x4e, 0x4e), 0x51, STOP)), code: 'UNSAFE_PICKLE', mentions: ['"module"'] },
  { name: 'a pickle without STOP', bytes: () => torchZip(bytesOf(0x80, 2, 0x7d)), code: 'PICKLE_INVALID', mentions: ['STOP'] },
  { name: 'BINGET before BINPUT', bytes: () => torchZip(bytesOf(0x80, 2, 0x68, 3, STOP)), code: 'PICKLE_INVALID', mentions: ['memo'] },
];

describe('broken and refused .bin files', () => {
  it.each(BROKEN.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const err = await expectCode(openTorchCheckpoint(memorySource('case.bin', c.bytes())), c.code, 'case.bin', ...(c.mentions ?? []));
    expect(err.message).not.toContain('\n');
  });

  it('the unpickler refuses a global before anything after it runs', () => {
    // REDUCE would follow; the refusal comes at GLOBAL itself.
    const evil = bytesOf(0x80, 2, glob('posix', 'system'), str('touch /tmp/x'), 0x85, 0x52, STOP);
    expect(() => unpickleAll(evil, { file: 'x.bin' })).toThrow(/posix\.system/);
  });

  it('a file that fails to open is closed', async () => {
    let closed = 0;
    const src = { ...memorySource('evil.bin', fixture('evil-system.bin')), close: async () => void closed++ };
    await expectCode(openTorchCheckpoint(src, { closeOnError: true }), 'UNSAFE_PICKLE');
    expect(closed).toBe(1);
  });

  it('a .ckpt file is named and not read', async () => {
    await writeFile(join(dir, 'model.ckpt'), 'x');
    await expectCode(openCheckpointPath(join(dir, 'model.ckpt')), 'NO_CHECKPOINT', 'model.ckpt');
  });
});
