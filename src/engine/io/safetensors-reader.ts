/**
 * Opens a safetensors file lazily: reads the 8-byte length and the JSON header, validates them at
 * least as strictly as the reference implementation (stricter on duplicate names), then reads one
 * tensor's byte range at a time. The whole file is never loaded, so big checkpoints open at once.
 */
import { tensorEntryProblem } from './tensor-entry.js';
import { MergeLabError, type ErrorCode } from '../errors.js';
import { decodeToFloat32, DTYPES, DTYPE_SIZES, isDType } from './dtypes.js';
import { firstDuplicateKey, scanObjectMembers } from './json-keys.js';
import { readChecked } from './sources.js';
import type { ByteSource, Checkpoint, TensorInfo } from './types.js';

/** Largest header accepted, as in the reference implementation (MAX_HEADER_SIZE). */
export const MAX_HEADER_SIZE = 100_000_000;

/** An opened safetensors file. Tensor data is read on demand, one tensor at a time. */
export interface SafetensorsFile extends Checkpoint {
  readonly source: ByteSource;
  /** Header length N from the first 8 bytes (JSON bytes, padding included). */
  readonly headerSize: number;
  /** Absolute offset of the first data byte: 8 + headerSize. */
  readonly dataStart: number;
  /**
   * All tensors in file order: ascending data offset. (The Python writer lays data out sorted by
   * dtype, then name; header key order is not meaningful, so offset order is the file's order.)
   */
  readonly tensors: readonly TensorInfo[];
}

const HINT = 'Re-download or re-export the checkpoint.';

