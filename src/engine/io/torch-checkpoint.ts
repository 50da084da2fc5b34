/**
 * Opens PyTorch `.bin`/`.pt` checkpoints (what `torch.save(model.state_dict(), f)` writes) as a
 * Checkpoint, without running any of their pickle: torch-pickle.ts interprets it with an allow
 * list. Both of torch.save's formats (torch/serialization.py):
 * - zip (default since torch 1.6): `<archive>/data.pkl` plus one stored entry per storage,
 *   `<archive>/data/<key>`; tensors are read lazily at their offsets inside the archive;
 * - legacy (`_use_new_zipfile_serialization=False`): pickles of the magic number, the protocol
 *   version and sys info, then the state dict, then the sorted storage keys, then each storage as
 *   an 8-byte little-endian element count followed by its bytes.
 * Tensors are strided views of storages: offsets, non-contiguous strides and storages shared by
 * several tensors (tied weights) are honoured; values are returned compact and row-major.
 */
import { MergeLabError, isMergeLabError } from '../errors.js';
import { decodeToFloat32, DTYPE_SIZES, DTYPES, numel } from './dtypes.js';
import { readChecked } from './sources.js';
import { PickleTruncated, StorageRef, TensorRef, unpickle, unpickleAll, type PickleContext } from './torch-pickle.js';
import type { ByteSource, Checkpoint, DType, TensorInfo } from './types.js';
import { entryDataOffset, looksLikeZip, readZipEntries, readZipEntry, type ZipEntry } from './zip-entries.js';

/** File names read as PyTorch checkpoints (transformers' `pytorch_model.bin`, `*.pt`, `*.pth`). */
export const TORCH_FILE = /\.(bin|pt|pth)$/i;

/** torch/serialization.py's MAGIC_NUMBER and PROTOCOL_VERSION, the first two legacy pickles. */
const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

/** Pickles bigger than this are not state dicts (a 70B model's is a few MB). */
const MAX_PICKLE = 256 * 2 ** 20;

/** Element sizes of storages we cannot read, needed only to step over them in a legacy file. */
const OTHER_STORAGE_SIZES: Readonly<Record<string, number>> = {
  ComplexFloatStorage: 8, ComplexDoubleStorage: 16, ComplexHalfStorage: 4,
  QInt8Storage: 1, QUInt8Storage: 1, QInt32Storage: 4, QUInt4x2Storage: 1, QUInt2x4Storage: 1,
  UntypedStorage: 1,
};

export interface TorchCheckpoint extends Checkpoint {
  readonly source: ByteSource;
  readonly format: 'zip' | 'legacy';
}

/** Where a storage's bytes are: at `offset` in the file, or inside a deflated zip entry. */
interface StoredBytes {
  readonly offset: number;
  /** Element count as written in the file. */
  readonly count: number;
  readonly deflated?: ZipEntry;
}

interface Tensor {
  readonly info: TensorInfo;
  readonly ref: TensorRef;
  readonly stored: StoredBytes;
}

const HINT = 'Re-download it, or convert it to safetensors with PyTorch.';

function elementSize(ref: StorageRef): number | undefined {
  if (ref.type.dtype) return DTYPE_SIZES[ref.type.dtype];
  return Object.hasOwn(OTHER_STORAGE_SIZES, ref.type.name) ? OTHER_STORAGE_SIZES[ref.type.name] : undefined;
}

/**
 * Opens `source` (a `.bin`/`.pt` file) as a checkpoint: reads the pickle and, for the legacy
 * format, the storage headers; tensor data is read on demand. Errors name the file:
 * UNSAFE_PICKLE (a global outside the allow list), PICKLE_INVALID (corrupt, not torch.save's
 * format), NOT_A_STATE_DICT, UNKNOWN_DTYPE, SIZE_MISMATCH, FILE_TRUNCATED. With `closeOnError`,
 * the source is closed when opening fails. `firstRead` is how many bytes of a legacy file are read
 * first to find its pickles (1 MiB; four times more each time they turn out longer).
 */
export async function openTorchCheckpoint(source: ByteSource, options: { closeOnError?: boolean; firstRead?: number } = {}): Promise<TorchCheckpoint> {
  try {
    return await parse(source, options.firstRead ?? 2 ** 20);
  } catch (e) {
    if (options.closeOnError) await source.close?.().catch(() => undefined);
    if (isMergeLabError(e)) throw e;
    throw new MergeLabError('PICKLE_INVALID', `${source.name} could not be read as a PyTorch checkpoint (${(e as Error)?.message ?? e}). ${HINT}`);
  }
}

