/**
 * Random access to the entries of a zip archive through a ByteSource, for PyTorch's zip
 * checkpoints: the end records and the central directory are read from the tail of the file and
 * each entry's data is located from its local header, so a multi-GB archive is never loaded.
 * fflate inflates the rare deflated entry; its own unzip wants the whole archive in memory, which
 * is why the directory is walked here (APPNOTE.TXT 4.3, with the zip64 records of 4.3.14-15).
 */
import { inflateSync } from 'fflate';
import { MergeLabError } from '../errors.js';
import { readChecked } from './sources.js';
import type { ByteSource } from './types.js';

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

function corrupt(source: ByteSource, why: string): never {
  throw new MergeLabError('PICKLE_INVALID', `${source.name} is a zip archive but ${why}: it is truncated or corrupt. Re-download it.`);
}

function u64(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * 2 ** 32 + dv.getUint32(at, true);
}

/** Whether `source` starts like a zip archive (a local file header). */
export async function looksLikeZip(source: ByteSource): Promise<boolean> {
  if (source.size < 4) return false;
  const b = await readChecked(source, 0, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) === LOCAL;
}

/** The archive's entries by name, from its central directory. */
export async function readZipEntries(source: ByteSource): Promise<Map<string, ZipEntry>> {
  // The end record is 22 bytes plus a comment of at most 65535 bytes (torch writes none, so the
  // short read nearly always finds it), preceded by the 20-byte zip64 locator when there is one.
  let tail: Uint8Array = new Uint8Array(0);
  let e = -1;
  for (const want of [1024, 20 + 22 + 65535]) {
    if (tail.length === source.size) break;
    tail = await readChecked(source, source.size - Math.min(source.size, want), Math.min(source.size, want));
    e = tail.length - 22;
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    while (e >= 0 && tv.getUint32(e, true) !== EOCD) e--;
    if (e >= 0) break;
  }
  if (e < 0) corrupt(source, 'its end-of-directory record is missing');
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let count = tv.getUint16(e + 10, true);
  let cdSize = tv.getUint32(e + 12, true);
  let cdOffset = tv.getUint32(e + 16, true);
  if (e >= 20 && tv.getUint32(e - 20, true) === EOCD64_LOCATOR) {
    const at = u64(tv, e - 12);
    if (at + 56 > source.size) corrupt(source, 'its zip64 end record lies outside the file');
    const rec = await readChecked(source, at, 56);
    const rv = new DataView(rec.buffer, rec.byteOffset, 56);
    if (rv.getUint32(0, true) !== EOCD64) corrupt(source, 'its zip64 end record is missing');
    count = u64(rv, 32);
    cdSize = u64(rv, 40);
    cdOffset = u64(rv, 48);
  }
  if (cdOffset + cdSize > source.size) corrupt(source, 'its central directory lies outside the file');
  const cd = await readChecked(source, cdOffset, cdSize);
  const dv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const names = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || dv.getUint32(p, true) !== CENTRAL) corrupt(source, `central directory entry ${i} is damaged`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const name = names.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // Fields that overflow 32 bits are 0xFFFFFFFF here and follow, in this order, in the zip64 extra.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (id === 0x0001) {
        let f = x + 4;
        if (size === MAX32) {
          size = u64(dv, f);
          f += 8;
        }
        if (compressedSize === MAX32) {
          compressedSize = u64(dv, f);
          f += 8;
        }
        if (localHeaderOffset === MAX32) localHeaderOffset = u64(dv, f);
      }
      x += 4 + len;
    }
    if (flags & 1) {
      throw new MergeLabError('PICKLE_INVALID', `${source.name} has an encrypted entry (${name}); torch never writes those. Use the file torch.save wrote.`);
    }
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
    p = xEnd + commentLen;
  }
  return entries;
}

/** Absolute offset of the first data byte of `entry` (the local header's extra field differs from the central one: torch pads it to align tensors). */
export async function entryDataOffset(source: ByteSource, entry: ZipEntry): Promise<number> {
  if (entry.localHeaderOffset + 30 > source.size) corrupt(source, `the header of ${entry.name} lies outside the file`);
  const h = await readChecked(source, entry.localHeaderOffset, 30);
  const hv = new DataView(h.buffer, h.byteOffset, 30);
  if (hv.getUint32(0, true) !== LOCAL) corrupt(source, `the local header of ${entry.name} is missing`);
  const start = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
  if (start + entry.compressedSize > source.size) corrupt(source, `the data of ${entry.name} runs past the end of the file`);
  return start;
}

/** The whole uncompressed content of `entry` (stored or deflated). */
export async function readZipEntry(source: ByteSource, entry: ZipEntry, dataOffset?: number): Promise<Uint8Array> {
  const start = dataOffset ?? (await entryDataOffset(source, entry));
  const raw = await readChecked(source, start, entry.compressedSize);
  if (entry.method === 0) return raw;
  if (entry.method !== 8) {
    throw new MergeLabError('PICKLE_INVALID', `${entry.name} in ${source.name} uses zip compression method ${entry.method}; only stored and deflated entries can be read. Re-save the checkpoint with torch.save.`);
  }
  let out: Uint8Array;
  try {
    out = inflateSync(raw, { out: new Uint8Array(entry.size) });
  } catch (e) {
    return corrupt(source, `${entry.name} does not inflate (${(e as Error).message})`);
  }
  if (out.length !== entry.size) corrupt(source, `${entry.name} inflates to ${out.length} bytes instead of ${entry.size}`);
  return out;
}