function fail(code: ErrorCode, message: string): never {
  throw new MergeLabError(code, message);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Opens `source` as a safetensors file, reading only its first 8 + N bytes. Every problem is a
 * MergeLabError naming the file (and tensor): FILE_TOO_SMALL, HEADER_TOO_LARGE,
 * HEADER_OUT_OF_BOUNDS, HEADER_NOT_UTF8, HEADER_INVALID_JSON, HEADER_NOT_OBJECT,
 * DUPLICATE_TENSOR, METADATA_INVALID, TENSOR_ENTRY_INVALID, UNKNOWN_DTYPE, SIZE_MISMATCH,
 * OFFSETS_OVERLAP, OFFSETS_GAP, TRAILING_BYTES, FILE_TRUNCATED. With `closeOnError`, the source is
 * closed when opening fails (for sources the caller opened only for this file).
 */
export async function openSafetensors(source: ByteSource, options: { closeOnError?: boolean } = {}): Promise<SafetensorsFile> {
  try {
    return await parse(source);
  } catch (e) {
    // Sources opened on the caller's behalf (a shard, a file in a folder) must not leak handles.
    if (options.closeOnError) await source.close?.().catch(() => undefined);
    throw e;
  }
}

async function parse(source: ByteSource): Promise<SafetensorsFile> {
  const file = source.name;
  if (source.size < 8) {
    fail('FILE_TOO_SMALL', `${file} is ${source.size} bytes, too small to be a safetensors file (at least 8 bytes). ${HINT}`);
  }
  const lenBytes = await readChecked(source, 0, 8);
  const dv = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_SIZE) {
    const n = hi * 2 ** 32 + lo;
    fail('HEADER_TOO_LARGE', `${file} declares a ${n}-byte header, more than the ${MAX_HEADER_SIZE}-byte limit: it is probably not a safetensors file (a .bin/.pt pickle?) or is corrupt. ${HINT}`);
  }
  const headerSize = lo;
  const dataStart = 8 + headerSize;
  if (dataStart > source.size) {
    fail('HEADER_OUT_OF_BOUNDS', `${file} declares a ${headerSize}-byte header but the file is only ${source.size} bytes: it is truncated or not a safetensors file. ${HINT}`);
  }
  const headerBytes = await readChecked(source, 8, headerSize);
  let text: string;
  try {
    // ignoreBOM keeps a leading BOM in the text so JSON.parse rejects it, as serde_json does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    fail('HEADER_NOT_UTF8', `The header of ${file} is not valid UTF-8: the file is corrupt or not a safetensors file. ${HINT}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail('HEADER_INVALID_JSON', `The header of ${file} is not valid JSON (${(e as Error).message}): the file is corrupt or not a safetensors file. ${HINT}`);
  }
  if (!isPlainObject(header)) {
    const what = header === null ? 'null' : Array.isArray(header) ? 'an array' : `a ${typeof header}`;
    fail('HEADER_NOT_OBJECT', `The header of ${file} is ${what}, not a JSON object of tensors. ${HINT}`);
  }

  const members = scanObjectMembers(text);
  const dup = firstDuplicateKey(members);
  if (dup !== undefined) {
    fail('DUPLICATE_TENSOR', `${file} lists "${dup}" twice in its header; tensor names must be unique. ${HINT}`);
  }

  const metadata = parseMetadata(file, header['__metadata__']);
  const dataSize = source.size - dataStart;
  const tensors: TensorInfo[] = [];
  for (const { key: name } of members) {
    if (name === '__metadata__') continue;
    tensors.push(parseEntry(file, name, header[name], dataStart));
  }
  checkLayout(file, tensors, dataStart, dataSize);
  return new SafetensorsFileImpl(source, headerSize, dataStart, tensors, metadata);
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  // The reference reader models __metadata__ as Option<HashMap<String, String>>: null is "none".
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    fail('METADATA_INVALID', `__metadata__ in ${file} must be a map of strings to strings, not ${Array.isArray(raw) ? 'an array' : typeof raw}.`);
  }
  // No prototype: a tensor or key named "__proto__" is an ordinary key.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') {
      fail('METADATA_INVALID', `__metadata__ in ${file} must map strings to strings, but "${k}" is ${v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`}. Re-save the file with string metadata values.`);
    }
    out[k] = v;
  }
  return out;
}

function parseEntry(file: string, name: string, raw: unknown, dataStart: number): TensorInfo {
  const where = `tensor "${name}" in ${file}`;
  if (!isPlainObject(raw)) {
    fail('TENSOR_ENTRY_INVALID', `The header entry of ${where} must be an object {dtype, shape, data_offsets}. ${HINT}`);
  }
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') fail('TENSOR_ENTRY_INVALID', `The header entry of ${where} has no string "dtype". ${HINT}`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail('TENSOR_ENTRY_INVALID', `The "shape" of ${where} must be an array of non-negative integers, got ${JSON.stringify(shape) ?? 'nothing'}. ${HINT}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    fail('TENSOR_ENTRY_INVALID', `The "data_offsets" of ${where} must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets) ?? 'nothing'}. ${HINT}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail('TENSOR_ENTRY_INVALID', `The data_offsets [${begin}, ${end}] of ${where} end before they begin. ${HINT}`);
  if (!isDType(dtype)) {
    fail('UNKNOWN_DTYPE', `${where} has dtype "${dtype}", which merge-lab cannot read (supported: ${DTYPES.join(', ')}). Convert the checkpoint to one of these dtypes.`);
  }
  const problem = tensorEntryProblem(name, shape as number[]);
  if (problem) fail('TENSOR_ENTRY_INVALID', `${where} cannot be read: ${problem}. ${HINT}`);
  let count = 1;
  for (const d of shape as number[]) count *= d;
  const expected = count * DTYPE_SIZES[dtype];
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    fail('SIZE_MISMATCH', `${where} has shape [${(shape as number[]).join(', ')}] and dtype ${dtype}, which needs ${expected} bytes, but its data_offsets span ${end - begin} bytes. The file is corrupt. ${HINT}`);
  }
  return { name, dtype, shape: Object.freeze([...(shape as number[])]), begin: dataStart + begin, end: dataStart + end };
}

/**
 * The ranges must tile the data area exactly: sorted by offset, each starts where the previous
 * ended, the first at 0, the last at the end of the file. Sorts `tensors` in place (file order).
 */
function checkLayout(file: string, tensors: TensorInfo[], dataStart: number, dataSize: number): void {
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  let prev: TensorInfo | undefined;
  for (const t of tensors) {
    if (t.begin < at) {
      fail('OFFSETS_OVERLAP', `Tensors "${prev?.name}" and "${t.name}" in ${file} overlap (data bytes ${t.begin - dataStart}..${at - dataStart}). The file is corrupt. ${HINT}`);
    }
    if (t.begin > at) {
      const after = prev ? `after tensor "${prev.name}"` : 'at the start of the data';
      fail('OFFSETS_GAP', `${file} has ${t.begin - at} unused bytes ${after}, before "${t.name}"; tensor data must be contiguous. The file is corrupt. ${HINT}`);
    }
    at = t.end;
    prev = t;
  }
  const dataEnd = dataStart + dataSize;
  if (at > dataEnd) {
    fail('FILE_TRUNCATED', `${file} is ${dataEnd} bytes but its header needs ${at}: the file is truncated (an interrupted download or copy?). Re-download it.`);
  }
  if (at < dataEnd) {
    fail('TRAILING_BYTES', `${file} has ${dataEnd - at} bytes after the last tensor's data that its header does not account for. The file is corrupt or was appended to. ${HINT}`);
  }
}

class SafetensorsFileImpl implements SafetensorsFile {
  readonly name: string;
  readonly tensorNames: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  private readonly byName = new Map<string, TensorInfo>();

  constructor(
    readonly source: ByteSource,
    readonly headerSize: number,
    readonly dataStart: number,
    readonly tensors: readonly TensorInfo[],
    metadata: Record<string, string>,
  ) {
    this.name = source.name;
    this.metadata = Object.freeze(metadata);
    this.tensorNames = Object.freeze(tensors.map((t) => t.name));
    for (const t of tensors) this.byName.set(t.name, Object.freeze(t));
  }

  info(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.byName.get(name);
    if (!t) throw new MergeLabError('TENSOR_NOT_FOUND', `${this.name} has no tensor "${name}".`);
    if (t.end === t.begin) return new Uint8Array(0);
    const bytes = await readChecked(this.source, t.begin, t.end - t.begin);
    // Our sources return fresh arrays; a custom one might hand out a window on a shared buffer,
    // which callers must not be able to modify (and readFloat32 views in place).
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const raw = await this.readRaw(name);
    // readRaw's bytes are ours alone, so F32 data can be viewed without another copy.
    return decodeToFloat32(this.byName.get(name)!.dtype, raw, true);
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }
}