async function parse(source: ByteSource, firstRead: number): Promise<TorchCheckpoint> {
  if (await looksLikeZip(source)) return parseZip(source);
  const head = source.size >= 1 ? await readChecked(source, 0, 1) : new Uint8Array(0);
  // A pickle (PROTO): the legacy format, whose first pickle must be torch's magic number.
  if (head[0] === 0x80) return parseLegacy(source, firstRead);
  let why = 'it is neither a zip archive nor a pickle';
  if (source.size >= 262 && new TextDecoder().decode(await readChecked(source, 257, 5)) === 'ustar') {
    why = 'it is a tar archive, the format of torch before 0.4, which merge-lab does not read';
  }
  throw new MergeLabError('PICKLE_INVALID', `${source.name} is not a PyTorch checkpoint: ${why}. ${HINT}`);
}

async function parseZip(source: ByteSource): Promise<TorchCheckpoint> {
  const entries = await readZipEntries(source);
  const pkls = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new MergeLabError('PICKLE_INVALID', `${source.name} is a zip archive but not one torch.save wrote (${pkls.length ? 'several' : 'no'} <archive>/data.pkl). ${HINT}`);
  }
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  const order = entries.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(await readZipEntry(source, order)).trim() === 'big') {
    throw new MergeLabError('PICKLE_INVALID', `${source.name} was saved on a big-endian machine; merge-lab reads little-endian checkpoints only. Convert it to safetensors on that machine.`);
  }
  const pkl = entries.get(pkls[0]!)!;
  if (pkl.size > MAX_PICKLE) throw new MergeLabError('PICKLE_INVALID', `${pkls[0]} in ${source.name} is ${pkl.size} bytes, far too large for a state dict. ${HINT}`);
  const ctx: PickleContext = { file: source.name, part: pkls[0]! };
  const bytes = await readZipEntry(source, pkl);
  const tensors = stateDict(source.name, unpickleAll(bytes, ctx));

  const stored = new Map<string, StoredBytes>();
  for (const [name, t] of tensors) {
    const key = t.storage.key;
    if (stored.has(key)) continue;
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new MergeLabError('FILE_TRUNCATED', `${source.name} has no data for the storage of tensor "${name}" (${prefix}data/${key}): the file is incomplete. ${HINT}`);
    const size = elementSize(t.storage) ?? 1;
    const offset = await entryDataOffset(source, entry);
    stored.set(key, { offset, count: Math.floor(entry.size / size), deflated: entry.method === 0 ? undefined : entry });
  }
  return new TorchFile(source, 'zip', build(source.name, tensors, stored));
}

/** The five pickles of the legacy format; throws PickleTruncated when `bytes` ends first. */
function legacyPickles(bytes: Uint8Array, ctx: PickleContext, seen: StorageRef[]) {
  let at = 0;
  const next = (part: string) => {
    const r = unpickle(bytes, at, { ...ctx, part });
    at = r.end;
    return r.value;
  };
  const magic = next('the magic number');
  if (magic !== MAGIC_NUMBER) {
    throw new MergeLabError('PICKLE_INVALID', `${ctx.file} is not a PyTorch checkpoint: it is a pickle without torch.save's magic number. ${HINT}`);
  }
  const version = next('the protocol version');
  if (version !== PROTOCOL_VERSION) throw new MergeLabError('PICKLE_INVALID', `${ctx.file} has torch serialization protocol ${String(version)}; only ${PROTOCOL_VERSION} exists. ${HINT}`);
  const sysInfo = next('the system info');
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw new MergeLabError('PICKLE_INVALID', `${ctx.file} was saved on a big-endian machine; merge-lab reads little-endian checkpoints only. Convert it to safetensors on that machine.`);
  }
  const state = unpickle(bytes, at, { ...ctx, part: 'the state dict', onStorage: (s) => seen.push(s) });
  at = state.end;
  const keys = next('the storage keys');
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new MergeLabError('PICKLE_INVALID', `The storage key list of ${ctx.file} is not a list of strings. ${HINT}`);
  }
  return { state: state.value, keys: keys as string[], dataStart: at };
}

