/**
 * Interop with the reference Python `safetensors` package (Rust core): files we write are read by
 * it, files it writes are read by us, and it rejects the broken files of our catalogue too.
 * Installs the package from the local wheel folder when missing; skips with a printed reason when
 * python3, numpy or the wheels are unavailable. Tolerance: bit-exact everywhere (F16 against
 * numpy's float32→float16 cast, BF16 against torch's rounding formula evaluated in numpy).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { openSafetensors } from '../../src/engine/io/safetensors-reader.js';
import { serializeSafetensors, type TensorWithData } from '../../src/engine/io/safetensors-writer.js';
import { memorySource } from '../../src/engine/io/sources.js';
import { CATALOGUE } from './catalogue.js';
import { fromBits, randomFloats } from './helpers.js';

const WHEELS = '/opt/pypi/files';

function run(args: string[], timeout = 60_000): string {
  return execFileSync('python3', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
}

/** Why the interop tests cannot run here, or undefined when they can (installing if needed). */
function unavailable(): string | undefined {
  try {
    run(['-c', 'import numpy']);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'python3 is not installed' : 'python3 has no numpy';
  }
  try {
    run(['-c', 'import safetensors']);
    return undefined;
  } catch {
    // not installed yet
  }
  if (!existsSync(WHEELS)) return `the safetensors package is missing and ${WHEELS} (local wheels) does not exist`;
  try {
    run(['-m', 'pip', 'install', '--quiet', '--no-index', '--find-links', WHEELS, 'safetensors'], 180_000);
    run(['-c', 'import safetensors']);
    return undefined;
  } catch (e) {
    return `could not install safetensors from ${WHEELS}: ${String((e as { stderr?: string }).stderr ?? e).slice(0, 300)}`;
  }
}

const reason = unavailable();
if (reason) console.warn(`[io] skipping the Python safetensors interop tests: ${reason}`);

/** Runs a Python snippet; it must print one JSON value, which is returned. */
function py<T>(script: string, ...args: string[]): T {
  const out = run(['-c', script, ...args]);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}

