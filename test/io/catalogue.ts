/**
 * A catalogue of broken (and tricky but valid) safetensors files, each with the error code the
 * reader must give, in the spirit of netron's test/models.json. Shared by catalogue.test.ts and
 * the Python interop test (which checks the reference implementation rejects the same files).
 */
import type { ErrorCode } from '../../src/engine/errors.js';
import { entry, rawFile } from './helpers.js';

export interface CatalogueCase {
  readonly name: string;
  readonly bytes: () => Uint8Array;
  /** Expected code; undefined means the file is valid. */
  readonly code?: ErrorCode;
  /** Extra text the message must contain (besides the file name). */
  readonly mentions?: readonly string[];
  /** The reference Python `safetensors` accepts this file (we are stricter or differ). */
  readonly pythonAccepts?: boolean;
}

const f32 = (shape: unknown, begin: unknown, end: unknown) => entry('F32', shape, begin, end);

export const CATALOGUE: readonly CatalogueCase[] = [
  // Valid files, including edge cases that a too-strict reader would reject.
  { name: 'valid: two tensors', bytes: () => rawFile({ a: f32([2], 0, 8), b: f32([1], 8, 12) }, 12) },
  { name: 'valid: empty header object, no data', bytes: () => rawFile('{}') },
  { name: 'valid: zero-size tensors with begin == end', bytes: () => rawFile({ a: f32([0], 0, 0), b: f32([1], 0, 4), c: f32([3, 0], 4, 4) }, 4) },
  { name: 'valid: scalar (shape [])', bytes: () => rawFile({ s: f32([], 0, 4) }, 4) },
  { name: 'valid: __metadata__ null', bytes: () => rawFile({ __metadata__: null, a: f32([1], 0, 4) }, 4) },
  { name: 'valid: header padded with spaces', bytes: () => rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}     ', 1) },

  // Sizes and the 8-byte length.
  { name: 'empty file', bytes: () => new Uint8Array(0), code: 'FILE_TOO_SMALL' },
  { name: '7-byte file', bytes: () => new Uint8Array(7), code: 'FILE_TOO_SMALL' },
  { name: 'huge header length (2^40)', bytes: () => rawFile('{}', 0, 2n ** 40n), code: 'HEADER_TOO_LARGE' },
  { name: 'header length just over 100 MB', bytes: () => rawFile('{}', 0, 100_000_001n), code: 'HEADER_TOO_LARGE' },
  { name: 'header longer than the file', bytes: () => rawFile('{}', 0, 100n), code: 'HEADER_OUT_OF_BOUNDS' },
  { name: 'truncated data', bytes: () => rawFile({ a: f32([4], 0, 16) }, 10), code: 'FILE_TRUNCATED', mentions: ['truncated'] },
  { name: 'trailing bytes after the last tensor', bytes: () => rawFile({ a: f32([1], 0, 4) }, 6), code: 'TRAILING_BYTES' },
  { name: 'data but no tensors', bytes: () => rawFile('{}', 3), code: 'TRAILING_BYTES' },

  // Header text.
  { name: 'non-UTF-8 header', bytes: () => rawFile(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), code: 'HEADER_NOT_UTF8' },
  { name: 'invalid JSON', bytes: () => rawFile('{"a": {"dtype": "F32",'), code: 'HEADER_INVALID_JSON' },
  { name: 'empty header', bytes: () => rawFile(''), code: 'HEADER_INVALID_JSON' },
  { name: 'header with a byte-order mark', bytes: () => rawFile('\uFEFF{}'), code: 'HEADER_INVALID_JSON' },
  { name: 'JSON array header', bytes: () => rawFile('[]'), code: 'HEADER_NOT_OBJECT' },
  { name: 'JSON null header', bytes: () => rawFile('null'), code: 'HEADER_NOT_OBJECT' },
  { name: 'JSON number header', bytes: () => rawFile('42'), code: 'HEADER_NOT_OBJECT' },

  // Names and metadata.
  {
    name: 'duplicate tensor names',
    bytes: () => rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8),
    code: 'DUPLICATE_TENSOR',
    mentions: ['"a"'],
  },
  {
    name: 'duplicate names spelled differently ("a" and "\\u0061")',
    bytes: () => rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4),
    code: 'DUPLICATE_TENSOR',
    // serde keeps the last of two equal keys and the survivor is a valid file: we are stricter.
    pythonAccepts: true,
  },
  { name: 'metadata value not a string', bytes: () => rawFile({ __metadata__: { format: 'pt', epoch: 3 }, a: f32([1], 0, 4) }, 4), code: 'METADATA_INVALID', mentions: ['epoch'] },
  { name: 'metadata is an array', bytes: () => rawFile({ __metadata__: ['pt'], a: f32([1], 0, 4) }, 4), code: 'METADATA_INVALID' },

  // Tensor entries.
  { name: 'entry is a string', bytes: () => rawFile({ a: 'F32' }), code: 'TENSOR_ENTRY_INVALID', mentions: ['"a"'] },
  { name: 'entry without data_offsets', bytes: () => rawFile({ a: { dtype: 'F32', shape: [1] } }, 4), code: 'TENSOR_ENTRY_INVALID' },
  { name: 'entry without dtype', bytes: () => rawFile({ a: { shape: [1], data_offsets: [0, 4] } }, 4), code: 'TENSOR_ENTRY_INVALID' },
  { name: 'negative shape', bytes: () => rawFile({ a: f32([-1], 0, 4) }, 4), code: 'TENSOR_ENTRY_INVALID', mentions: ['shape'] },
  { name: 'float shape', bytes: () => rawFile({ a: f32([1.5], 0, 6) }, 6), code: 'TENSOR_ENTRY_INVALID', mentions: ['shape'] },
  { name: 'string in shape', bytes: () => rawFile({ a: f32(['2'], 0, 8) }, 8), code: 'TENSOR_ENTRY_INVALID' },
  { name: 'three data offsets', bytes: () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, 4), code: 'TENSOR_ENTRY_INVALID' },
  { name: 'negative offset', bytes: () => rawFile({ a: f32([1], -4, 0) }, 4), code: 'TENSOR_ENTRY_INVALID' },
  { name: 'end before begin', bytes: () => rawFile({ a: f32([0], 4, 0) }, 4), code: 'TENSOR_ENTRY_INVALID' },
  { name: 'unknown dtype (F128)', bytes: () => rawFile({ a: entry('F128', [1], 0, 16) }, 16), code: 'UNKNOWN_DTYPE', mentions: ['F128'] },
  // U16 is a real safetensors dtype, but not one merge-lab reads.
  { name: 'unsupported dtype (U16)', bytes: () => rawFile({ a: entry('U16', [2], 0, 4) }, 4), code: 'UNKNOWN_DTYPE', pythonAccepts: true },
  { name: 'shape/size mismatch', bytes: () => rawFile({ a: f32([2, 3], 0, 20) }, 20), code: 'SIZE_MISMATCH', mentions: ['[2, 3]', '24'] },

  // Layout of the data area.
  { name: 'overlapping offsets', bytes: () => rawFile({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), code: 'OFFSETS_OVERLAP' },
  { name: 'same range twice', bytes: () => rawFile({ a: f32([1], 0, 4), b: f32([1], 0, 4) }, 4), code: 'OFFSETS_OVERLAP' },
  { name: 'zero-size tensor inside another', bytes: () => rawFile({ a: f32([2], 0, 8), b: f32([0], 4, 4) }, 8), code: 'OFFSETS_OVERLAP' },
  { name: 'gap between tensors', bytes: () => rawFile({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12), code: 'OFFSETS_GAP' },
  { name: 'data not starting at 0', bytes: () => rawFile({ a: f32([1], 4, 8) }, 8), code: 'OFFSETS_GAP', mentions: ['start'] },
];