async function parseLegacy(source: ByteSource, firstRead: number): Promise<TorchCheckpoint> {
  const ctx: PickleContext = { file: source.name };
  // The pickles' total length is unknown until parsed: read a prefix, and more if it ends first.
  let length = Math.min(source.size, firstRead);
  let parsed: ReturnType<typeof legacyPickles>;
  let seen: StorageRef[];
  for (;;) {
    seen = [];
    try {
      parsed = legacyPickles(await readChecked(source, 0, length), ctx, seen);
      break;
    } catch (e) {
      if (!(e instanceof PickleTruncated)) throw e;
      if (length >= source.size) throw new MergeLabError('FILE_TRUNCATED', `${source.name} ends inside its pickle: the file is truncated (an interrupted download?). Re-download it.`);
      if (length >= MAX_PICKLE) throw new MergeLabError('PICKLE_INVALID', `${source.name} has a pickle larger than ${MAX_PICKLE} bytes, far too large for a state dict. ${HINT}`);
      length = Math.min(source.size, length * 4);
    }
  }
  const tensors = stateDict(source.name, parsed.state);
  // Every storage in the file must be stepped over, including ones outside the state dict.
  const sizes = new Map<string, number | undefined>();
  for (const s of seen) if (!sizes.has(s.key)) sizes.set(s.key, elementSize(s));
  const stored = new Map<string, StoredBytes>();
  let at = parsed.dataStart;
  for (const key of parsed.keys) {
    const size = sizes.get(key);
    if (size === undefined) {
      throw new MergeLabError('PICKLE_INVALID', `${source.name} lists storage "${key}" ${sizes.has(key) ? 'of a type whose element size is unknown' : 'that no tensor uses'}, so its data cannot be located. ${HINT}`);
    }
    if (at + 8 > source.size) break;
    const c = await readChecked(source, at, 8);
    const dv = new DataView(c.buffer, c.byteOffset, 8);
    const count = dv.getUint32(4, true) * 2 ** 32 + dv.getUint32(0, true);
    stored.set(key, { offset: at + 8, count });
    at += 8 + count * size;
  }
  if (at > source.size || stored.size < parsed.keys.length) {
    throw new MergeLabError('FILE_TRUNCATED', `${source.name} is ${source.size} bytes and ends inside its tensor data: the file is truncated (an interrupted download?). Re-download it.`);
  }
  return new TorchFile(source, 'legacy', build(source.name, tensors, stored));
}

function describe(v: unknown): string {
  if (v instanceof TensorRef) return 'a tensor';
  if (v instanceof StorageRef) return 'a storage';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return 'a list or tuple';
  if (v === null) return 'None';
  return `a ${typeof v === 'bigint' ? 'number' : typeof v}`;
}