describe.skipIf(reason !== undefined)('Python safetensors interop', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'merge-lab-py-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Edge values: zeros, ties, subnormals, overflow, infinities, NaN, float32 extremes.
  const src = new Float32Array([
    ...randomFloats(2000, 11),
    0, -0, 1, -1, 65504, 65519, 65520, 70000, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
    1 + 2 ** -8, 1 + 3 * 2 ** -8, Infinity, -Infinity, NaN, 3.4028234663852886e38, 1.401298464324817e-45, 1e-40,
    ...fromBits([0x3f808000, 0x3f818000, 0x7f7fffff, 0x00008000, 0x80018000]),
  ]);
  const ints = new Float32Array([0, 1, -1, 127, -128, 255, 300, -32768, 32767, 1e6, -1e6, 2 ** 31 - 128, 3e9]);

  it('reads what we write (F32, F16, F64, integers, BOOL, metadata)', async () => {
    const tensors: TensorWithData[] = [
      { name: 'src', dtype: 'F32', shape: [src.length], data: src },
      { name: 'f16', dtype: 'F16', shape: [src.length], data: src },
      { name: 'f64', dtype: 'F64', shape: [src.length], data: src },
      { name: 'ivals', dtype: 'F64', shape: [ints.length], data: ints },
      { name: 'bool', dtype: 'BOOL', shape: [ints.length], data: ints },
      { name: 'i64', dtype: 'I64', shape: [ints.length], data: ints },
      // In-range values only: the integer casts beyond range saturate here, which numpy does not.
      { name: 'i8', dtype: 'I8', shape: [5], data: ints.subarray(0, 5) },
      { name: 'u8', dtype: 'U8', shape: [2, 2], data: new Float32Array([0, 1, 127, 255]) },
      { name: 'i16', dtype: 'I16', shape: [9], data: ints.subarray(0, 9) },
      { name: 'i32', dtype: 'I32', shape: [12], data: ints.subarray(0, 12) },
      { name: 'empty', dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
      // Names that are Object.prototype keys in JavaScript: ordinary names to the reference reader.
      { name: '__proto__', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
      { name: 'constructor', dtype: 'F32', shape: [1], data: new Float32Array([3]) },
    ];
    const p = join(dir, 'ours.safetensors');
    await writeFile(p, serializeSafetensors(tensors, { format: 'pt', note: 'merge-lab ü' }));
    const result = py<{ ok: boolean; problems: string[] }>(
      `
import sys, json, numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
problems = []
def check(name, cond):
    if not cond: problems.append(name)
src = t['src']
check('src dtype', src.dtype == np.float32)
f16 = t['f16']
ref = src.astype(np.float16)
nan = np.isnan(src)
check('f16 dtype', f16.dtype == np.float16)
check('f16 bits', np.array_equal(f16.view(np.uint16)[~nan], ref.view(np.uint16)[~nan]))
check('f16 nan', bool(np.isnan(f16[nan]).all()))
check('f64', np.array_equal(t['f64'][~nan], src.astype(np.float64)[~nan]))
iv = t['ivals']
check('i64', t['i64'].dtype == np.int64 and np.array_equal(t['i64'], iv.astype(np.int64)))
check('i32', np.array_equal(t['i32'], iv[:12].astype(np.int32)))
check('i16', np.array_equal(t['i16'], iv[:9].astype(np.int16)))
check('i8', np.array_equal(t['i8'], iv[:5].astype(np.int8)))
check('u8', t['u8'].shape == (2, 2) and t['u8'].tolist() == [[0, 1], [127, 255]])
check('bool', t['bool'].dtype == np.bool_ and np.array_equal(t['bool'], iv != 0))
check('empty', t['empty'].shape == (0, 3))
check('__proto__', t['__proto__'].tolist() == [1, 2] and t['constructor'].tolist() == [3])
with safe_open(sys.argv[1], framework='numpy') as f:
    check('metadata', f.metadata() == {'format': 'pt', 'note': 'merge-lab \\u00fc'})
print(json.dumps({'ok': not problems, 'problems': problems}))
`,
      p,
    );
    expect(result.problems).toEqual([]);
  });

  it('reads what we write (BF16 and F8, through the raw deserializer)', async () => {
    const p = join(dir, 'ours-low.safetensors');
    await writeFile(
      p,
      serializeSafetensors([
        { name: 'src', dtype: 'F32', shape: [src.length], data: src },
        { name: 'bf16', dtype: 'BF16', shape: [src.length], data: src },
        { name: 'e4m3', dtype: 'F8_E4M3', shape: [src.length], data: src },
        { name: 'e5m2', dtype: 'F8_E5M2', shape: [src.length], data: src },
      ]),
    );
    const result = py<{ problems: string[] }>(
      `
import sys, json, numpy as np
from safetensors import deserialize
d = {k: v for k, v in deserialize(open(sys.argv[1], 'rb').read())}
problems = []
src = np.frombuffer(d['src']['data'], '<f4')
u = src.view(np.uint32).astype(np.uint64)
# torch c10::BFloat16 round_to_nearest_even, NaN -> 0x7FC0
ref = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
ref[np.isnan(src)] = 0x7FC0
bf = np.frombuffer(d['bf16']['data'], '<u2')
if d['bf16']['dtype'] != 'BF16' or not np.array_equal(bf, ref.astype(np.uint16)): problems.append('bf16')
for k, dt in (('e4m3', 'F8_E4M3'), ('e5m2', 'F8_E5M2')):
    if d[k]['dtype'] != dt or len(d[k]['data']) != len(src): problems.append(k)
print(json.dumps({'problems': problems}))
`,
      p,
    );
    expect(result.problems).toEqual([]);
  });

  it('reads what Python writes (save_file and raw BF16/F8)', async () => {
    const p = join(dir, 'theirs.safetensors');
    const p2 = join(dir, 'theirs-raw.safetensors');
    py(
      `
import sys, json, numpy as np, safetensors
from safetensors.numpy import save_file
base = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3
save_file({
  'f32': base, 'f16': base.astype(np.float16), 'f64': base.astype(np.float64),
  'i64': (np.arange(-5, 5, dtype=np.int64) * 10**12), 'i32': np.arange(-3, 3, dtype=np.int32),
  'i16': np.array([-32768, 32767], dtype=np.int16), 'i8': np.array([-128, 5], dtype=np.int8),
  'u8': np.array([0, 255], dtype=np.uint8), 'bool': np.array([True, False, True]),
  'scalar': np.array(2.5, dtype=np.float32), 'empty': np.zeros((0, 2), dtype=np.float32),
}, sys.argv[1], metadata={'format': 'np', 'x': 'y'})
bf = np.array([0x3f80, 0xc040, 0x7f80, 0x0001], dtype='<u2')
e4 = np.array([0x38, 0x7e, 0x01, 0xb8], dtype=np.uint8)
e5 = np.array([0x3c, 0x7b, 0x7c, 0x01], dtype=np.uint8)
spec = lambda dt, a: safetensors.TensorSpec(dtype=dt, shape=[a.size], data_ptr=a.ctypes.data, data_len=a.nbytes)
open(sys.argv[2], 'wb').write(bytes(safetensors.serialize({'bf': spec('bfloat16', bf), 'e4': spec('float8_e4m3fn', e4), 'e5': spec('float8_e5m2', e5)})))
print(json.dumps(True))
`,
      p,
      p2,
    );
    const f = await openSafetensors(memorySource(p, new Uint8Array(await readFile(p))));
    expect(f.metadata).toEqual({ format: 'np', x: 'y' });
    expect(f.dataStart % 8).toBe(0);
    const base = Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    for (const n of ['f32', 'f16', 'f64']) {
      expect(f.info(n)!.shape).toEqual([2, 3, 4]);
      expect(Array.from(await f.readFloat32(n))).toEqual(base);
    }
    expect(Array.from(await f.readFloat32('i64'))).toEqual(Array.from({ length: 10 }, (_, i) => Math.fround((i - 5) * 1e12)));
    expect(new BigInt64Array((await f.readRaw('i64')).buffer)[0]).toBe(-5n * 10n ** 12n);
    expect(Array.from(await f.readFloat32('i32'))).toEqual([-3, -2, -1, 0, 1, 2]);
    expect(Array.from(await f.readFloat32('i16'))).toEqual([-32768, 32767]);
    expect(Array.from(await f.readFloat32('i8'))).toEqual([-128, 5]);
    expect(Array.from(await f.readFloat32('u8'))).toEqual([0, 255]);
    expect(Array.from(await f.readFloat32('bool'))).toEqual([1, 0, 1]);
    expect(f.info('scalar')!.shape).toEqual([]);
    expect(Array.from(await f.readFloat32('scalar'))).toEqual([2.5]);
    expect(f.info('empty')!.shape).toEqual([0, 2]);

    const g = await openCheckpointPath(p2);
    expect(Array.from(await g.readFloat32('bf'))).toEqual([1, -3, Infinity, 2 ** -133]);
    expect(Array.from(await g.readFloat32('e4'))).toEqual([1, 448, 2 ** -9, -1]);
    expect(Array.from(await g.readFloat32('e5'))).toEqual([1, 57344, Infinity, 2 ** -16]);
    await g.close();
  });

  it('rejects the same broken catalogue files as we do, and accepts the valid ones', async () => {
    const names: string[] = [];
    for (const [i, c] of CATALOGUE.entries()) {
      const p = join(dir, `case-${i}.safetensors`);
      await writeFile(p, c.bytes());
      names.push(p);
    }
    const verdicts = py<(string | null)[]>(
      `
import sys, json
from safetensors import deserialize
out = []
for p in sys.argv[1:]:
    try:
        deserialize(open(p, 'rb').read()); out.append(None)
    except Exception as e:
        out.append(type(e).__name__ + ': ' + str(e)[:200])
print(json.dumps(out))
`,
      ...names,
    );
    const disagreements = CATALOGUE.flatMap((c, i) => {
      const theyAccept = verdicts[i] === null;
      const weAccept = c.code === undefined || c.pythonAccepts === true;
      return theyAccept === weAccept ? [] : [`${c.name}: python ${theyAccept ? 'accepts' : `rejects (${verdicts[i]})`}`];
    });
    expect(disagreements).toEqual([]);
  });
});