/** The tensors of a state dict: the top dict, or the one under "state_dict" or "model". */
function stateDict(file: string, value: unknown): Map<string, TensorRef> {
  const isTensorDict = (v: unknown): v is Map<string, TensorRef> =>
    v instanceof Map && [...v].every(([k, t]) => typeof k === 'string' && t instanceof TensorRef);
  if (isTensorDict(value)) return value;
  if (value instanceof Map) {
    for (const key of ['state_dict', 'model']) if (isTensorDict(value.get(key))) return value.get(key) as Map<string, TensorRef>;
    const [k, v] = [...value].find(([key, t]) => typeof key !== 'string' || !(t instanceof TensorRef))!;
    const what = typeof k === 'string' ? `"${k}" is ${describe(v)}` : `it has a key that is ${describe(k)}`;
    throw new MergeLabError(
      'NOT_A_STATE_DICT',
      `${file} is not a state dict: ${what}, not a tensor, and there is no dict of tensors under "state_dict" or "model". Save model.state_dict() alone (or convert that to safetensors).`,
    );
  }
  throw new MergeLabError('NOT_A_STATE_DICT', `${file} holds ${describe(value)}, not a dict of tensor names to tensors. Save model.state_dict() (or convert it to safetensors).`);
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Elements from the first to the last one a view touches (1 + Σ (size - 1) · stride). */
function spanOf(shape: readonly number[], stride: readonly number[]): number {
  let span = 1;
  for (let i = 0; i < shape.length; i++) span += (shape[i]! - 1) * stride[i]!;
  return span;
}

/** Checks every tensor against its storage and computes what info() reports. */
function build(file: string, tensors: Map<string, TensorRef>, stored: Map<string, StoredBytes>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const dtypeOf = new Map<string, DType>();
  for (const [name, ref] of tensors) {
    const where = `tensor "${name}" in ${file}`;
    const dtype = ref.storage.type.dtype;
    if (!dtype) {
      throw new MergeLabError('UNKNOWN_DTYPE', `${where} is stored as torch.${ref.storage.type.name}, which merge-lab cannot read (supported: ${DTYPES.join(', ')}). Convert the checkpoint to one of these dtypes.`);
    }
    const other = dtypeOf.get(ref.storage.key);
    if (other && other !== dtype) throw new MergeLabError('PICKLE_INVALID', `${where} reads a storage as ${dtype} that another tensor reads as ${other}; torch.save never writes that. ${HINT}`);
    dtypeOf.set(ref.storage.key, dtype);
    const s = stored.get(ref.storage.key)!;
    const n = numel(ref.shape);
    const first = ref.storage.viewOffset + ref.offset;
    const last = first + spanOf(ref.shape, ref.stride);
    // A legacy storage view must fit its root storage, and the tensor its view.
    if (ref.storage.viewOffset + ref.storage.numel > s.count || (n > 0 && last > ref.storage.viewOffset + ref.storage.numel)) {
      throw new MergeLabError('SIZE_MISMATCH', `${where} (shape [${ref.shape.join(', ')}], offset ${ref.offset}) reaches past the end of its storage of ${s.count} elements. The file is corrupt. ${HINT}`);
    }
    const size = DTYPE_SIZES[dtype];
    const begin = s.offset + first * size;
    const info: TensorInfo = Object.freeze({ name, dtype, shape: ref.shape, begin, end: begin + n * size });
    out.set(name, { info, ref, stored: s });
  }
  return out;
}

/** Copies the elements of a strided view out of `src` (which starts at the view's first element). */
function gather(src: Uint8Array, shape: readonly number[], stride: readonly number[], size: number): Uint8Array {
  const out = new Uint8Array(numel(shape) * size);
  if (out.length === 0) return out;
  const nd = shape.length;
  if (nd === 0) return src.slice(0, size);
  const inner = shape[nd - 1]!;
  const innerStride = stride[nd - 1]!;
  const idx = new Array<number>(nd).fill(0);
  let o = 0;
  for (;;) {
    let base = 0;
    for (let d = 0; d < nd - 1; d++) base += idx[d]! * stride[d]!;
    if (innerStride === 1) {
      out.set(src.subarray(base * size, (base + inner) * size), o);
      o += inner * size;
    } else {
      for (let j = 0; j < inner; j++, o += size) out.set(src.subarray((base + j * innerStride) * size, (base + j * innerStride + 1) * size), o);
    }
    let d = nd - 2;
    while (d >= 0 && ++idx[d]! === shape[d]) idx[d--] = 0;
    if (d < 0) return out;
  }
}

class TorchFile implements TorchCheckpoint {
  readonly name: string;
  readonly tensorNames: readonly string[];
  readonly metadata: Readonly<Record<string, string>> = Object.freeze({});

  constructor(
    readonly source: ByteSource,
    readonly format: 'zip' | 'legacy',
    private readonly tensors: Map<string, Tensor>,
  ) {
    this.name = source.name;
    this.tensorNames = Object.freeze([...tensors.keys()]);
  }

  /** For a non-contiguous view, [begin, end) has the tensor's size but not all of its bytes. */
  info(name: string): TensorInfo | undefined {
    return this.tensors.get(name)?.info;
  }

  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.tensors.get(name);
    if (!t) throw new MergeLabError('TENSOR_NOT_FOUND', `${this.name} has no tensor "${name}".`);
    const { shape, stride } = t.ref;
    if (numel(shape) === 0) return new Uint8Array(0);
    const size = DTYPE_SIZES[t.info.dtype];
    const first = (t.ref.storage.viewOffset + t.ref.offset) * size;
    const span = spanOf(shape, stride) * size;
    let src: Uint8Array;
    if (t.stored.deflated) {
      const all = await readZipEntry(this.source, t.stored.deflated, t.stored.offset);
      src = all.subarray(first, first + span);
    } else {
      src = await readChecked(this.source, t.stored.offset + first, span);
    }
    if (!isContiguous(shape, stride)) return gather(src, shape, stride, size);
    // Callers may modify the result and readFloat32 views it in place: it must be ours alone.
    return src.byteOffset === 0 && src.byteLength === src.buffer.byteLength ? src : src.slice();
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const raw = await this.readRaw(name);
    return decodeToFloat32(this.tensors.get(name)!.info.dtype, raw, true);
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }
}
